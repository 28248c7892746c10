"""The readiness predicate (lume:contract:readiness_report:v2) built from check results.

It names the tool version, every contract ($id, file, sha256) and the git commit of the
contracts, the root and every check (the files it speaks about, with their digests, are the
signed Statement's subjects: `subjects_of`); the verdicts follow the contract's rules:
any `fail` or `inconclusive` check makes `overall` red, a check of the default set that was
not selected makes it `partial` (rig_safe and data_sound null, never green), and `green`
needs at least one check of each domain (rig safety and data soundness) with every check
passing. The predicate lists what did not run (`not_run`), what each domain verdict rests on
(`verdicts.rests_on`) and, when it is not green, why (`causes`, one line per cause).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from lume.generated.registry import FILES as CONTRACT_FILES
from lume.runtime.core import (
    contract_ref,
    contracts_dir,
    load_all,
    now_iso,
)

if TYPE_CHECKING:
    from ._framework import CheckResult

REPORT_SCHEMA = "lume.readiness_report.v2"


def tool() -> dict[str, str]:
    try:
        version = importlib.metadata.version("lume")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return {"name": "lume", "version": version}


def _contract_files() -> list[Path]:
    """The files load_all() reads, in its order: contracts by name, then meta-schemas."""
    folder = contracts_dir()
    return sorted(folder.glob("*.yaml")) + sorted((folder / "meta").glob("*.yaml"))


@functools.cache
def contract_refs() -> list[dict[str, str]]:
    """Every contract and meta-schema with its `$id`, file and SHA-256 of its bytes.

    The `$id` of a file whose bytes are those codegen indexed (`lume.generated.registry.FILES`,
    part of the installed code) comes from that index, so a run hashes the ~100 contract files
    instead of parsing them; any other file (a contract edited since `nox -s codegen`) makes this
    run parse them all. Nothing is read from the cache folder, which others may write: a report
    never cites an `$id` that the contract files or the installed code do not state.
    """
    folder = contracts_dir()
    refs = []
    for path in _contract_files():
        rel = f"contracts/{path.relative_to(folder).as_posix()}"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        known = CONTRACT_FILES.get(rel)
        if known is None or known["sha256"] != digest:
            return [contract_ref(c, with_file=True) for c in load_all()]
        refs.append({"id": known["id"], "file": rel, "sha256": digest})
    return refs


@functools.cache
def contracts_fingerprint() -> str:
    """One digest over every contract and the tool version (keys the quick-mode memo cache)."""
    h = hashlib.sha256(tool()["version"].encode())
    for ref in contract_refs():
        h.update(f"{ref['id']}={ref['sha256']};".encode())
    return h.hexdigest()


@functools.cache
def contracts_commit() -> str | None:
    """HEAD of the git checkout the contracts are read from, when they are tracked there."""
    folder = contracts_dir()
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "readiness_report.v1.yaml"],
                                 cwd=folder, capture_output=True, timeout=10)
        if tracked.returncode != 0:
            return None
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit if head.returncode == 0 and len(commit) in (40, 64) else None


@dataclass(frozen=True)
class NotRun:
    """A check of the default set that did not run (readiness_report.v1 `NotRun`, used by v2).

    `not_selected` (left out by `--only`) makes a run partial; `not_applicable` (the root holds
    none of its inputs) and `no_rig` (a live rig probe, no rig named) do not.
    """

    id: str
    kind: str  # not_selected | not_applicable | no_rig
    reason: str
    domain: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "kind": self.kind, "reason": self.reason}
        if self.domain:
            out["domain"] = self.domain
        return out


DOMAIN_VERDICT = {"rig": "rig_safe", "data": "data_sound"}


def verdicts(checks: Iterable["CheckResult"], *, not_run: Iterable[NotRun] = (),
             completion_ready: bool | None = None,
             mac5_heavy_reconstruction_allowed: bool | None = None) -> dict[str, Any]:
    """The readiness_report verdicts of a run: complete, or partial, never silently GREEN.

    A domain verdict is false when one of its checks did not pass (or none ran), null when the
    run is partial (a check of the default set was not selected) and nothing of it failed,
    true otherwise; `overall` is red when any check did not pass, partial when nothing failed
    but the run is partial, green when both domains hold. `rests_on` lists the checks behind
    each domain verdict.
    """
    checks = list(checks)
    partial = any(n.kind == "not_selected" for n in not_run)

    def sound(domain: str) -> bool | None:
        mine = [c for c in checks if c.domain == domain]
        if any(c.status != "pass" for c in mine):
            return False
        if partial:
            return None
        return bool(mine)

    rig_safe, data_sound = sound("rig"), sound("data")
    if not checks or any(c.status != "pass" for c in checks):
        overall = "red"
    elif partial:
        overall = "partial"
    else:
        overall = "green" if rig_safe and data_sound else "red"
    return {"rig_safe": rig_safe, "data_sound": data_sound, "overall": overall,
            "completion_ready": completion_ready,
            "mac5_heavy_reconstruction_allowed": mac5_heavy_reconstruction_allowed,
            "rests_on": {DOMAIN_VERDICT[d]: [c.id for c in checks if c.domain == d] for d in ("rig", "data")}}


def _first(items: list[Any], how_many: int) -> str:
    more = f" (+{how_many - 1} more)" if how_many > 1 else ""
    e = items[0]
    where = ": ".join(x for x in (e.file, e.field) if x)
    return f"{where + ': ' if where else ''}{e.message}{more}"


def causes(checks: Iterable["CheckResult"], verdict: dict[str, Any],
           not_run: Iterable[NotRun] = ()) -> list[str]:
    """Why a report is red or partial, one line per cause (empty when green)."""
    if verdict["overall"] == "green":
        return []
    checks, not_run = list(checks), list(not_run)
    out = []
    for c in checks:
        if c.status == "fail":
            bad = [e for e in c.evidence if e.ok is False]
            out.append(f"{c.id} failed: {_first(bad, len(bad))}" if bad else f"{c.id} failed")
        elif c.status == "inconclusive":
            open_ = [e for e in c.evidence if e.ok is not True]
            out.append(f"{c.id} inconclusive: {_first(open_, len(open_))}" if open_
                       else f"{c.id} inconclusive")
    skipped = [n.id for n in not_run if n.kind == "not_selected"]
    if skipped:
        out.append(f"partial: {len(skipped)} check(s) of the default set did not run (not selected "
                   f"with --only): {', '.join(skipped)}")
    if not checks:
        out.append("no check ran")
    for domain, name in DOMAIN_VERDICT.items():
        if checks and not any(c.domain == domain for c in checks) and not skipped:
            out.append(f"{name} rests on no check: no {domain} check ran on this root")
    return out or [f"verdict {verdict['overall']}"]


def subjects_of(digests: dict[str, str]) -> list[dict[str, Any]]:
    """The in-toto Statement subjects of a report: every file by name, with its digest."""
    return [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(digests.items())]


def build_predicate(root: str | Path, checks: Iterable["CheckResult"], *,
                    generated_at: str | None = None,
                    gate: dict[str, Any] | None = None, not_run: Iterable[NotRun] = (),
                    **gate_verdicts: bool | None) -> dict[str, Any]:
    """A complete readiness_report.v2 predicate (signed with its subjects: `seal_report`).
    `gate_verdicts` are completion_ready and mac5_heavy_reconstruction_allowed (None when no
    gate ran); `not_run` the checks of the default set that did not run (a `not_selected` one
    makes the report partial)."""
    checks, not_run = list(checks), list(not_run)
    verdict = verdicts(checks, not_run=not_run, **gate_verdicts)
    predicate: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "generated_at": generated_at or now_iso(),
        "tool": tool(),
        "contracts": contract_refs(),
        "contracts_commit": contracts_commit(),
        "root": str(root),
        "checks": [c.to_dict() for c in checks],
        "verdicts": verdict,
        "not_run": [n.to_dict() for n in not_run],
        "causes": causes(checks, verdict, not_run),
    }
    if gate is not None:
        predicate["gate"] = gate
    return predicate

