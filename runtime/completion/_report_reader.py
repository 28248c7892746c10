"""The Mac4-first completion gate as the Mac5 handoff reads it (SAFE-MAC5-GATE)."""
from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from lume.generated.constants import FRESH_COMPLETION_GATE_REPORT, INPUT_HASHED_FILE, SAFE_MAC5_GATE
from lume.runtime.core import get, hash_input, parameters, problems

INVARIANT = SAFE_MAC5_GATE
REPORT = "readiness_report.v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


class CompletionRefused(Exception):
    """The completion-gate report does not let Mac5 start heavy reconstruction."""


def gate_parameters() -> dict[str, Any]:
    """SAFE-MAC5-GATE's parameters from lume:contract:safety_invariants:v1."""
    return parameters(INVARIANT)


def read_completion_report(path: Path, *, now: float | None = None) -> dict[str, Any]:
    """Return the readiness predicate of the report at `path` if it lets Mac5 start.

    The file must be a DSSE envelope `{payloadType, payload, signatures}` whose base64 payload
    is an in-toto Statement carrying a lume:contract:readiness_report:v1 predicate. When
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
        predicate = stmt["predicate"]
    else:
        predicate = _predicate_of(doc, path)
    found = problems(predicate, get(REPORT), file=str(path))
    if found:
        raise CompletionRefused(f"{path}: not a valid {REPORT} report: "
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
    return predicate


def binding_problem(predicate: dict[str, Any], bundle_dir: Path) -> str | None:
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
    audited = [s for s in predicate.get("subjects") or [] if _names_file(str(s["name"]), tail)]
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


def _predicate_of(doc: Any, path: Path) -> Any:
    """The predicate itself, or the one inside a DSSE envelope's in-toto Statement."""
    if not (isinstance(doc, dict) and "payload" in doc and "payloadType" in doc):
        return doc  # a bare predicate (or garbage, which the contract check reports)
    if not isinstance(doc.get("signatures"), list):
        raise CompletionRefused(f"{path}: DSSE envelope without a `signatures` list")
    try:
        stmt = json.loads(base64.b64decode(doc["payload"], validate=True))
    except (TypeError, ValueError, binascii.Error) as exc:
        raise CompletionRefused(f"{path}: DSSE payload is not base64 JSON: {exc}") from exc
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise CompletionRefused(f"{path}: DSSE payload is not an in-toto Statement ({STATEMENT_TYPE})")
    if stmt.get("predicateType") != get(REPORT).id:
        raise CompletionRefused(f"{path}: predicateType is {stmt.get('predicateType')!r}, "
                          f"expected {get(REPORT).id!r}")
    return stmt.get("predicate")
