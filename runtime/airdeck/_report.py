"""The dry-run / self-play report (airdeck_dry_run_report.v2), signed, and the live-mode
precondition it opens.

A dry run's report is the predicate of an in-toto Statement in a DSSE envelope (Ed25519, like
readiness reports) whose subjects are its inputs: `sign_dry_run`. Live mode accepts it only
when it verifies against the trust file, is green, fresh (the `dry_run_report` row of
evidence_freshness.v1), names the digest of the manifest live mode was given, and was run
against the installed rule contracts: `live_report_problem`.
"""
from __future__ import annotations

from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

from lume.generated.constants import FRESH_DRY_RUN_REPORT, INPUT_HASHED_FILE
from lume.runtime.core import (
    ReportRejected,
    SigningKey,
    freshness,
    get,
    hash_input,
    is_envelope,
    now_iso,
    problems,
    sign_statement,
    verify_statement,
)

from ._audit import audit
from ._dispatch_gate import Decision
from ._manifest import PromotedManifest, consistency_problems
from ._midi_map import as_records
from ._rules import COOLDOWN, HOLD, PRESENCE, PROMOTED, SAFE_STOP, THRESHOLD, Rules, contract_digests

SCHEMA = "lume.airdeck.dry_run_report.v2"
CONTRACT = "airdeck_dry_run_report.v2"


def file_ref(path: Path, records: int) -> dict[str, Any]:
    return {"path": str(path), "sha256": hash_input(path, INPUT_HASHED_FILE)[0], "records": records}


def _version() -> str:
    try:
        return metadata.version("lume")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _check(cid: str, ok: bool, invariants: list[str], detail: str) -> dict[str, Any]:
    return {"id": cid, "status": "pass" if ok else "fail", "invariants": invariants,
            "detail": detail}


def build_report(decisions: list[Decision], *, rules: Rules, manifest: PromotedManifest | None,
                 events: dict[str, Any], bodytruth: dict[str, Any] | None,
                 decision_log: dict[str, Any] | None, machine: str | None) -> dict[str, Any]:
    """The report of one dry run; the verdict is green only when every check passes."""
    records = [d.to_record() for d in decisions]
    commands: dict[str, dict[str, int]] = {}
    refusals: Counter[str] = Counter()
    midi_plan: dict[str, list[dict[str, Any]]] = {}
    for d in decisions:
        if d.command is not None:
            c = commands.setdefault(d.command, {"dispatched": 0, "refused": 0})
            c[d.decision] += 1
        if d.dispatched:
            midi_plan.setdefault(d.command, as_records(d.midi) if d.midi else [])
        elif d.invariant is not None:
            refusals[d.invariant] += 1
    dispatched = sum(1 for d in decisions if d.dispatched)

    checks = [_check("events_decided", bool(decisions), [],
                     f"{len(decisions)} gesture events decided" if decisions
                     else "no gesture events: nothing was exercised")]
    violations = audit(records, rules, manifest)
    checks.append(_check("decisions_audit", not violations,
                         [PRESENCE, THRESHOLD, HOLD, COOLDOWN, PROMOTED, SAFE_STOP],
                         "; ".join(violations[:10]) if violations
                         else f"no violation in {len(records)} decisions"))
    if manifest is None:
        checks.append(_check("promoted_manifest", False, [PROMOTED],
                             "no promoted manifest: run with --promoted MANIFEST so this report "
                             "can open live mode"))
    else:
        problems = consistency_problems(manifest, rules)
        checks.append(_check("promoted_manifest", not problems, [PROMOTED, THRESHOLD, HOLD, COOLDOWN],
                             "; ".join(problems) if problems else
                             f"{len(manifest.gestures)} promoted gestures consistent with "
                             "labels.v1, safety_invariants.v1 and airdeck_midi_map.v1"))
        done = {rules.canonical(d.label) for d in decisions if d.dispatched}
        missing = sorted(set(manifest.gestures) - done)
        checks.append(_check("promoted_gestures_exercised", not missing, [],
                             f"never dispatched in this run: {', '.join(missing)}" if missing
                             else "every promoted gesture was dispatched at least once"))
    ok = all(c["status"] == "pass" for c in checks)
    return {
        "schema": SCHEMA,
        "generated_at": now_iso(),
        "tool": {"name": "lume", "version": _version()},
        "dry_run": True,
        "simulated_authority": rules.authority_machine,
        "machine": machine,
        "verdict": "green" if ok else "red",
        "promoted_manifest": None if manifest is None else {
            "path": manifest.path, "sha256": manifest.sha256, "gestures": list(manifest.gestures),
            "signature": dict(manifest.signature)},
        "inputs": {"events": events, "bodytruth": bodytruth},
        "contracts": contract_digests(),
        "decision_log": decision_log,
        "counts": {"events": len(decisions), "dispatched": dispatched,
                   "refused": len(decisions) - dispatched},
        "commands": commands,
        "refusals_by_invariant": dict(sorted(refusals.items())),
        "midi_plan": midi_plan,
        "checks": checks,
        "decisions": [{k: r[k] for k in ("timestamp_ms", "source_id", "label", "phase", "command",
                                         "deck", "decision", "invariant", "reason")}
                      for r in records],
    }


