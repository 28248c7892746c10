"""`lume airdeck replay / run / rearm / recognize`: reports, live-mode guards, MIDI on loopback."""
from __future__ import annotations

import copy
import json

import pytest
from airdeck_helpers import T0, held
from airdeck_work import PLAY_D1, Work, config, manifest, received, write_jsonl
from click.testing import CliRunner

from lume.runtime.airdeck import manifest_digest, sign_dry_run
from lume.runtime.cli import main
from lume.runtime.core import decode_statement, get, problems


@pytest.fixture
def work(tmp_path):
    return Work(tmp_path, held("left_hand_raise", T0, 1500))



# ---------------------------------------------------------------------------- replay
def test_replay_writes_a_green_contract_valid_report_and_log(work):
    result = work.dry_run()
    assert result.exit_code == 0, result.output
    envelope = json.loads(work.report.read_text())
    assert problems(envelope, get("dsse_envelope.v1")) == []  # a signed statement
    report = work.predicate()
    assert problems(report, get("airdeck_dry_run_report.v2")) == []
    assert report["verdict"] == "green"
    assert report["commands"] == {"d1_play_pause": {"dispatched": 1, "refused": len(report["decisions"]) - 1}}
    assert report["midi_plan"] == {"d1_play_pause": [{"bytes": "90 0B 7F", "after_ms": 0},
                                                     {"bytes": "90 0B 00", "after_ms": 30}]}
    assert report["refusals_by_invariant"] == {"SAFE-CMD-HOLD": report["counts"]["refused"] - 1}
    doc = decode_statement(json.loads(work.manifest.read_text()))["predicate"]
    assert report["promoted_manifest"]["sha256"] == manifest_digest(doc)
    assert report["promoted_manifest"]["signature"]["status"] == "trusted"
    assert "signed report" in result.output and work.key.keyid in result.output
    log = work.root / "airdeck_dry_run_report.decisions.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == report["counts"]["events"]
    assert all(problems(x, get("airdeck_decision.v1")) == [] for x in lines)
    assert {x["mode"] for x in lines} == {"dry_run"}
    # rerunning rewrites the same decisions (idempotent log)
    assert work.dry_run().exit_code == 0
    assert [json.loads(x) for x in log.read_text().splitlines()] == lines


