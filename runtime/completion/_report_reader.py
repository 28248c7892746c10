"""The Mac4-first completion gate as the Mac5 handoff reads it (SAFE-MAC5-GATE)."""
from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lume.generated.constants import FRESH_COMPLETION_GATE_REPORT, INPUT_HASHED_FILE, SAFE_MAC5_GATE
from lume.runtime.core import REPORT_CONTRACTS, get, hash_input, parameters, problems

INVARIANT = SAFE_MAC5_GATE
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


@dataclass(frozen=True)
class CompletionReport:
    """A completion-gate report that lets Mac5 start: its readiness predicate and the files it
    speaks about (the in-toto Statement's subjects)."""

    predicate: dict[str, Any]
    subjects: list[dict[str, Any]]


class CompletionRefused(Exception):
    """The completion-gate report does not let Mac5 start heavy reconstruction."""


def gate_parameters() -> dict[str, Any]:
    """SAFE-MAC5-GATE's parameters from lume:contract:safety_invariants:v1."""
    return parameters(INVARIANT)


def read_completion_report(path: Path, *, now: float | None = None) -> CompletionReport:
    """The report at `path` (its predicate and subjects) if it lets Mac5 start.

    The file must be a DSSE envelope `{payloadType, payload, signatures}` whose base64 payload
    is an in-toto Statement carrying a lume:contract:readiness_report:v2 predicate (or v1). When
    SAFE-MAC5-GATE says `signed`, the envelope must verify (lume.runtime.core.verify_report):
    strict JSON within the envelope limits, every trusted signature a strict Ed25519 signature
    over the exact payload by a key in the trust file (`trusted_keys_from`), and a report no
    older than the `completion_gate_report` row of evidence_freshness.v1 (nor dated ahead of
    this clock beyond its skew allowance); a bare predicate is unsigned and refused. The
    predicate must then validate against the contract, come from the gate SAFE-MAC5-GATE
    names (`gate_kind`), and have its `required_overall` verdict and every `required_true`
    verdict. Raises CompletionRefused naming the file and the reason.
    """
    from lume.runtime.core import MalformedEnvelope, is_envelope, read_envelope

    path = Path(path)
    rule = gate_parameters()
    evidence = rule.get("freshness", FRESH_COMPLETION_GATE_REPORT)
    try:
        doc = read_envelope(path, shape=False)
    except MalformedEnvelope as exc:
        raise CompletionRefused(f"completion-gate report {exc.reason}") from exc
    if rule["signed"]:
        from lume.runtime.core import KeyProblem, ReportRejected, limit, load_trust, verify_report

        if not is_envelope(doc):
            raise CompletionRefused(f"{path}: unsigned: {INVARIANT} needs a DSSE envelope signed by a "
                              f"trusted key, not a bare predicate (write it with `lume gate mac4-first`)")
        try:
            stmt = verify_report(doc, load_trust(), max_age_s=limit(evidence).max_age_s, now=now,
                                 evidence=evidence)
        except KeyProblem as exc:
            raise CompletionRefused(f"{path}: cannot read the trust file: {exc}") from exc
        except ReportRejected as exc:
            raise CompletionRefused(f"{path}: report rejected ({INVARIANT}): {exc.reason}") from exc
    else:
        stmt = _statement_of(doc, path)
    predicate, subjects = stmt.get("predicate"), stmt.get("subject")
    contract = _contract_of(predicate)
    found = problems(predicate, get(contract), file=str(path))
    if found:
        raise CompletionRefused(f"{path}: not a valid {contract} report: "
                          + "; ".join(f"{p.path}: {p.message}" for p in found))
    kind = (predicate.get("gate") or {}).get("kind")
    if kind != rule["gate_kind"]:
        raise CompletionRefused(f"{path}: $.gate.kind is {kind!r}; Mac5 needs a {rule['gate_kind']} "
                          f"completion-gate report ({INVARIANT})")
    verdicts = predicate["verdicts"]
    if verdicts["overall"] != rule["required_overall"]:
        raise CompletionRefused(f"{path}: $.verdicts.overall is {verdicts['overall']!r}, "
                          f"{INVARIANT} needs {rule['required_overall']!r}")
    for name in rule["required_true"]:
        if verdicts.get(name) is not True:
            raise CompletionRefused(f"{path}: $.verdicts.{name} is {json.dumps(verdicts.get(name))}, "
                              f"{INVARIANT} needs true")
    return CompletionReport(predicate, subjects if isinstance(subjects, list) else [])