def report_subjects(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The Statement subjects of a dry-run report: its input files (the manifest it ran against is
    named by its digest in `promoted_manifest`, not by the bytes of its file)."""
    refs = [doc["inputs"]["events"], doc["inputs"]["bodytruth"], doc["decision_log"]]
    seen: dict[str, str] = {}
    for ref in refs:
        if ref is not None:
            seen.setdefault(str(ref["path"]), ref["sha256"])
    return [{"name": name, "digest": {"sha256": digest}} for name, digest in seen.items()]


def sign_dry_run(doc: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The signed statement of a dry-run report (DSSE envelope, SAFE-SIGNED-EVIDENCE)."""
    return sign_statement(doc, report_subjects(doc), key, contract=CONTRACT)


def live_report_problem(report: Any, manifest: PromotedManifest, *,
                        trust: list[dict[str, Any]] | None = None, now: float | None = None) -> str | None:
    """Why a dry-run report does not open live mode for this manifest, or None when it does:
    it must be a signed statement by a trusted key, green, fresh, name this manifest's digest
    and have been run against the installed rule contracts."""
    if not is_envelope(report):
        found = problems(report, get(CONTRACT))
        shape = f"not a valid {CONTRACT}: {found[0]}" if found else "a bare document"
        return (f"the dry-run report is not signed ({shape}): run `lume airdeck replay EVENTS "
                f"--promoted {manifest.path} -o REPORT`, which signs its report")
    try:
        report = verify_statement(report, trust, contract=CONTRACT)["predicate"]
    except ReportRejected as exc:
        return f"the dry-run report does not count: {exc.reason}"
    if report["verdict"] != "green":
        failed = [c["id"] for c in report["checks"] if c["status"] != "pass"]
        return f"the dry-run report is red (failed: {', '.join(failed) or 'none listed'})"
    fresh = freshness(FRESH_DRY_RUN_REPORT, report, now=now, source="the dry-run report")
    if not fresh.fresh:
        return f"{fresh.problem}: run the dry run again"
    ran = report["promoted_manifest"]
    if ran is None or ran["sha256"] != manifest.sha256:
        return (f"the dry-run report was run against manifest sha256 "
                f"{ran['sha256'] if ran else None}, not {manifest.sha256} ({manifest.path}): "
                "run the dry run again for this manifest")
    now_refs = {c["id"]: c["sha256"] for c in contract_digests()}
    then = {c["id"]: c["sha256"] for c in report["contracts"]}
    changed = sorted(i for i in now_refs if then.get(i) != now_refs[i])
    if changed:
        return f"the rule contracts changed since the dry run ({', '.join(changed)}): run it again"
    return None