def test_replay_without_manifest_or_unexercised_gesture_is_red(work):
    result = work.lume("airdeck", "replay", work.events, "--bodytruth", work.frames, "--dry-run",
                       "--report", work.report, "--json")
    assert result.exit_code == 1
    report = work.predicate()
    assert report["verdict"] == "red" and report["promoted_manifest"] is None
    work.write_manifest(manifest(("left_hand_raise", "right_hand_raise")))
    assert work.dry_run().exit_code == 1
    failed = [c for c in work.predicate()["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == ["promoted_gestures_exercised"]
    assert "right_hand_raise" in failed[0]["detail"]


def test_replay_with_a_looser_manifest_is_red(work):
    doc = manifest()
    doc["gestures"][0]["hold_ms"] = 250  # valid for the schema, looser than the contract's 400
    work.write_manifest(doc)
    assert work.dry_run().exit_code == 1
    (check,) = [c for c in work.predicate()["checks"] if c["status"] == "fail"]
    assert check["id"] == "promoted_manifest" and "hold_ms 250 is looser" in check["detail"]


def test_replay_on_another_machine_is_allowed(work):
    mac5 = work.root / "mac5.json"
    mac5.write_text(json.dumps(config("Mac5", False)))
    assert work.dry_run("--config", mac5).exit_code == 0
    report = work.predicate()
    assert report["machine"] == "Mac5" and report["simulated_authority"] == "K11"


def test_replay_is_always_a_dry_run_and_the_old_flag_still_parses(work):
    # a replay never sends anything, so --dry-run is no longer required (kept hidden, accepted)
    result = work.lume("airdeck", "replay", work.events, "-o", work.report)
    assert result.exit_code in (0, 1), result.output
    assert work.predicate()["dry_run"] is True
    assert "--dry-run" not in work.lume("airdeck", "replay", "--help").output


@pytest.mark.parametrize(("line", "expected"), [
    ("{not json", ":2: not valid JSON"),
    (json.dumps({"timestamp_ms": T0, "source_id": "k11_webcam_pose", "machine": "K11",
                 "label": "left_hand_raise", "confidence": 2}), "$.confidence"),
    (json.dumps({"timestamp_ms": T0, "source_id": "k11_webcam_pose", "machine": "K11",
                 "label": "left_hand_raise", "confidence": 0.9, "extra": 1}), "gesture_event.v1"),
    (json.dumps({"timestamp_ms": T0, "source_id": "k11_webcam_pose", "machine": "K12",
                 "label": "left_hand_raise", "confidence": 0.9}), "$.machine"),
])
def test_bad_events_are_refused_and_nothing_is_written(work, line, expected):
    assert work.dry_run().exit_code == 0
    before = work.report.read_bytes()
    lines = work.events.read_text().splitlines()
    work.events.write_text("\n".join([lines[0], line] + lines[1:]) + "\n")
    result = work.dry_run()
    assert result.exit_code == 2
    assert expected in result.output and str(work.events) in result.output
    assert work.report.read_bytes() == before


def test_bad_frames_and_manifests_are_refused(work):
    frames = work.frames.read_text().splitlines()
    bad = json.loads(frames[0])
    bad["mode"] = "absent"  # absent but present=true: breaks body_truth.v0
    work.frames.write_text("\n".join([json.dumps(bad)] + frames[1:]) + "\n")
    result = work.dry_run()
    assert result.exit_code == 2 and "body_truth.v0" in result.output and ":1:" in result.output
    work.frames.write_text("\n".join(frames) + "\n")
    doc = manifest(("left_hand_raise",))
    doc["gestures"].append(copy.deepcopy(doc["gestures"][0]))
    work.manifest.write_text(json.dumps(doc))
    result = work.dry_run()
    assert result.exit_code == 2 and "listed twice" in result.output
    work.manifest.write_text('{"schema": "lume.airdeck.promoted_gestures.v1"}')
    result = work.dry_run()
    assert result.exit_code == 2 and "airdeck_promoted_gestures.v1" in result.output


# ---------------------------------------------------------------------------- live guards
@pytest.mark.parametrize(("machine", "can_command"), [("Mac5", False), ("Mac4", False),
                                                      ("Mac2", False), ("K11", False)])
def test_live_refuses_on_any_machine_but_a_commanding_k11(work, server, machine, can_command):
    assert work.dry_run().exit_code == 0
    work.k11.write_text(json.dumps(config(machine, can_command)))
    result = work.live(server.port)
    assert result.exit_code == 1
    assert "refusing live mode" in result.output and machine in result.output
    assert received(server) == b""


def test_live_refuses_without_a_config(work, server, monkeypatch):
    monkeypatch.delenv("LUME_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(work.root / "nowhere"))
    result = work.lume("airdeck", "run", "--live", "--port", f"tcp://127.0.0.1:{server.port}",
                       "--promoted", work.manifest, "--events", work.stream)
    assert result.exit_code == 1 and "no machine config" in result.output


def test_live_takes_the_config_from_lume_config(work, server):
    assert work.dry_run().exit_code == 0
    mac4 = work.root / "mac4.json"
    mac4.write_text(json.dumps(config("Mac4", False)))
    result = work.lume("airdeck", "run", "--live", "--port", f"tcp://127.0.0.1:{server.port}",
                       "--promoted", work.manifest, "--events", work.stream,
                       env={"LUME_CONFIG": str(mac4)})
    assert result.exit_code == 1 and "Mac4" in result.output


def test_live_refuses_without_a_green_report_for_this_manifest(work, server):
    result = work.live(server.port)
    assert result.exit_code == 1 and "no dry-run report" in result.output
    work.report.write_text("{}")
    result = work.live(server.port)
    assert result.exit_code == 1 and "dry-run report is not signed" in result.output
    # red report
    work.lume("airdeck", "replay", work.events, "--dry-run", "--promoted", work.manifest,
              "--report", work.report)  # no BodyTruth: nothing dispatched, red
    result = work.live(server.port)
    assert result.exit_code == 1 and "is red" in result.output
    # green, but for another manifest
    assert work.dry_run().exit_code == 0
    doc = manifest()
    doc["generated_at"] = "2026-06-01T00:00:00Z"
    work.write_manifest(doc)
    result = work.live(server.port)
    assert result.exit_code == 1 and "run the dry run again" in result.output
    # green for this manifest, but the rule contracts changed since (a report signed that way)
    assert work.dry_run().exit_code == 0
    report = work.predicate()
    report["contracts"][0]["sha256"] = "0" * 64
    work.report.write_text(json.dumps(sign_dry_run(report, work.key)))
    result = work.live(server.port)
    assert result.exit_code == 1 and "rule contracts changed" in result.output
    # the same edit without a new signature: the report does not count at all
    assert work.dry_run().exit_code == 0
    envelope = json.loads(work.report.read_text())
    stmt = decode_statement(envelope)
    stmt["predicate"]["verdict"] = "green"
    stmt["predicate"]["checks"] = []
    import base64
    envelope["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    work.report.write_text(json.dumps(envelope))
    result = work.live(server.port)
    assert result.exit_code == 1 and "does not count: bad signature" in result.output
    assert received(server) == b""


def test_live_with_an_unreachable_port_fails_clearly(work, server):
    assert work.dry_run().exit_code == 0
    port = server.port
    server.close()
    result = work.live(port)
    assert result.exit_code == 1 and f"tcp://127.0.0.1:{port}" in result.output


# ---------------------------------------------------------------------------- live dispatch
def test_live_run_sends_exactly_one_play_pause_to_the_socket_port(work, server):
    assert work.dry_run().exit_code == 0
    result = work.live(server.port)
    assert result.exit_code == 0, result.output
    assert received(server) == PLAY_D1
    log = [json.loads(x) for x in (work.root / "live.decisions.jsonl").read_text().splitlines()]
    assert [x["command"] for x in log if x["decision"] == "dispatched"] == ["d1_play_pause"]
    assert {x["mode"] for x in log} == {"live"}
    sent = next(x for x in log if x["decision"] == "dispatched")
    assert sent["midi"] == [{"bytes": "90 0B 7F", "after_ms": 0}, {"bytes": "90 0B 00", "after_ms": 30}]


def test_safe_stop_lock_survives_a_restart_until_rearmed(tmp_path, server):
    chain = held("left_hand_raise", T0, 800) + held("safe_stop_rehearsal", T0 + 1500, 600)
    work = Work(tmp_path, chain)
    assert work.dry_run().exit_code == 0
    first = work.live(server.port)
    assert first.exit_code == 0, first.output
    assert received(server) == PLAY_D1
    stop = work.live(server.port, label="safe_stop_rehearsal")
    assert stop.exit_code == 0, stop.output
    assert received(server) == b""  # a safe stop sends nothing: it locks the gate
    lock = tmp_path / "airdeck_safe_stop.lock.json"
    assert json.loads(lock.read_text())["label"] == "safe_stop_rehearsal"
    # a restart stays locked: the gesture sends nothing
    before = len((tmp_path / "live.decisions.jsonl").read_text().splitlines())
    again = work.live(server.port)
    assert again.exit_code == 0 and "gate locked" in again.output
    assert received(server) == b""
    log = [json.loads(x) for x in (tmp_path / "live.decisions.jsonl").read_text().splitlines()]
    assert "SAFE-SAFE-STOP-LOCK" in {x["invariant"] for x in log[before:]}
    # only the operator re-arms
    result = work.lume("airdeck", "rearm", "--lock-file", lock)
    assert result.exit_code == 0 and not lock.exists()
    assert work.live(server.port).exit_code == 0
    assert received(server) == PLAY_D1


def test_dry_run_from_stdin_sends_nothing_and_prints_json(work):
    result = work.lume("airdeck", "run", "--json", "--log", work.root / "dry.decisions.jsonl",
                       input=work.stream.read_text())
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [r["command"] for r in records if r["decision"] == "dispatched"] == ["d1_play_pause"]
    assert {r["mode"] for r in records} == {"dry_run"}


def test_a_bad_line_in_a_live_stream_is_skipped_and_reported(work):
    lines = work.stream.read_text().splitlines()
    text = "\n".join(lines[:3] + ['{"timestamp_ms": 1, "label": "x"}', "nope"] + lines[3:]) + "\n"
    result = work.lume("airdeck", "run", "--log", work.root / "dry.decisions.jsonl", input=text)
    assert result.exit_code == 2
    assert "<stdin>:4" in result.output and "<stdin>:5: not valid JSON" in result.output
    assert "1 dispatched" in result.output


def test_run_from_pose(tmp_path):
    obs = []
    for i in range(60):
        raised = 10 <= i < 50
        obs.append({"timestamp_ms": T0 + 33 * i, "source": "k11_pose", "source_id": "k11_webcam_pose",
                    "present": True, "confidence": 0.84, "motion_energy": 0.05, "posture": "upright",
                    "hands": {"left": {"x": 0.25, "y": 0.1 if raised else 0.6, "confidence": 0.9},
                              "right": {"x": 0.7, "y": 0.6, "confidence": 0.9}},
                    "body_anchor": {"x": 0.5, "y": 0.33}})
    path = write_jsonl(tmp_path / "k11.obs.jsonl", obs)
    result = CliRunner().invoke(main, ["airdeck", "run", "--from-pose", "--events", str(path), "--json",
                                       "--machine", "K11",
                                       "--log", str(tmp_path / "pose.decisions.jsonl")])
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [r["command"] for r in records if r["decision"] == "dispatched"] == ["d1_play_pause"]
    # and recognise alone writes valid gesture events
    out = tmp_path / "k11.gestures.jsonl"
    result = CliRunner().invoke(main, ["airdeck", "recognize", str(path), "--out", str(out),
                                       "--machine", "K11"])
    assert result.exit_code == 0, result.output
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert [e["phase"] for e in events][:2] == ["start", "hold"] and events[-1]["phase"] == "release"
    assert all(problems(e, get("gesture_event.v1")) == [] for e in events)


def test_pose_detection_needs_a_machine(tmp_path, monkeypatch):
    monkeypatch.delenv("LUME_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = write_jsonl(tmp_path / "x.obs.jsonl", [])
    result = CliRunner().invoke(main, ["airdeck", "recognize", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--machine" in result.output
    result = CliRunner().invoke(main, ["airdeck", "run", "--from-pose", "--events", str(path),
                                       "--log", str(tmp_path / "x.decisions.jsonl")])
    assert result.exit_code == 2 and "--machine" in result.output
