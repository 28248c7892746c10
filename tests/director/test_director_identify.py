"""Authenticated directors: challenge-response identify against enrolled devices (issue 13 item 5).

Every refused answer gets an `error` and a new challenge, and never disturbs the connection
that holds the role: an unenrolled key, a key enrolled for another role, a replayed answer,
a forged or foreign-server signature. Keys that are not canonical prime-order points (the
small-order keys with which `R = identity, S = 0` verifies any message) never get enrolled.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from director_harness import KEYS, OWN, TIMEOUT, Harness, device, trust, with_rules

from lume.runtime import core
from lume.runtime.director import _devices as dev
from lume.runtime.director._bus import Bus
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._devices import DeviceFile, DeviceKey, DeviceListError, DeviceTrust

CUE = {"id": "cue-1", "kind": "capture", "payload": {"camera": "cam_a"}}
SMALL_ORDER = bytes([1]) + bytes(31)  # the identity point


def holder_still_works(bus: Harness, holder, role: str = "ios") -> None:
    assert bus.thread.call(lambda: bus.server.controls.get(role)) is not None
    assert holder.command({"type": "set_cue", "cue": CUE})["type"] == "ack"
    assert bus.state()["telemetry"]["active_directors"] == [role]


def test_an_unenrolled_device_is_refused_and_the_holder_keeps_its_role(bus: Harness) -> None:
    holder = bus.control("ios")
    intruder = bus.open(OWN.rules.control_path)
    reply = intruder.answer("ios", DeviceKey.generate("pi-in-the-corner"))
    assert (reply["code"], reply["field"], reply["role"]) == ("unenrolled_device", "device_id", None)
    assert "pi-in-the-corner" in reply["message"] and "director_devices.v1" in reply["message"]
    assert intruder.recv()["type"] == "challenge"  # a new one: the old is spent
    holder_still_works(bus, holder)
    assert bus.stats()["kicked"] == {}


def test_a_key_enrolled_for_another_role_is_refused(bus: Harness) -> None:
    holder = bus.control("ios")
    intruder = bus.open(OWN.rules.control_path)
    reply = intruder.answer("ios", KEYS["ipad"])  # the iPad's own key, claiming iOS
    assert (reply["code"], reply["field"], reply["allowed"]) == ("wrong_role", "role", ["ipad"])
    holder_still_works(bus, holder)


def test_a_replayed_identify_is_refused(bus: Harness) -> None:
    legit = bus.open(OWN.rules.control_path)
    answer = KEYS["ios"].identify("ios", legit.challenge())
    legit.send(answer)
    assert legit.recv_type("identified", "error")["type"] == "identified"
    attacker = bus.open(OWN.rules.control_path)
    attacker.challenge()
    attacker.send(answer)  # captured off the network, replayed on another connection
    reply = attacker.recv_type("error")
    assert (reply["code"], reply["field"]) == ("replayed_identify", "nonce")
    # an answer to another connection's open challenge is a replay too
    third = bus.open(OWN.rules.control_path)
    open_challenge = third.challenge()
    attacker.recv_type("challenge")
    attacker.send(KEYS["mac"].identify("mac", open_challenge))
    assert attacker.recv_type("error")["code"] == "replayed_identify"
    holder_still_works(bus, legit)


def test_a_challenge_the_server_never_issued_is_stale(bus: Harness) -> None:
    peer = bus.open(OWN.rules.control_path)
    peer.challenge()
    made_up = {"nonce": dev.b64(b"\x07" * 32), "server": bus.server.public_key_text}
    reply = peer.answer("mac", challenge=made_up)
    assert reply["code"] == "stale_challenge"


def test_a_signature_that_does_not_verify_is_refused(bus: Harness) -> None:
    holder = bus.control("ios")
    impostor = DeviceKey.generate(KEYS["ios"].device_id)  # the enrolled id, another key
    peer = bus.open(OWN.rules.control_path)
    reply = peer.answer("ios", impostor)
    assert (reply["code"], reply["field"]) == ("bad_signature", "signature")
    # a real signature, but for another server (its key is in the signed payload)
    challenge = peer.recv_type("challenge")
    elsewhere = {**challenge, "server": dev.b64(DeviceKey.generate("x").public_key)}
    frame = {**KEYS["ios"].identify("ios", elsewhere), "nonce": challenge["nonce"]}
    peer.send(frame)
    assert peer.recv_type("error")["code"] == "bad_signature"
    holder_still_works(bus, holder)


def test_too_many_refused_answers_close_the_connection(bus: Harness) -> None:
    peer = bus.open(OWN.rules.control_path)
    stranger = DeviceKey.generate("stranger")
    for attempt in range(OWN.identify.max_attempts):
        assert peer.answer("mac", stranger)["code"] == "unenrolled_device"
    assert peer.recv_type("kicked") == {"type": "kicked", "reason": "identify_refused"}
    stats = bus.stats()
    assert stats["kicked"] == {"identify_refused": 1}
    assert stats["rejected"] == {"unenrolled_device": OWN.identify.max_attempts}


def test_a_connection_that_never_identifies_is_closed(start_bus) -> None:
    bus = start_bus(clock=FakeClock(), rules=with_rules("identify", timeout_s=0.2))
    peer = bus.open(OWN.rules.control_path)
    assert peer.recv_type("kicked", timeout=TIMEOUT) == {"type": "kicked", "reason": "identify_timeout"}


def test_enrolment_is_read_while_the_bus_runs_and_revocation_refuses_the_next_command(
        start_bus, tmp_path: Path) -> None:
    devices = DeviceFile(tmp_path / "devices.json")
    bus = start_bus(clock=FakeClock(), devices=devices)
    peer = bus.open(OWN.rules.control_path)
    assert peer.answer("ios")["code"] == "unenrolled_device"  # nobody enrolled yet
    devices.enroll(device(KEYS["ios"], "ios"))
    assert peer.answer("ios")["type"] == "identified"
    assert peer.command({"type": "set_cue", "cue": CUE})["type"] == "ack"
    DeviceFile(devices.path).revoke(KEYS["ios"].device_id)  # `lume director revoke`, another process
    reply = peer.command({"type": "set_cue", "cue": CUE})
    assert (reply["code"], reply["role"]) == ("unenrolled_device", "ios")


def test_a_device_list_read_just_after_it_changed_is_read_again_until_it_settles(
        tmp_path: Path, monkeypatch) -> None:
    """input_limits.v1 `unchanged_files`: a revocation right after an enrolment, within the
    file system's timestamp granularity, could leave the list's stamp as it was."""
    import time

    from lume.runtime.core import settle_ns

    devices = DeviceFile(tmp_path / "devices.json")
    devices.enroll(device(KEYS["ios"], "ios"))
    reads = []
    monkeypatch.setattr(dev, "read_json", lambda path: reads.append(path) or core.read_json(path))
    for _ in range(3):
        assert devices.lookup(KEYS["ios"].device_id) is not None
    assert len(reads) == 3  # changed just now: read at every command
    time.sleep(settle_ns() / 1e9 + 0.05)
    for _ in range(3):
        assert devices.lookup(KEYS["ios"].device_id) is not None
    assert len(reads) == 4  # settled: read once more, then trusted on its stamp


def test_small_order_and_malformed_keys_are_never_enrolled(tmp_path: Path) -> None:
    devices = DeviceFile(tmp_path / "devices.json")
    forged = dev.Device("forger", "mac", SMALL_ORDER, "2026-03-14T18:00:00Z")
    with pytest.raises(DeviceListError, match="small-order"):
        devices.enroll(forged)
    assert not devices.path.exists()
    with pytest.raises(DeviceListError, match="base64url"):
        dev.public_key_from_text("not-a-key")
    with pytest.raises(DeviceListError):
        dev.public_key_from_text(dev.b64(b"\xff" * 32))  # not on the curve
    # a hand-edited list holding such a key is refused as a whole, naming the entry
    doc = trust().document()
    doc["devices"][1]["public_key"] = dev.b64(SMALL_ORDER)
    devices.path.write_text(json.dumps(doc))
    with pytest.raises(DeviceListError, match=r"devices\[1\]\.public_key"):
        devices.lookup("mac-1")
    # and the forgery that works against a lax verifier does not verify here
    assert not core.verify_ed25519(SMALL_ORDER, b"any payload", SMALL_ORDER + bytes(32))


def test_a_device_id_and_a_key_are_enrolled_once(tmp_path: Path) -> None:
    devices = DeviceFile(tmp_path / "devices.json")
    devices.enroll(device(KEYS["mac"], "mac"))
    with pytest.raises(DeviceListError, match="already enrolled"):
        devices.enroll(device(KEYS["mac"], "ios"))
    with pytest.raises(DeviceListError, match="one key per device"):
        devices.enroll(dev.Device("mac-2", "mac", KEYS["mac"].public_key, "2026-03-14T18:00:00Z"))
    devices.enroll(device(KEYS["mac"], "ios"), replace=True)
    assert [(d.device_id, d.role) for d in devices.devices()] == [("mac-1", "ios")]


def test_the_pure_bus_authenticates_links_with_an_injected_trust_list() -> None:
    """What a property checker drives: no server, a fake clock, its own device trust."""
    bus = Bus(clock=FakeClock(), devices=DeviceTrust([device(KEYS["mac"], "mac")]))
    link = bus.open()
    out = bus.receive(link, {"type": "set_session_phase", "phase": "live"})
    assert out.refusal is not None and out.refusal.code == "not_identified"
    out = bus.receive(link, KEYS["mac"].identify("mac", bus.challenge_frame(link)))
    assert out.identified == "mac" and [r["type"] for r in out.replies] == ["identified", "state"]
    assert bus.receive(link, {"type": "set_session_phase", "phase": "live"}).changed
    other = bus.open()
    out = bus.receive(other, KEYS["ios"].identify("ios", bus.challenge_frame(other)))
    assert out.refusal is not None and out.refusal.code == "unenrolled_device"
    assert out.replies[1]["type"] == "challenge" and bus.holder("mac") == "mac-1"
    # a trusted in-process caller may admit a role directly
    bus.admit("ios", "ios-test")
    assert bus.handle("ios", {"type": "set_cue", "cue": CUE}).changed


@pytest.mark.parametrize("kind", ["fifo", "device", "big"])
def test_a_key_file_that_is_not_a_small_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    import os

    path = tmp_path / "key.pem"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "big":
        path.write_bytes(b"-" * (core.input_limit("private_key").max_bytes + 1))
    else:
        path = Path("/dev/zero")
    with pytest.raises(DeviceListError, match="regular file|private_key|input_limits"):
        DeviceKey.load(path, "mac-1")