def binding_problem(report: CompletionReport, bundle_dir: Path) -> str | None:
    """Why a completion-gate report does not speak about this bundle, or None.

    The gate audits one take's device topology (SAFE-MAC5-GATE `topology_file`) and signs its
    digest as a subject. A report must be bound to everything the take holds: when the bundle
    Mac5 is about to process carries that sidecar, the report must name it (a subject whose
    last path components are exactly `topology_file`) and sign its bytes; a report that names
    none, or only another take's, is refused. A bundle without the sidecar has nothing to
    compare (the report's other subjects are Mac4's live documents) and is not refused here.
    """
    tail = gate_parameters()["topology_file"]
    local = Path(bundle_dir) / tail
    if not os.path.lexists(local):
        return None
    audited = [s for s in report.subjects if _names_file(str(s["name"]), tail)]
    digest, _ = hash_input(local, INPUT_HASHED_FILE)  # a FIFO or a folder there: InputError
    if not audited:
        return (f"the report is not bound to this take: {bundle_dir.name} holds {tail} "
                f"(sha256 {digest}) but the report names no {tail} subject ({INVARIANT})")
    if all(s["digest"]["sha256"] != digest for s in audited):
        return (f"the completion gate audited another take: {tail} of {bundle_dir.name} has sha256 "
                f"{digest}, the report signed {audited[0]['digest']['sha256']} ({INVARIANT})")
    return None


def _names_file(name: str, tail: str) -> bool:
    """Whether subject `name` ends with exactly the path components of `tail` (so
    `x/xdevice_topology.json` is not `x/device_topology.json`); either separator."""
    want = PurePosixPath(tail).parts
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return len(parts) >= len(want) and parts[-len(want):] == want


def _contract_of(predicate: Any) -> str:
    """The readiness_report version a predicate names (v2, the one written, when it names none)."""
    schema = predicate.get("schema") if isinstance(predicate, dict) else None
    return next((c for c in REPORT_CONTRACTS if get(c).match.get("schema") == schema), REPORT_CONTRACTS[0])


def _statement_of(doc: Any, path: Path) -> dict[str, Any]:
    """The in-toto Statement inside a DSSE envelope, or one around a bare predicate (its v1
    `subjects`, if any, as the Statement's: a bare v2 predicate names no file)."""
    if not (isinstance(doc, dict) and "payload" in doc and "payloadType" in doc):
        listed = doc.get("subjects") if isinstance(doc, dict) else None  # a bare predicate, or garbage
        return {"subject": listed if isinstance(listed, list) else [], "predicate": doc}
    if not isinstance(doc.get("signatures"), list):
        raise CompletionRefused(f"{path}: DSSE envelope without a `signatures` list")
    try:
        stmt = json.loads(base64.b64decode(doc["payload"], validate=True))
    except (TypeError, ValueError, binascii.Error) as exc:
        raise CompletionRefused(f"{path}: DSSE payload is not base64 JSON: {exc}") from exc
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise CompletionRefused(f"{path}: DSSE payload is not an in-toto Statement ({STATEMENT_TYPE})")
    types = [get(c).id for c in REPORT_CONTRACTS]
    if stmt.get("predicateType") not in types:
        raise CompletionRefused(f"{path}: predicateType is {stmt.get('predicateType')!r}, "
                          f"expected {' or '.join(repr(t) for t in types)}")
    return stmt
