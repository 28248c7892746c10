"""`lume bodytruth replay | serve | scenarios`: summaries, output files, exit codes, bad input."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from lume.runtime import core as contracts
from lume.runtime.cli import main

FOLDER = Path(str(resources.files("lume.fixtures"))) / "scenarios"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_replay_scenario_json_summary():
    r = run("bodytruth", "replay", "--scenario", "leaving_frame", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["final_mode"] == "absent" and s["commands_allowed"] == [] and s["illegal_transitions"] == []
    assert [t["to"] for t in s["transitions"]][-2:] == ["tracking_lost", "absent"]
    assert sum(s["time_in_mode_ms"].values()) == s["frames"] * s["tick_ms"]


def test_replay_files_write_frames_and_print_the_summary(tmp_path):
    out = tmp_path / "frames.jsonl"
    r = run("bodytruth", "replay", str(FOLDER / "gesture_hold_release.obs.jsonl"),
            str(FOLDER / "gesture_hold_release.gestures.jsonl"), "--out", str(out), "--tick-ms", "50")
    assert r.exit_code == 0, r.output
    assert "time in each mode" in r.output and "d1_play_pause" in r.output and "transitions" in r.output
    checked = contracts.validate_file(out)
    assert checked.ok and checked.contract == "body_truth.v0" and checked.documents > 100


def test_replay_bad_line_exits_2_naming_file_line_field_and_contract(tmp_path):
    bad = tmp_path / "take.obs.jsonl"
    lines = (FOLDER / "still_noisy_depth.obs.jsonl").read_text().splitlines()[:5]
    record = json.loads(lines[2])
    record["confidence"] = 7
    lines[2] = json.dumps(record)
    bad.write_text("\n".join(lines) + "\n")
    r = run("bodytruth", "replay", str(bad))
    assert r.exit_code == 2
    assert f"{bad}:3: $.confidence" in r.output and "body_observation.v1" in r.output
    broken = tmp_path / "broken.obs.jsonl"
    broken.write_text('{"timestamp_ms": 1,\n')
    r = run("bodytruth", "replay", str(broken))
    assert r.exit_code == 2 and f"{broken}:1: not valid JSON" in r.output


def test_replay_needs_input():
    assert run("bodytruth", "replay").exit_code == 2
    r = run("bodytruth", "replay", "--scenario", "nope")
    assert r.exit_code == 2 and "unknown scenario" in r.output


def test_scenarios_check_is_clean(tmp_path):
    assert run("bodytruth", "scenarios", "--check").exit_code == 0
    r = run("bodytruth", "scenarios", "--out", str(tmp_path))
    assert r.exit_code == 0 and len(list(tmp_path.glob("*.jsonl"))) == len(list(FOLDER.glob("*.jsonl")))
    (tmp_path / "burst.obs.jsonl").write_text("{}\n")
    assert run("bodytruth", "scenarios", "--check", "--out", str(tmp_path)).exit_code == 1


def test_serve_wires_replay_and_recording_into_uvicorn(monkeypatch, tmp_path):
    seen = {}

    def fake_run(server, sockets=None):
        c = server.config
        seen.update(app=c.app, host=c.host, port=c.port, limits=c.http.limits)

    import uvicorn

    from lume.runtime.core import connection_limits

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    record = tmp_path / "out.jsonl"
    r = run("bodytruth", "serve", "--replay", str(FOLDER / "burst.obs.jsonl"), "--record", str(record))
    assert r.exit_code == 0, r.output
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 9405)
    assert seen["limits"] == connection_limits("bodytruth")  # slow clients are cut (service_connections.v1)
    service = seen["app"].state.service
    assert service.recorder is not None and service.fusion.motion_record_id == "out"
    service.close()


def test_serve_refuses_a_bad_replay_file(tmp_path):
    bad = tmp_path / "x.obs.jsonl"
    bad.write_text('{"timestamp_ms": -1, "source": "rgb", "source_id": "a", "present": true, "confidence": 0.5}\n')
    r = run("bodytruth", "serve", "--replay", str(bad))
    assert r.exit_code == 2 and "$.timestamp_ms" in r.output
