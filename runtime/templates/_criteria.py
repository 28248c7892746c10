"""Seed 002's eight live-safe criteria and the proof-matrix checks, per command gesture.

The criteria's ids, order and sentences come from promotion_policy.v1 `criteria`; each id has
one function here that says `met` or `missing` with what it checked and the files it rests
on. `report_written` and `on_device_load_verified` can only be decided once the proof matrix
and the dry-run report are on disk and the gate's own loader has read the manifest; the
promotion step records them through `Assessment.set`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.airdeck import Rules, as_records
from lume.runtime.core import contract_ref, get, hash_input, rule_data

from . import _policy as policy
from ._bundle import Bundle
from ._proof import EXAMPLE, Column, Matrix

MET, MISSING = "met", "missing"
PASS, FAIL = "pass", "fail"
RECOGNISER = "lume.runtime.airdeck.recognize"
GESTURE_RULES = "airdeck_gestures.v1"
# the checks of promotion_candidates.v1 `Candidate.checks`, in order
CHECKS = ("label_table_promoted", "min_physical_examples", "zero_false_triggers", "dry_run_green")


@dataclass
class Assessment:
    """One gesture's checks and criteria as they are decided."""

    label: str
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    criteria: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self, cid: str, ok: bool, detail: str) -> None:
        self.checks[cid] = {"id": cid, "status": PASS if ok else FAIL, "detail": detail}

    def set(self, cid: str, ok: bool, detail: str, evidence: list[dict[str, Any]] | None = None) -> None:
        self.criteria[cid] = {"status": MET if ok else MISSING, "detail": detail,
                              "evidence": evidence or []}

    def ok(self, *ids: str) -> bool:
        """All of the named checks pass and criteria are met (all decided so far when none named)."""
        for cid in ids or (*self.checks, *self.criteria):
            got = self.checks.get(cid) or self.criteria.get(cid)
            if got is None or got["status"] not in (PASS, MET):
                return False
        return True

    def failed(self) -> list[str]:
        """Checks and criteria decided so far that did not pass."""
        return [cid for cid, got in (*self.checks.items(), *self.criteria.items())
                if got["status"] not in (PASS, MET)]

    def missing(self) -> list[str]:
        failed = [c for c in CHECKS if self.checks.get(c, {}).get("status") != PASS]
        return failed + [c["id"] for c in policy.criteria()
                         if self.criteria.get(c["id"], {}).get("status") != MET]

    def to_docs(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        checks = [self.checks.get(c) or {"id": c, "status": FAIL, "detail": "not checked"} for c in CHECKS]
        crit = []
        for c in policy.criteria():
            got = self.criteria.get(c["id"]) or {"status": MISSING, "detail": "not checked", "evidence": []}
            crit.append({"id": c["id"], "order": c["order"], "sentence": c["sentence"], **got})
        return checks, crit


def _sha_file(path: Path) -> str:
    return hash_input(path, INPUT_HASHED_FILE)[0]


# ------------------------------------------------------------------------------ checks
def label_table_promoted(a: Assessment, rules: Rules) -> None:
    res = rules.resolve(a.label, None)
    if res.problem is None:
        t = res.target
        a.check("label_table_promoted", True, f"{a.label} -> {t.command}"
                + (f" deck {t.deck}" if t.deck else "") + " is promoted in labels.v1")
    else:
        a.check("label_table_promoted", False, f"{res.problem} (promoting a label is a reviewed "
                "labels.v1 change; this step never promotes a candidate)")


def thresholds(a: Assessment, col: Column) -> None:
    c = policy.command()
    need = c["min_physical_examples"]
    a.check("min_physical_examples", col.examples >= need,
            f"{col.examples} physical example clip(s) of kinds {', '.join(c['example_clip_kinds'])}, "
            f"needs {need}")
    if col.negatives < c["min_negative_windows"]:
        a.check("zero_false_triggers", False,
                f"{col.negatives} negative window(s) covered by the camera, needs "
                f"{c['min_negative_windows']}: zero false triggers is not shown")
    else:
        a.check("zero_false_triggers", col.false_triggers <= c["max_false_triggers"],
                f"{col.false_triggers} dispatch(es) of {a.label} in {col.negatives} negative "
                f"window(s) (allowed {c['max_false_triggers']})")


# ------------------------------------------------------------------------------ criteria
def source_data_archived(a: Assessment, bundle: Bundle, windows: list[dict[str, Any]],
                         cache: dict[str, tuple[bool, str, list[dict[str, Any]]]]) -> None:
    sources = sorted({w["source_id"] for w in windows})
    if not sources:
        a.set("source_data_archived", False, "no physical example clips: no source data to archive")
        return
    ok, details, evidence = True, [], []
    for sid in sources:
        if sid not in cache:
            cache[sid] = _archived(bundle, sid)
        good, detail, ev = cache[sid]
        ok &= good
        details.append(detail)
        evidence += ev
    a.set("source_data_archived", ok, "; ".join(details), evidence)


def _archived(bundle: Bundle, source_id: str) -> tuple[bool, str, list[dict[str, Any]]]:
    entry = bundle.source(source_id)
    if entry is None:
        return False, f"{source_id} is not a source of bundle.json", []
    if entry.get("status") != "complete":
        return False, f"{source_id} is {entry.get('status')!r} in bundle.json, not complete", []
    folder = bundle.pose_coach_folder(entry) if entry["source_type"] == "guided_pose_clip" \
        else bundle.source_folder(entry)
    files = {f["path"]: f for f in entry.get("files") or []}
    read = ["manifest.json", entry["training_jsonl_path"]] if entry["source_type"] == "guided_pose_clip" \
        else [entry.get("labels_path")]
    if folder is None:
        return False, f"{source_id}: its files are not readable on this machine", []
    evidence, bad = [], []
    for rel in read:
        ref = files.get(rel)
        if ref is None:
            bad.append(f"{rel} has no checksum in bundle.json")
            continue
        digest = _sha_file(folder / rel)
        evidence.append({"path": bundle.rel(folder / rel), "sha256": digest})
        if digest != ref["sha256"]:
            bad.append(f"{rel} changed since it was archived (sha256 {digest[:12]}…, "
                       f"bundle.json {ref['sha256'][:12]}…)")
    missing = [rel for rel in files if not (folder / rel).is_file()]
    if missing:
        bad.append(f"{len(missing)} recorded file(s) absent, e.g. {missing[0]}")
    if bad:
        return False, f"{source_id}: " + "; ".join(bad), evidence
    return True, (f"{source_id}: complete in bundle.json, {len(files)} file(s) recorded with "
                  f"sha256, the {len(read)} read by the analysis match"), evidence


def rule_code(a: Assessment) -> None:
    c = get(GESTURE_RULES)
    rows = {g["label"]: g for g in rule_data(GESTURE_RULES)["gestures"]}
    row = rows.get(a.label)
    ref = contract_ref(c, with_file=True)
    ev = [{"path": ref["file"], "sha256": ref["sha256"]}]
    if row is None:
        a.set("training_or_rule_code_identified", False,
              f"{GESTURE_RULES} has no recognition row for {a.label}: no detector emits it", ev)
    else:
        zones = ", ".join(f"{h} in {z}" for h, z in row["zones"].items()) or "any place"
        a.set("training_or_rule_code_identified", True,
              f"{GESTURE_RULES} row {a.label} (raised: {', '.join(row['raised'])}; {zones}), "
              f"run by {RECOGNISER}", ev)


def runtime_artifact(a: Assessment, rules: Rules) -> None:
    res = rules.resolve(a.label, None)
    if res.problem is not None:
        a.set("runtime_artifact_identified", False, f"no manifest entry can be built: {res.problem}")
        return
    t = res.target
    midi = "gate-internal, sends no MIDI" if t.internal else \
        "MIDI " + ", ".join(f"{m['bytes']} at +{m['after_ms']} ms" for m in as_records(t.midi))
    a.set("runtime_artifact_identified", True,
          f"promoted-manifest entry {t.gesture} -> {t.command}"
          + (f" deck {t.deck}" if t.deck else "")
          + f" (threshold {t.threshold}, hold {t.hold_ms} ms, cooldown {t.cooldown_ms} ms); {midi}")


def non_flat(a: Assessment, col: Column, matrix: Matrix) -> None:
    quiet = sum(1 for r in matrix.rows if r["cells"][a.label]["role"] != EXAMPLE
                and r["cells"][a.label]["dispatched"] == 0)
    ok = col.dispatched_examples > 0 and quiet > 0
    a.set("live_output_non_flat", ok,
          f"the gate dispatched {a.label} in {col.dispatched_examples} example clip(s) and stayed "
          f"quiet in {quiet} other window(s) of the recorded camera"
          + ("" if ok else ": the output does not vary with the evidence"))


def behaviour(a: Assessment, col: Column) -> None:
    frac = policy.command()["min_dispatch_fraction"]
    ok = col.examples > 0 and col.dispatched_examples >= frac * col.examples
    a.set("behavior_observed", ok, f"dispatched in {col.dispatched_examples} of {col.examples} "
          f"physical example clip(s) (needs {frac:.0%})")


def fallback(a: Assessment, col: Column) -> None:
    parts = [f"{f['condition']}: {f['events']} event(s), {f['dispatched']} dispatched, refused by "
             f"{', '.join(f'{k} x{v}' for k, v in f['refused_by'].items()) or 'nothing'}"
             for f in col.fallback]
    ok = col.fallback_ok()
    detail = "; ".join(parts) if col.fallback else "no fallback run"
    if not ok and all(f["events"] == 0 for f in col.fallback):
        detail = f"no recorded events of {a.label} to replay: the fallback is not tested"
    a.set("fallback_tested", ok, detail)
