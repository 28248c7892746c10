"""Property-check proofs remembered for `lume verify --quick` (lume:contract:property_proof:v1).

A property check runs the rig's safety code over generated inputs at a fixed seed and budget:
its verdict is a function of the code, the contracts, the installed dependencies, the
interpreter and the profile, never of the root. A passing run is remembered as a signed
property_proof.v1 document whose `proof_key` digests exactly those inputs. A quick run reuses
it only when it is signed by the key signing this run's report, names the key computed now and
is younger than its evidence_freshness.v1 row; anything else runs the check again. Nothing
here can make a check pass that did not pass: a proof that does not verify is ignored.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import site
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from lume.generated.constants import FRESH_PROPERTY_PROOF
from lume.generated.models.readiness_report_v1 import Evidence as EvidenceRow
from lume.runtime.core import (
    CheckResult,
    Evidence,
    InputError,
    ReportRejected,
    canonical_json,
    dumps,
    freshness,
    held,
    now_iso,
    read_envelope,
    sign_statement,
    verify_statement,
    write_below,
)

from ._digests import cache_dir
from ._predicate import contracts_fingerprint, tool
from ._properties import budget, profile_name

if TYPE_CHECKING:
    from lume.runtime.core import SigningKey

    from ._framework import Verifier

CONTRACT = "property_proof.v1"
SCHEMA = "lume.property_proof.v1"
FOLDER = "proofs"
# The installed packages whose files the proofs depend on (the code digest covers all of them).
PACKAGES = ("lume.contracts", "lume.generated", "lume.runtime", "lume.verifiers", "lume.fixtures")


def _package_files() -> list[tuple[str, Path]]:
    files = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        for top in (spec.submodule_search_locations or []) if spec else []:
            for folder, dirs, names in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
                rel = Path(folder).relative_to(top).as_posix()
                files.extend((f"{name}/{rel}/{n}", Path(folder, n)) for n in names
                             if not n.endswith((".pyc", ".pyo")))
    return sorted(files)


def code_digest() -> str:
    """SHA-256 over the path and bytes of every file of the installed lume packages."""
    h = hashlib.sha256()
    for rel, path in _package_files():
        data = path.read_bytes()
        h.update(b"%s\0%d\0" % (rel.encode(), len(data)))
        h.update(data)
    return h.hexdigest()


def dependencies_digest() -> str:
    """SHA-256 over the distributions installed in the interpreter's site folders, with their
    versions (their metadata folder names: an upgrade, a downgrade or a new package changes
    it). Only site folders count, so the folder `lume` is started from does not."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    names: set[str] = set()
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                names.update(e.name for e in it if e.name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


def proof_inputs() -> dict[str, str]:
    """What a property verdict depends on, as property_proof.v1 `inputs`."""
    return {"code": code_digest(), "contracts": contracts_fingerprint(),
            "dependencies": dependencies_digest(),
            "python": f"{platform.python_implementation()} {' '.join(sys.version.split())}",
            "profile": profile_name()}


@dataclass
class Proofs:
    """The proofs of one run, signed and checked with `key` (this run's report key)."""

    key: "SigningKey"
    folder: Path | None = None
    _inputs: dict[str, str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.folder = self.folder or cache_dir() / FOLDER

    @property
    def inputs(self) -> dict[str, str]:
        if self._inputs is None:  # computed once per run, and only when a property check is reached
            self._inputs = proof_inputs()
        return self._inputs

    @property
    def proof_key(self) -> str:
        return hashlib.sha256(canonical_json(self.inputs)).hexdigest()

    def path(self, check_id: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{check_id}.json"

    def _subjects(self, check_id: str) -> list[dict[str, Any]]:
        return [{"name": f"property-proof:{check_id}", "digest": {"sha256": self.proof_key}}]

    def remember(self, v: "Verifier", result: CheckResult) -> None:
        """Remember a passing check (best effort: a cache that cannot be written costs a rerun)."""
        if result.status != "pass":
            return
        b = budget(v.id)
        doc = {"schema": SCHEMA, "proven_at": now_iso(), "tool": tool(), "check": v.id,
               "proof_key": self.proof_key, "inputs": self.inputs, "budget": b.record(),
               "status": "pass", "duration_ms": round(result.duration_ms, 3),
               "evidence": [e.to_dict() for e in result.evidence]}
        envelope = sign_statement(doc, self._subjects(v.id), self.key, contract=CONTRACT)
        path = self.path(v.id)
        try:  # the proofs folder sits in the cache folder, which others may write: no link is followed
            write_below(path.parent.parent, f"{path.parent.name}/{path.name}", dumps(envelope).encode())
        except OSError:
            pass

    def recall(self, v: "Verifier") -> CheckResult | None:
        """The remembered result of `v`, or None when no proof here may stand in for a run."""
        start = time.perf_counter()
        path = self.path(v.id)
        try:
            envelope = read_envelope(path)
            stmt = verify_statement(envelope, [self.key.trust_entry()], contract=CONTRACT,
                                    where=str(path))
        except (OSError, InputError, ReportRejected):
            return None
        doc = stmt["predicate"]
        if (doc["check"] != v.id or doc["proof_key"] != self.proof_key
                or stmt["subject"] != self._subjects(v.id)):
            return None
        fresh = freshness(FRESH_PROPERTY_PROOF, doc, source=str(path))
        rows = [_row(r) for r in doc["evidence"]]
        if not fresh.fresh or any(r is None for r in rows):
            return None
        age = fresh.describe()
        origin = held(f"remembered: this check passed in the run of {doc['proven_at']} with the same "
                      f"code, contracts, dependencies and budget, and was not run again (--quick); {age}",
                      file=None, field=f"proof:{v.id}",
                      expected={"proof_key": self.proof_key, "max_age_s": fresh.limit.max_age_s},
                      found={"proof_key": doc["proof_key"], "proven_at": doc["proven_at"],
                             "age_s": round(fresh.age_s or 0.0, 3)})
        return CheckResult(v.id, v.title, "pass", list(v.invariants), [origin, *rows],
                           (time.perf_counter() - start) * 1000, v.domain)


def _row(d: Any) -> Evidence | None:
    """A remembered evidence row: a readiness_report.v1 `Evidence` that held (no `outcome`),
    or None for anything else."""
    try:
        row = EvidenceRow.model_validate(d)
    except ValidationError:
        return None
    if row.outcome is not None:
        return None
    return Evidence.from_dict(row.model_dump())
