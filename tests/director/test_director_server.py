"""The bus over real WebSockets on loopback: protocol, order, consent, kicks, heartbeats."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from director_harness import OWN, TIMEOUT, Harness, with_rules
from websockets.exceptions import ConnectionClosed

from lume.runtime.core import rfc3339
from lume.runtime.director import _consent as consent
from lume.runtime.director import _frames as frames
from lume.runtime.director import _state as st
from lume.runtime.director._clock import FakeClock

CUE = {"id": "cue-1", "kind": "capture", "payload": {"camera": "cam_a"}}


def cue(n: int) -> dict:
    return {"id": f"cue-{n}", "kind": "pose_hold", "payload": {"n": n}}


def test_schema_frame_first_and_get_schema(bus: Harness) -> None:
    peer = bus.open(OWN.rules.control_path)
    assert peer.recv() == {"type": "schema", "version": OWN.rules.schema_version}
    reply = httpx.get(bus.url.replace("ws://", "http://") + OWN.rules.schema_path, timeout=TIMEOUT)
    assert reply.status_code == 200
    assert reply.json() == frames.schema(OWN.rules.schema_version)


def test_commands_before_identify_are_refused(bus: Harness) -> None:
    peer = bus.open(OWN.rules.control_path)
    peer.recv()
    reply = peer.command({"type": "set_session_phase", "phase": "live"})
    assert reply["code"] == "not_identified" and reply["role"] is None
    assert bus.state()["version"] == 0


def test_identify_replies_state_and_marks_the_role_active(bus: Harness) -> None:
    watcher = bus.watcher()
    peer = bus.open(OWN.rules.control_path)
    state = peer.identify("ios")
    assert state["telemetry"]["active_directors"] == ["ios"] and state["version"] == 1
    assert watcher.recv_type("state")["state"] == state
    peer.send({"type": "identify", "role": "mac"})
    assert peer.recv_type("error")["code"] == "already_identified"


def test_bad_frames_are_refused_and_change_nothing(bus: Harness) -> None:
    peer = bus.control("mac")
    version = bus.state()["version"]
    cases = [
        ("{not json", "invalid_frame"),
        (json.dumps([1, 2]), "invalid_frame"),
        (json.dumps({"phase": "live"}), "invalid_frame"),
        (json.dumps({"type": "launch_missiles"}), "unknown_command"),
        (json.dumps({"type": "ack", "version": 3}), "unknown_command"),
        (json.dumps({"type": "set_session_phase", "phase": "live", "by": "mac"}), "invalid_frame"),
        (json.dumps({"type": "set_session_phase", "phase": "dancing"}), "invalid_frame"),
        (json.dumps({"type": "set_session"}), "invalid_frame"),
    ]
    for text, code in cases:
        peer.send(text)
        reply = peer.recv_type("error")
        assert reply["code"] == code, (text, reply)
        assert reply["role"] == "mac"
    peer.ws.send(b"\x00binary")
    assert peer.recv_type("error")["code"] == "invalid_frame"
    assert bus.state()["version"] == version


def test_unknown_key_is_named_in_the_refusal(bus: Harness) -> None:
    peer = bus.control("ios")
    reply = peer.command({"type": "set_cue", "cue": CUE, "by": "ios"})
    assert reply["code"] == "invalid_frame"
    assert "'by' was unexpected" in reply["message"] and frames.CONTRACT in reply["message"]
    reply = peer.command({"type": "set_cue", "cue": {**CUE, "priority": 1}})
    assert reply["code"] == "invalid_frame" and "priority" in reply["message"]


def test_receive_order_and_one_version_per_accepted_command(bus: Harness) -> None:
    ios, mac, watcher = bus.control("ios"), bus.control("mac"), bus.watcher()
    start = bus.state()["version"]
    n = 40
    for i in range(n):  # pipelined: no waiting for acks
        ios.send({"type": "set_cue", "cue": cue(i)})
        mac.send({"type": "set_session_phase", "phase": "live" if i % 2 else "setup"})
    ios_acks = [ios.recv_type("ack")["version"] for _ in range(n)]
    mac_acks = [mac.recv_type("ack")["version"] for _ in range(n)]
    assert ios_acks == sorted(ios_acks) and mac_acks == sorted(mac_acks)
    assert sorted(ios_acks + mac_acks) == list(range(start + 1, start + 2 * n + 1))
    doc = bus.state()
    assert doc["version"] == start + 2 * n
    history = doc["cue"]["history"][-n:]
    assert [h["id"] for h in history] == [f"cue-{i}" for i in range(n)]
    assert [h["applied_version"] for h in history] == ios_acks
    # every version was broadcast to the watcher, in order
    versions = []
    while len(versions) < 2 * n:
        versions.append(watcher.recv_type("state")["state"]["version"])
    assert versions == list(range(start + 1, start + 2 * n + 1))


def test_cue_history_is_appended_by_the_server(bus: Harness) -> None:
    assert bus.clock is not None
    ios = bus.control("ios")
    ack = ios.command({"type": "set_cue", "cue": CUE})
    ios.command({"type": "set_cue", "slot": "next", "cue": cue(2)})
    ios.command({"type": "set_cue", "cue": None})
    doc = bus.state()
    assert doc["cue"]["current"] is None and doc["cue"]["next"] == cue(2)
    assert doc["cue"]["history"] == [{**CUE, "applied_at": rfc3339(bus.clock.now()),
                                      "applied_version": ack["version"]}]


def test_cues_do_not_advance_while_paused(bus: Harness) -> None:
    ios, mac = bus.control("ios"), bus.control("mac")
    assert ios.command({"type": "set_cue", "cue": CUE})["type"] == "ack"
    mac.command({"type": "set_session_phase", "phase": OWN.rules.paused_phase})
    before = bus.state()
    reply = ios.command({"type": "set_cue", "cue": cue(2)})
    assert reply["code"] == "paused" and reply["role"] == "ios"
    assert bus.state() == before
    # other commands still work while paused; cues resume after
    assert ios.command({"type": "set_look_active", "id": "look_2"})["type"] == "ack"
    mac.command({"type": "set_session_phase", "phase": "live"})
    assert ios.command({"type": "set_cue", "cue": cue(2)})["type"] == "ack"


def test_consent_needs_two_distinct_roles_and_issues_a_verifiable_token(bus: Harness, tmp_path: Path) -> None:
    assert bus.clock is not None
    mac, ios = bus.control("mac"), bus.control("ios")
    assert mac.command({"type": "ack_consent"})["code"] == "no_consent_proposal"
    assert mac.command({"type": "propose_consent", "scope": ["frame_capture", "reel_use"]})["type"] == "ack"
    v = mac.command({"type": "ack_consent"})["version"]
    assert mac.command({"type": "ack_consent"}) == {"type": "ack", "version": v}  # same role: no change
    mac2 = bus.control("mac")  # a second connection of the same role is still the same role
    assert mac2.command({"type": "ack_consent"}) == {"type": "ack", "version": v}
    doc = bus.state()["model_consent"]
    assert doc["acks"] == ["mac"] and not doc["acknowledged"] and doc["token"] is None
    reply = ios.command({"type": "ack_consent"})
    assert reply == {"type": "ack", "version": v + 1}
    state = bus.state()
    c = state["model_consent"]
    assert c["acknowledged"] and c["acks"] == ["mac", "ios"] and c["proposed_by"] == "mac"
    assert c["expires_at"] == rfc3339(bus.clock.now() + timedelta(seconds=OWN.quorum.token_ttl_s))
    pub = (tmp_path / "state" / consent.PUBLIC_KEY_FILE).read_text()
    assert pub.strip() == bus.server.public_key_text
    assert consent.verify(state, pub)
    forged = st.write(state, "model_consent.scope", ["frame_capture"])
    assert not consent.verify(forged, pub)
    assert ios.command({"type": "ack_consent"})["code"] == "consent_already_acknowledged"
    # a new proposal needs a new quorum
    mac2.command({"type": "propose_consent", "scope": ["frame_capture"]})
    c = bus.state()["model_consent"]
    assert (c["acknowledged"], c["token"], c["expires_at"], c["acks"]) == (False, None, None, [])


def test_consent_token_is_revoked_at_expiry(bus: Harness) -> None:
    assert bus.clock is not None
    mac, ipad = bus.control("mac"), bus.control("ipad")
    mac.command({"type": "propose_consent", "scope": ["reel_use"]})
    mac.command({"type": "ack_consent"})
    ipad.command({"type": "ack_consent"})
    assert bus.state()["model_consent"]["acknowledged"]
    bus.clock.advance(OWN.quorum.token_ttl_s - 1)
    bus.tick()
    assert bus.state()["model_consent"]["acknowledged"]
    bus.clock.advance(1)
    bus.tick()
    c = bus.state()["model_consent"]
    assert (c["acknowledged"], c["token"], c["expires_at"], c["acks"]) == (False, None, None, [])
    assert c["scope"] == ["reel_use"] and c["proposed_by"] == "mac"


def test_newest_connection_of_a_role_wins_and_the_older_is_kicked(bus: Harness) -> None:
    old = bus.control("ios")
    new = bus.control("ios")
    assert old.recv_type("kicked") == {"type": "kicked", "reason": OWN.rules.superseded_kick_reason}
    with pytest.raises(ConnectionClosed):
        while True:
            old.ws.recv(timeout=TIMEOUT)
    assert new.command({"type": "set_cue", "cue": CUE})["type"] == "ack"
    assert bus.state()["telemetry"]["active_directors"] == ["ios"]
    assert list(bus.thread.call(lambda: list(bus.server.controls))) == ["ios"]


def test_heartbeats_keep_a_role_active_and_silence_expires_it(bus: Harness) -> None:
    clock = bus.clock
    assert clock is not None
    timeout = OWN.rules.heartbeat_timeout_s
    mac, ios, watcher = bus.control("mac"), bus.control("ios"), bus.watcher()
    assert bus.state()["telemetry"]["active_directors"] == ["mac", "ios"]
    clock.advance(timeout - 1)
    mac.send({"type": "heartbeat"})  # reply: none
    mac.send({"type": "heartbeat"})
    assert mac.command({"type": "set_session_phase", "phase": "live"})["type"] == "ack"  # sync point
    clock.advance(1)
    bus.tick()
    assert bus.state()["telemetry"]["active_directors"] == ["mac"]
    clock.advance(timeout)
    bus.tick()
    doc = bus.state()
    assert doc["telemetry"]["active_directors"] == []
    seen = []
    while not seen or seen[-1] != doc["version"]:
        seen.append(watcher.recv_type("state")["state"]["version"])
    # a heartbeat brings the role back
    ios.send({"type": "heartbeat"})
    assert watcher.recv_type("state")["state"]["telemetry"]["active_directors"] == ["ios"]


def test_the_sweeper_expires_silent_roles_on_its_own(start_bus) -> None:
    rules = with_rules(heartbeat_interval_s=0.05, heartbeat_timeout_s=0.2)
    bus = start_bus(rules=rules, sweep=True)
    watcher = bus.watcher()
    bus.control("ipad")
    assert watcher.recv_type("state")["state"]["telemetry"]["active_directors"] == ["ipad"]
    start = time.monotonic()
    assert watcher.recv_type("state", timeout=TIMEOUT)["state"]["telemetry"]["active_directors"] == []
    assert time.monotonic() - start >= 0.2 * 0.9


def test_state_endpoint_is_read_only_and_follows_every_change(bus: Harness) -> None:
    watcher = bus.watcher()
    watcher.send({"type": "set_session_phase", "phase": "live"})
    reply = watcher.recv_type("error")
    assert reply["code"] == "invalid_frame" and "read-only" in reply["message"]
    watcher.send({"type": "identify", "role": "mac"})
    assert watcher.recv_type("state")["state"]["version"] == 0
    assert bus.state()["telemetry"]["active_directors"] == []  # identify binds nothing here
    mac = bus.control("mac")
    mac.command({"type": "set_session_phase", "phase": "live"})
    assert watcher.recv_type("state")["state"]["telemetry"]["active_directors"] == ["mac"]
    assert watcher.recv_type("state")["state"]["session"]["phase"] == "live"


def test_stopping_the_server_tells_connections_why(start_bus) -> None:
    bus = start_bus(clock=FakeClock())
    mac, watcher = bus.control("mac"), bus.watcher()
    bus.thread.stop()
    assert mac.recv_type("kicked") == {"type": "kicked", "reason": "server_shutdown"}
    assert watcher.recv_type("kicked") == {"type": "kicked", "reason": "server_shutdown"}


def test_a_failed_write_refuses_the_command_and_keeps_state_and_disk(bus: Harness, monkeypatch) -> None:
    ios = bus.control("ios")
    ios.command({"type": "set_cue", "cue": CUE})
    store = bus.server.store
    assert store is not None
    before, files = bus.state(), sorted(p.name for p in store.dir.iterdir())

    def torn(path, doc):  # the disk fills up half-way through the temp file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lume.runtime.core.write_bytes", torn)
    reply = ios.command({"type": "set_cue", "cue": cue(2)})
    assert reply["code"] == "internal_error" and "No space left" in reply["message"]
    assert bus.state() == before
    assert sorted(p.name for p in store.dir.iterdir()) == files
    monkeypatch.undo()
    assert ios.command({"type": "set_cue", "cue": cue(2)}) == {"type": "ack", "version": before["version"] + 1}
