"""Promotion: visual templates, the proof matrix, the gate's dry run, the promoted manifest.

The committed route-smoke bundle is promoted as it is (too few examples: nothing may reach the
AirDeck manifest). Richer evidence - five clips each of the three first AirDeck targets,
negative clips, safe stops - is recorded as a Pose Coach session in tmp copies (see
templates_helpers); the committed fixtures are never modified.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from templates_helpers import KEY, SECOND, TRUST, copy_bundle, k11_config, rich_bundle, session

from lume.runtime.airdeck import (
    FRAME,
    GESTURE,
    Authority,
    DispatchGate,
    Rules,
    consistency_problems,
    evidence_problems,
    live_report_problem,
    load_manifest,
    replay,
)
from lume.runtime.cli import main
from lume.runtime.core import decode_statement, get, problems, read_records, validate_file, verify_statement
from lume.runtime.core._jsonl import InputError
from lume.runtime.storage import add_pose_coach
from lume.runtime.templates import build_templates, promote
from lume.runtime.templates._promotion import (
    CANDIDATES_FILE,
    EVENTS_FILE,
    FRAMES_FILE,
    MANIFEST_FILE,
    MATRIX_FILE,
    REPORT_FILE,
    VISUAL_FILE,
)

FIRST = ["left_hand_raise", "right_hand_raise", "safe_stop_rehearsal"]
POLICY = get("promotion_policy.v1").table_data()
CRITERIA = [c["id"] for c in sorted(POLICY["criteria"], key=lambda c: c["order"])]


def candidate(doc: dict, label: str) -> dict:
    return next(c for c in doc["candidates"] if c["label"] == label)


def check(c: dict, cid: str) -> dict:
    return next(x for x in c["checks"] + c["criteria"] if x["id"] == cid)


def valid(path: Path) -> None:
    r = validate_file(path)
    assert r.ok and r.contract, (path, r.problems)


@pytest.fixture(scope="module")
def promoted(tmp_path_factory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("rich")
    bundle = rich_bundle(tmp)
    build_templates(bundle)
    return bundle, promote(bundle, command=True, config=k11_config(tmp), key=KEY, trust=TRUST)


# ------------------------------------------------------------------------------ committed fixtures
def test_route_smoke_bundle_promotion_report(tmp_path):
    bundle = copy_bundle(tmp_path)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=TRUST)
    for rel in (CANDIDATES_FILE, MATRIX_FILE, EVENTS_FILE, FRAMES_FILE):
        valid(bundle / rel)
    assert not (bundle / MANIFEST_FILE).exists() and result.promoted == []
    doc = result.candidates
    assert doc["promoted_manifest"] is None and doc["dry_run"] is None
    assert {c["label"] for c in doc["candidates"]} >= set(FIRST)
    left = candidate(doc, "left_hand_raise")
    assert left["status"] == "candidate" and left["examples"] == 1
    assert check(left, "min_physical_examples")["status"] == "fail"
    assert "1 physical example clip(s)" in check(left, "min_physical_examples")["detail"]
    assert check(left, "zero_false_triggers")["detail"].startswith("0 negative window(s)")
    assert "min_physical_examples" in left["missing"]
    for c in doc["candidates"]:
        assert [x["id"] for x in c["criteria"]] == CRITERIA
    scratch = candidate(doc, "scratch")
    assert check(scratch, "label_table_promoted")["status"] == "fail"
    assert "candidate, not promoted" in check(scratch, "label_table_promoted")["detail"]
    assert check(scratch, "training_or_rule_code_identified")["status"] == "missing"


def test_route_smoke_visual_templates(tmp_path):
    bundle = copy_bundle(tmp_path)
    build_templates(bundle)
    result = promote(bundle, visual=True)
    valid(bundle / VISUAL_FILE)
    assert result.exported == ["wave_color"]
    t = result.visual["templates"][0]
    assert t["effect"] == "color_phase_shift" and t["lane"] == "visual" and t["windows"] == 1
    assert t["response"]["low"] <= t["motion_energy"]["mean"] <= t["response"]["high"]
    assert {s["label"] for s in result.visual["not_exported"]} == {"burst_high_energy",
                                                                   "weighted_slow_power_hold"}
    assert not (bundle / "derived" / "airdeck").exists()  # visual never touches the AirDeck lane


def test_second_bundle_has_no_camera_evidence(tmp_path):
    bundle = copy_bundle(tmp_path, SECOND)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=TRUST)
    assert result.matrix["evidence"] is None and result.matrix["windows"] == []
    assert all(c["status"] == "candidate" for c in result.candidates["candidates"])
    assert "nothing for the gate to replay" in check(candidate(result.candidates, "left_hand_raise"),
                                                     "dry_run_green")["detail"]
    valid(bundle / CANDIDATES_FILE)


# ------------------------------------------------------------------------------ rich evidence
def test_first_targets_promoted_with_every_criterion(promoted):
    bundle, result = promoted
    assert sorted(result.promoted) == sorted(FIRST)
    for rel in (CANDIDATES_FILE, MATRIX_FILE, EVENTS_FILE, FRAMES_FILE):
        valid(bundle / rel)
    for rel in (MANIFEST_FILE, REPORT_FILE):  # signed statements (dsse_envelope.v1)
        assert problems(json.loads((bundle / rel).read_text()), get("dsse_envelope.v1")) == []
    doc = result.candidates
    assert doc["machine"] == "K11" and doc["dry_run"]["verdict"] == "green"
    for label in FIRST:
        c = candidate(doc, label)
        assert c["status"] == "promoted" and c["missing"] == [] and c["first_target"]
        assert all(x["status"] == "met" for x in c["criteria"])
        assert all(x["status"] == "pass" for x in c["checks"])
        assert c["dispatched_examples"] >= 5 and c["false_triggers"] == 0
    for label in ("scratch", "loop_toggle", "sync", "next_track", "cue"):  # candidates stay candidates
        c = candidate(doc, label)
        assert c["status"] == "candidate" and "label_table_promoted" in c["missing"]
    matrix = result.matrix
    left = next(g for g in matrix["gestures"] if g["label"] == "left_hand_raise")
    # 5 recorded clips + the committed one, too short (held 200 ms of 400) to dispatch
    assert left["examples"] == 6 and left["dispatched_examples"] == 5
    assert left["negatives"] == 2 and left["meets"]
    assert {f["condition"]: set(f["refused_by"]) for f in left["fallback"]} == {
        "no_body_truth": {"SAFE-CMD-PRESENCE"}, "gate_locked": {"SAFE-SAFE-STOP-LOCK"}}


def test_gate_reads_the_promoted_manifest(promoted):
    """Round trip through runtime/airdeck: its loader, its live precondition, its gate, its CLI."""
    bundle, result = promoted
    manifest = load_manifest(bundle / MANIFEST_FILE, trust=TRUST)
    rules = Rules.from_contracts()
    assert sorted(manifest.gestures) == sorted(FIRST)
    assert manifest.signed and manifest.signature["keyids"] == [KEY.keyid]
    assert consistency_problems(manifest, rules) == []
    envelope = json.loads((bundle / REPORT_FILE).read_text())
    report = verify_statement(envelope, TRUST, contract="airdeck_dry_run_report.v2")["predicate"]
    assert report["promoted_manifest"]["sha256"] == manifest.sha256
    assert report["promoted_manifest"]["signature"]["status"] == "unsigned"  # it ran before signing
    assert live_report_problem(envelope, manifest, trust=TRUST) is None  # `lume airdeck run --live` would start
    # the signed manifest names its evidence: every clip, window, template, the matrix and the report
    subjects = {s["name"]: s["digest"]["sha256"] for s in manifest.subjects}
    assert {MATRIX_FILE, REPORT_FILE} <= set(subjects)
    assert any(name.endswith("training.jsonl") for name in subjects)
    for name, digest in subjects.items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest
    assert evidence_problems(manifest).problems == [] and evidence_problems(manifest).checked == len(subjects)
    events = read_records(bundle / EVENTS_FILE, GESTURE)
    frames = read_records(bundle / FRAMES_FILE, FRAME)
    decisions = replay(DispatchGate(Authority.simulated(rules), rules, manifest), events, frames)
    assert {rules.canonical(d.label) for d in decisions if d.dispatched} == set(FIRST)
    out = bundle / "replay.json"
    trust_file = bundle / "trust.json"
    trust_file.write_text(json.dumps(TRUST))
    r = CliRunner().invoke(main, ["airdeck", "replay", str(bundle / EVENTS_FILE), "--bodytruth",
                                  str(bundle / FRAMES_FILE), "--promoted", str(bundle / MANIFEST_FILE),
                                  "--dry-run", "--report", str(out), "--json", "--trust-file", str(trust_file)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "green" and doc["promoted_manifest"]["signature"]["status"] == "trusted"
    assert doc["promoted_manifest"]["sha256"] == manifest.sha256


def test_manifest_entries_follow_the_contracts(promoted):
    bundle, _ = promoted
    doc = decode_statement(json.loads((bundle / MANIFEST_FILE).read_text()))["predicate"]
    rules = Rules.from_contracts()
    for g in doc["gestures"]:
        t = rules.resolve(g["label"], None).target
        assert (g["command"], g["deck"], g["threshold"], g["hold_ms"], g["cooldown_ms"]) == (
            t.command, t.deck, t.threshold, t.hold_ms, t.cooldown_ms)
        kinds = {e["kind"] for e in g["evidence"]}
        assert {"labeled_clip", "gesture_window", "gesture_template", "proof_matrix"} <= kinds
        for e in g["evidence"]:
            assert hashlib.sha256((bundle / e["path"]).read_bytes()).hexdigest() == e["sha256"]


def test_too_few_examples_is_not_promoted(tmp_path):
    bundle = rich_bundle(tmp_path, right=2)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=TRUST)
    right = candidate(result.candidates, "right_hand_raise")
    assert right["status"] == "candidate" and right["examples"] == 2
    assert check(right, "min_physical_examples") == {
        "id": "min_physical_examples", "status": "fail",
        "detail": "2 physical example clip(s) of kinds evidence, promotion_candidate, "
                  "promotion_verified, needs 5"}
    assert "min_physical_examples" in right["missing"]
    assert "right_hand_raise" not in load_manifest(bundle / MANIFEST_FILE).gestures
    assert sorted(result.promoted) == ["left_hand_raise", "safe_stop_rehearsal"]


def test_false_trigger_in_a_negative_clip_is_not_promoted(tmp_path):
    bundle = rich_bundle(tmp_path, false_trigger=True)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=TRUST)
    left = candidate(result.candidates, "left_hand_raise")
    assert left["status"] == "candidate" and left["false_triggers"] == 1
    assert check(left, "zero_false_triggers")["status"] == "fail"
    assert check(left, "zero_false_triggers")["detail"] == (
        "1 dispatch(es) of left_hand_raise in 3 negative window(s) (allowed 0)")
    assert "zero_false_triggers" in left["missing"]
    row = next(r for r in result.matrix["windows"]
               if r["negative"] and r["cells"]["left_hand_raise"]["dispatched"])
    assert row["label"] == "bad_false_reactive" and row["clip_kind"] == "negative"
    assert "left_hand_raise" not in load_manifest(bundle / MANIFEST_FILE).gestures
    assert sorted(result.promoted) == ["right_hand_raise", "safe_stop_rehearsal"]


def test_safe_stop_first_locks_the_combined_dry_run(tmp_path):
    """A safe stop recorded before the deck clips locks the combined dry run: the gate never
    dispatches the deck gestures there, so they are dropped and the run repeated."""
    bundle = copy_bundle(tmp_path)
    clips = ([("safe_stop_rehearsal", "promotion_candidate", "both_up")] * 5
             + [("bad_false_reactive", "negative", "sway")]
             + [("d2_play_pause", "promotion_candidate", "right_up")] * 5)
    add_pose_coach(bundle, session(tmp_path / "pc", "20260528-210000", clips), copy=True)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=TRUST)
    attempts = result.candidates["dry_run"]["attempts"]
    assert [a["verdict"] for a in attempts] == ["red", "green"]
    assert attempts[0]["failed_checks"] == ["promoted_gestures_exercised"]
    assert result.promoted == ["safe_stop_rehearsal"]
    right = candidate(result.candidates, "right_hand_raise")
    assert right["missing"] == ["dry_run_green", "on_device_load_verified", "report_written"]
    assert "never dispatched right_hand_raise" in check(right, "dry_run_green")["detail"]
    assert right["dispatched_examples"] == 5  # each clip on its own gate did dispatch


def test_not_on_k11_promotes_nothing_and_withdraws(tmp_path):
    bundle = rich_bundle(tmp_path)
    build_templates(bundle)
    first = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=TRUST)
    assert (bundle / MANIFEST_FILE).is_file() and first.promoted
    result = promote(bundle, command=True, config=k11_config(tmp_path, "Mac5"), key=KEY, trust=TRUST)
    assert not (bundle / MANIFEST_FILE).exists() and result.promoted == []
    doc = result.candidates
    assert doc["withdrawn"] is True and doc["promoted_manifest"] is None
    assert doc["dry_run"]["verdict"] == "green"  # the gate itself was happy
    left = candidate(doc, "left_hand_raise")
    assert left["missing"] == ["on_device_load_verified"]
    assert "this machine is Mac5" in check(left, "on_device_load_verified")["detail"]
    valid(bundle / CANDIDATES_FILE)


def test_stale_templates_are_refused(tmp_path):
    bundle = copy_bundle(tmp_path)
    build_templates(bundle)
    add_pose_coach(bundle, session(tmp_path / "pc", "20260528-220000",
                                   [("d1_play_pause", "evidence", "left_up")]), copy=True)
    with pytest.raises(InputError, match="run `lume templates build"):
        promote(bundle, command=True)
    with pytest.raises(InputError, match="run `lume templates build"):
        promote(copy_bundle(tmp_path / "fresh"), visual=True)


# ------------------------------------------------------------------------------ CLI
def test_cli_promote(tmp_path):
    bundle = rich_bundle(tmp_path)
    cfg = k11_config(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["templates", "build", str(bundle)]).exit_code == 0
    r = runner.invoke(main, ["promote", str(bundle), "--command", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert sorted(doc["command"]["promoted"]) == sorted(FIRST)
    r = runner.invoke(main, ["promote", str(bundle), "--command", "--config", str(cfg)])
    assert r.exit_code == 0 and "wrote derived/airdeck/promoted_gestures.json" in r.output
    r = runner.invoke(main, ["promote", str(bundle), "--visual"])
    assert r.exit_code == 0 and "exported wave_color -> color_phase_shift" in r.output
    assert runner.invoke(main, ["promote", str(bundle)]).exit_code == 2
    assert runner.invoke(main, ["promote", str(bundle), "--visual", "--command"]).exit_code == 2


def test_cli_promote_nothing_and_bad_input(tmp_path):
    bundle = copy_bundle(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["promote", str(bundle), "--command"])
    assert r.exit_code == 2 and "run `lume templates build" in r.output
    runner.invoke(main, ["templates", "build", str(bundle)])
    r = runner.invoke(main, ["promote", str(bundle), "--command", "--config", str(k11_config(tmp_path))])
    assert r.exit_code == 1 and "nothing promoted" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"machine": "K11"}')
    r = runner.invoke(main, ["promote", str(bundle), "--command", "--config", str(bad)])
    assert r.exit_code == 2 and "machine_config.v1" in r.output


# ------------------------------------------------------------------------------ the signed chain
def test_without_a_signing_key_nothing_is_promoted(tmp_path):
    bundle = rich_bundle(tmp_path)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path))
    assert result.promoted == [] and not (bundle / MANIFEST_FILE).exists()
    left = candidate(result.candidates, "left_hand_raise")
    assert left["missing"] == ["on_device_load_verified"]
    assert "no signing key" in check(left, "on_device_load_verified")["detail"]


def test_a_key_the_trust_file_does_not_hold_promotes_nothing(tmp_path):
    bundle = rich_bundle(tmp_path)
    build_templates(bundle)
    result = promote(bundle, command=True, config=k11_config(tmp_path), key=KEY, trust=[])
    assert result.promoted == [] and not (bundle / MANIFEST_FILE).exists()
    detail = check(candidate(result.candidates, "left_hand_raise"), "on_device_load_verified")["detail"]
    assert "untrusted key" in detail and f"lume keys trust {KEY.public_hex}" in detail


def test_signed_promotion_round_trip_through_the_live_gate(tmp_path):
    """record -> promote (signed) -> dry run (signed) -> live: the bytes reach a mido socket port."""
    import time

    import mido.sockets

    bundle = rich_bundle(tmp_path)
    cfg = k11_config(tmp_path)
    runner = CliRunner()

    def lume(*args):
        r = runner.invoke(main, [str(a) for a in args])
        return r

    assert lume("templates", "build", bundle).exit_code == 0
    r = lume("promote", bundle, "--command", "--config", cfg)
    assert r.exit_code == 0 and "signed by" in r.output, r.output
    report = tmp_path / "rehearsal.dry_run.json"
    r = lume("airdeck", "replay", bundle / EVENTS_FILE, "--bodytruth", bundle / FRAMES_FILE,
             "--promoted", bundle / MANIFEST_FILE, "-o", report, "--config", cfg)
    assert r.exit_code == 0 and "trusted" in r.output, r.output
    server = mido.sockets.PortServer("127.0.0.1", 0)
    port = server._socket.getsockname()[1]
    try:
        start = int(time.time() * 1000) - 250  # a gesture happening now
        events = [{"timestamp_ms": start + i, "source_id": "k11_webcam_pose", "machine": "K11",
                   "label": "left_hand_raise", "confidence": 0.9, "phase": "start" if i == 0 else "hold"}
                  for i in range(0, 501, 33)]
        frame = json.loads((bundle / FRAMES_FILE).read_text().splitlines()[0])
        lines = []
        for e in events:
            f = dict(frame, timestamp=e["timestamp_ms"] - 5, mode="gesture_confirmed", present=True,
                     tracking_lost=False, gesture_intent={"name": "left_hand_raise", "confidence": 0.95,
                                                          "deck": 1, "command": "d1_play_pause"})
            lines += [json.dumps(f), json.dumps(e)]
        stream = tmp_path / "now.jsonl"
        stream.write_text("\n".join(lines) + "\n")
        r = lume("airdeck", "run", "--live", "--config", cfg, "--midi", f"tcp://127.0.0.1:{port}",
                 "--promoted", bundle / MANIFEST_FILE, "--dry-run-report", report, "--events", stream,
                 "--log", tmp_path / "live.decisions.jsonl")
        assert r.exit_code == 0, r.output
        conn = server.accept(block=False)
        assert conn is not None
        conn._socket.settimeout(5)
        data = b""
        while chunk := conn._socket.recv(4096):
            data += chunk
        conn.close()
    finally:
        server.close()
    assert data == b"\x90\x0b\x7f\x90\x0b\x00"


def test_cli_promote_says_per_missing_criterion_what_would_satisfy_it(tmp_path):
    """Issue 16.6: each missing check says what was found; each missing live-safe criterion
    also says the evidence that satisfies it (live_safe_policy.v1, not a literal here)."""
    from lume.runtime.core import rule_data

    bundle = copy_bundle(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["templates", "build", str(bundle)]).exit_code == 0
    r = runner.invoke(main, ["promote", str(bundle), "--command", "--config", str(k11_config(tmp_path))])
    assert r.exit_code == 1 and "nothing promoted" in r.output
    flat = " ".join(r.output.split())
    assert "min_physical_examples: 1 physical example clip(s)" in flat and "needs 5" in flat
    for c in rule_data("live_safe_policy.v1")["criteria"]:
        if f"{c['id']}:" in flat:
            assert f"satisfied by: {' '.join(c['gesture'].split())}" in flat
