"""`lume director send | watch | commands | enroll | devices | revoke` against a real bus;
bad input exits 2, refusals exit 1."""
from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from director_harness import KEYS, OWN, TIMEOUT, serve_subprocess
from websockets.sync.client import connect

from lume.runtime.cli import main
from lume.runtime.core import get
from lume.runtime.director import _devices as dev


def lume(*args: str):
    return CliRunner().invoke(main, ["director", *args], catch_exceptions=False)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    """Each role's test device key in a file named after its device id (`mac-1.pem`)."""
    out = {}
    for role, key in KEYS.items():
        path = tmp_path / "keys" / f"{key.device_id}.pem"
        key.save(path)
        out[role] = str(path)
    return out


def send(bus, keys, role: str, *args: str):
    return lume("send", role, *args, "--key", keys[role], "--address", bus.url)


def test_send_applies_and_reports_the_version(bus, keys) -> None:
    result = send(bus, keys, "mac", "set_session_phase", "phase=live", "--json")
    assert result.exit_code == 0, result.output
    reply = json.loads(result.output)
    assert reply["type"] == "ack" and bus.state()["version"] == reply["version"]
    assert bus.state()["session"]["phase"] == "live"
    result = send(bus, keys, "ios", "set_cue", "--json-args",
                  '{"cue": {"id": "c1", "kind": "capture", "payload": {"camera": "cam_a"}}}')
    assert result.exit_code == 0 and "ack" in result.output and "(ios-1)" in result.output
    result = send(bus, keys, "ios", "set_cue", "cue.id=c2", "cue.kind=capture", "cue.payload.camera=cam_b")
    assert result.exit_code == 0, result.output
    assert bus.state()["cue"]["current"] == {"id": "c2", "kind": "capture", "payload": {"camera": "cam_b"}}
    result = send(bus, keys, "ipad", "set_performer_voice", "comprehension_score=0.5", "voice_state=muted")
    assert result.exit_code == 0, result.output
    assert bus.state()["performer"]["comprehension_score"] == 0.5
    assert send(bus, keys, "mac", "heartbeat").exit_code == 0


def test_send_refused_by_the_server_exits_1_naming_field_and_owner(bus, keys) -> None:
    result = lume("send", "ipad", "set_session_phase", "phase=paused", "--key", keys["ipad"],
                  "--url", bus.url, "--json")
    assert result.exit_code == 1
    reply = json.loads(result.output)
    assert (reply["code"], reply["field"], reply["owner"], reply["role"]) == \
        ("field_ownership_violation", "session.phase", "mac", "ipad")
    assert bus.state()["session"]["phase"] == "idle"


def test_roles_from_one_shell_no_longer_make_consent(bus, keys, tmp_path: Path) -> None:
    """Issue 13: `send mac propose_consent`, `send ios ack_consent`, `send ipad ack_consent`
    without the Mac's own acknowledgement, or as a device that is not enrolled, is no consent."""
    assert send(bus, keys, "mac", "propose_consent", 'scope=["frame_capture"]').exit_code == 0
    assert send(bus, keys, "ios", "ack_consent").exit_code == 0
    assert send(bus, keys, "ipad", "ack_consent").exit_code == 0
    assert bus.state()["model_consent"]["acknowledged"] is False
    forged = tmp_path / "mac-1.pem"  # the Mac's device id, anyone's key
    dev.DeviceKey.generate("mac-1").save(forged)
    result = lume("send", "mac", "ack_consent", "--key", str(forged), "--address", bus.url)
    assert result.exit_code == 1 and "bad_signature" in result.output
    assert bus.state()["model_consent"]["acknowledged"] is False
    assert send(bus, keys, "mac", "ack_consent").exit_code == 0
    assert bus.state()["model_consent"]["acknowledged"] is True


def test_send_as_an_unenrolled_device_exits_1_and_kicks_nobody(bus, keys, tmp_path: Path) -> None:
    holder = bus.control("mac")
    stranger = tmp_path / "laptop.pem"
    dev.DeviceKey.generate("laptop").save(stranger)
    result = lume("send", "mac", "set_session_phase", "phase=live", "--key", str(stranger),
                  "--address", bus.url)
    assert result.exit_code == 1 and "unenrolled_device" in result.output and "laptop" in result.output
    assert holder.command({"type": "set_session_phase", "phase": "setup"})["type"] == "ack"


