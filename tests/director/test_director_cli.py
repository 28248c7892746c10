"""`lume director send | watch` against a real bus; bad input exits 2, refusals exit 1."""
from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from click.testing import CliRunner
from director_harness import OWN, TIMEOUT, serve_subprocess
from websockets.sync.client import connect

from lume.runtime.cli import main
from lume.runtime.core import get


def lume(*args: str):
    return CliRunner().invoke(main, ["director", *args], catch_exceptions=False)


def test_send_applies_and_reports_the_version(bus) -> None:
    result = lume("send", "mac", "set_session_phase", "phase=live", "--address", bus.url, "--json")
    assert result.exit_code == 0, result.output
    reply = json.loads(result.output)
    assert reply["type"] == "ack" and bus.state()["version"] == reply["version"]
    assert bus.state()["session"]["phase"] == "live"
    result = lume("send", "ios", "set_cue", "--json-args",
                  '{"cue": {"id": "c1", "kind": "capture", "payload": {"camera": "cam_a"}}}', "--url", bus.url)
    assert result.exit_code == 0 and "ack" in result.output
    result = lume("send", "ipad", "set_performer_voice", "comprehension_score=0.5", "voice_state=muted",
                  "--url", bus.url)
    assert result.exit_code == 0, result.output
    assert bus.state()["performer"]["comprehension_score"] == 0.5
    assert lume("send", "mac", "heartbeat", "--url", bus.url).exit_code == 0


def test_send_refused_by_the_server_exits_1_naming_field_and_owner(bus) -> None:
    result = lume("send", "ipad", "set_session_phase", "phase=paused", "--url", bus.url, "--json")
    assert result.exit_code == 1
    reply = json.loads(result.output)
    assert (reply["code"], reply["field"], reply["owner"], reply["role"]) == \
        ("field_ownership_violation", "session.phase", "mac", "ipad")
    assert bus.state()["session"]["phase"] == "idle"


def test_send_bad_input_exits_2_before_connecting(bus) -> None:
    for args in (["phase"], ["phase=dancing"], ["--json-args", "{nope"], ["--json-args", "[1]"],
                 ["by=mac", "phase=live"]):
        result = lume("send", "mac", "set_session_phase", *args, "--url", bus.url)
        assert result.exit_code == 2, (args, result.output)
    assert lume("send", "mac", "set_session_phase", "phase=live", "--url", "http:/nowhere").exit_code == 2
    assert lume("send", "pilot", "heartbeat", "--url", bus.url).exit_code == 2
    assert bus.state()["version"] == 0


def test_send_to_a_bus_that_is_down_exits_1() -> None:
    result = lume("send", "mac", "heartbeat", "--url", "ws://127.0.0.1:9", "--timeout", "300ms")
    assert result.exit_code == 1
    assert "unreachable" in result.output


def test_url_from_machine_config(bus, tmp_path: Path) -> None:
    config = dict(get("machine_config.v1").examples[2])
    config["director"] = {"host": "127.0.0.1", "port": bus.thread.port}
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(config))
    assert lume("send", "mac", "set_session_phase", "phase=setup", "--config", str(path)).exit_code == 0
    assert bus.state()["session"]["phase"] == "setup"
    path.write_text(json.dumps({**config, "director": {"port": 1}}))
    result = lume("send", "mac", "set_session_phase", "phase=setup", "--config", str(path))
    assert result.exit_code == 2 and "machine_config.v1" in result.output


def test_watch_prints_each_state(bus) -> None:
    def later() -> None:
        mac = bus.control("mac")
        mac.command({"type": "set_session_phase", "phase": "live"})

    timer = threading.Timer(0.3, later)
    timer.start()
    result = lume("watch", "--address", bus.url, "--count", "3", "--json")
    timer.join()
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0] == {"type": "schema", "version": OWN.rules.schema_version}
    assert [f["state"]["version"] for f in lines[1:]] == [0, 1, 2]
    assert lines[-1]["state"]["session"]["phase"] == "live"
    human = lume("watch", "--url", bus.url, "--count", "1")
    assert human.exit_code == 0 and "phase=live" in human.output and "active=[mac]" in human.output


def test_watch_a_bus_that_is_down_exits_1() -> None:
    assert lume("watch", "--url", "ws://127.0.0.1:9").exit_code == 1


def test_serve_runs_until_ctrl_c_and_the_next_start_resumes(tmp_path: Path) -> None:
    proc, control = serve_subprocess(tmp_path / "state")
    try:
        with connect(control, proxy=None, open_timeout=TIMEOUT) as ws:
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "schema"
            ws.send(json.dumps({"type": "identify", "role": "mac"}))
            ws.send(json.dumps({"type": "set_session_phase", "phase": "setup"}))
            frames_seen = []
            while not any(f["type"] == "ack" for f in frames_seen):
                frames_seen.append(json.loads(ws.recv(timeout=TIMEOUT)))
            proc.send_signal(signal.SIGINT)
            while frames_seen[-1]["type"] != "kicked":
                frames_seen.append(json.loads(ws.recv(timeout=TIMEOUT)))
            assert frames_seen[-1] == {"type": "kicked", "reason": "server_shutdown"}
        assert proc.wait(TIMEOUT) == 0
    finally:
        proc.kill()
    proc, control = serve_subprocess(tmp_path / "state")
    try:
        with connect(control.replace(OWN.rules.control_path, OWN.rules.state_path), proxy=None,
                     open_timeout=TIMEOUT) as ws:
            ws.recv(timeout=TIMEOUT)
            assert json.loads(ws.recv(timeout=TIMEOUT))["state"]["session"]["phase"] == "setup"
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