def test_send_bad_input_exits_2_before_connecting(bus, keys) -> None:
    for args in (["phase"], ["phase=dancing"], ["--json-args", "{nope"], ["--json-args", "[1]"],
                 ["by=mac", "phase=live"]):
        result = send(bus, keys, "mac", "set_session_phase", *args)
        assert result.exit_code == 2, (args, result.output)
    assert lume("send", "mac", "set_session_phase", "phase=live", "--key", keys["mac"],
                "--url", "http:/nowhere").exit_code == 2
    assert lume("send", "pilot", "heartbeat", "--key", keys["mac"], "--url", bus.url).exit_code == 2
    assert lume("send", "mac", "heartbeat", "--key", "/nonexistent.pem", "--url", bus.url).exit_code == 2
    assert lume("send", "mac", "heartbeat", "--url", bus.url).exit_code == 2  # --key is required
    assert bus.state()["version"] == 0


def test_a_bad_value_names_the_field_and_lists_the_values(keys) -> None:
    """16 item 3: `"rehearsal" is not one of "idle", "setup" or 3 other candidates \\[…]` is gone."""
    result = lume("send", "mac", "set_session_phase", "phase=rehearsal", "--key", keys["mac"])
    assert result.exit_code == 2
    assert "phase: \"rehearsal\" is not one of idle, setup, live, paused, wrap [director_frames.v2]" \
        in result.output
    assert "\\[" not in result.output and "candidates" not in result.output
    result = lume("send", "ios", "set_cue", "cue=intro", "--key", keys["ios"])
    assert result.exit_code == 2 and "anyOf" not in result.output
    assert 'cue: "intro" is not an object with id, kind, payload or null' in result.output


def test_send_help_and_commands_list_every_command_with_fields_values_and_senders() -> None:
    help_text = lume("send", "--help").output
    for name in OWN.commands:
        if name != "identify":
            assert name in help_text, name
    assert "phase=idle|setup|live|paused|wrap" in help_text and "(mac)" in help_text
    assert "--key" in help_text and "--device" in help_text
    table = lume("commands").output
    assert "set_cue  sent by ios" in table and "idle|setup|live|paused|wrap" in table
    rows = json.loads(lume("commands", "--json").output)["commands"]
    by_name = {r["command"]: r for r in rows}
    assert set(by_name) == set(OWN.commands) - {"identify"}
    assert by_name["set_session_phase"]["senders"] == ["mac"]
    assert by_name["set_session_phase"]["fields"] == [{"name": "phase", "required": True,
                                                       "accepts": "idle|setup|live|paused|wrap"}]
    assert by_name["set_cue"]["writes"] == ["cue.current", "cue.next"]
    only_ipad = json.loads(lume("commands", "--role", "ipad", "--json").output)["commands"]
    assert {r["command"] for r in only_ipad} == {c for c, row in OWN.commands.items()
                                                 if "ipad" in row.senders} - {"identify"}


def test_send_to_a_bus_that_is_down_exits_1(keys) -> None:
    result = lume("send", "mac", "heartbeat", "--key", keys["mac"], "--url", "ws://127.0.0.1:9",
                  "--timeout", "300ms")
    assert result.exit_code == 1
    assert "unreachable" in result.output


def test_url_from_machine_config(bus, keys, tmp_path: Path) -> None:
    config = dict(get("machine_config.v1").examples[2])
    config["director"] = {"host": "127.0.0.1", "port": bus.thread.port}
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(config))
    assert lume("send", "mac", "set_session_phase", "phase=setup", "--key", keys["mac"],
                "--config", str(path)).exit_code == 0
    assert bus.state()["session"]["phase"] == "setup"
    path.write_text(json.dumps({**config, "director": {"port": 1}}))
    result = lume("send", "mac", "set_session_phase", "phase=setup", "--key", keys["mac"], "--config", str(path))
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


def test_watch_does_not_hang_when_the_state_does_not_change(bus) -> None:
    result = lume("watch", "--url", bus.url, "--count", "2", "--timeout", "500ms")
    assert result.exit_code == 1 and "timed out after 0.5s with 1 of 2 state frame(s)" in result.output
    result = lume("watch", "--url", bus.url, "--timeout", "300ms", "--json")  # no --count: a plain end
    assert result.exit_code == 0 and json.loads(result.output.splitlines()[-1])["type"] == "state"


def test_watch_a_bus_that_is_down_exits_1() -> None:
    assert lume("watch", "--url", "ws://127.0.0.1:9").exit_code == 1


def test_enroll_devices_and_revoke(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = lume("enroll", "mac", "mac-studio", "--new-key", "-o", str(tmp_path / "mac-studio.pem"),
                  "--name", "operator's Mac", "--state-dir", str(state))
    assert result.exit_code == 0, result.output
    key = dev.DeviceKey.load(tmp_path / "mac-studio.pem")
    assert (tmp_path / "mac-studio.pem").stat().st_mode & 0o777 == 0o600
    ios = dev.DeviceKey.generate("ios-1")
    assert lume("enroll", "ios", "ios-1", "--public-key", ios.public_key_text,
                "--state-dir", str(state)).exit_code == 0
    listed = json.loads(lume("devices", "--state-dir", str(state), "--json").output)
    assert [(d["device_id"], d["role"], d["public_key"]) for d in listed["enrolled"]] == \
        [("mac-studio", "mac", key.public_key_text), ("ios-1", "ios", ios.public_key_text)]
    doc = json.loads((state / OWN.identify.devices_file).read_text())
    assert dev.DeviceTrust.from_document(doc).lookup("ios-1") is not None  # director_devices.v1
    human = lume("devices", "--state-dir", str(state)).output
    assert "mac-studio" in human and "operator's Mac" in human
    # refused: the same id again, a small-order key, a malformed key, two key sources
    again = lume("enroll", "ios", "ios-1", "--public-key", ios.public_key_text, "--state-dir", str(state))
    assert again.exit_code == 2 and "already enrolled" in again.output
    small = dev.b64(bytes([1]) + bytes(31))
    result = lume("enroll", "ipad", "stage", "--public-key", small, "--state-dir", str(state))
    assert result.exit_code == 2 and "small-order" in result.output
    assert lume("enroll", "ipad", "stage", "--public-key", "xyz", "--state-dir", str(state)).exit_code == 2
    assert lume("enroll", "ipad", "stage", "--public-key", ios.public_key_text, "--new-key", "-o",
                str(tmp_path / "k.pem"), "--state-dir", str(state)).exit_code == 2
    assert lume("enroll", "ipad", "bad id!", "--new-key", "-o", str(tmp_path / "k.pem"),
                "--state-dir", str(state)).exit_code == 2
    assert lume("revoke", "ios-1", "--state-dir", str(state)).exit_code == 0
    assert lume("revoke", "ios-1", "--state-dir", str(state)).exit_code == 2
    listed = json.loads(lume("devices", "--state-dir", str(state), "--json").output)
    assert [d["device_id"] for d in listed["enrolled"]] == ["mac-studio"]


def test_a_new_key_is_never_enrolled_without_its_private_half(tmp_path: Path) -> None:
    state, key = tmp_path / "state", tmp_path / "mac-studio.pem"
    key.write_text("someone else's key")
    result = lume("enroll", "mac", "mac-studio", "--new-key", "-o", str(key), "--state-dir", str(state))
    assert result.exit_code == 2 and "never overwritten" in result.output
    assert key.read_text() == "someone else's key"  # nothing stored changed
    assert json.loads(lume("devices", "--state-dir", str(state), "--json").output)["enrolled"] == []
    # and a refused enrolment leaves no key file behind
    assert lume("enroll", "mac", "mac-studio", "--new-key", "-o", str(tmp_path / "a.pem"),
                "--state-dir", str(state)).exit_code == 0
    again = lume("enroll", "mac", "mac-studio", "--new-key", "-o", str(tmp_path / "b.pem"), "--state-dir", str(state))
    assert again.exit_code == 2 and "already enrolled" in again.output and not (tmp_path / "b.pem").exists()


def test_enrol_then_send_through_a_served_bus(tmp_path: Path) -> None:
    """The README path: enrol a device, serve, send as it."""
    state = tmp_path / "state"
    key = tmp_path / "mac-studio.pem"
    assert lume("enroll", "mac", "mac-studio", "--new-key", "-o", str(key), "--state-dir", str(state)).exit_code == 0
    proc, control = serve_subprocess(state)
    try:
        url = control.removesuffix(OWN.rules.control_path)
        result = lume("send", "mac", "set_session_phase", "phase=setup", "--key", str(key), "--address", url)
        assert result.exit_code == 0, result.output
    finally:
        proc.kill()
        proc.wait(TIMEOUT)


def test_serve_runs_until_ctrl_c_and_the_next_start_resumes(tmp_path: Path) -> None:
    proc, control = serve_subprocess(tmp_path / "state")
    try:
        with connect(control, proxy=None, open_timeout=TIMEOUT) as ws:
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "schema"
            challenge = json.loads(ws.recv(timeout=TIMEOUT))
            ws.send(json.dumps(KEYS["mac"].identify("mac", challenge)))
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
