"""The bus over real WebSockets on loopback: protocol, order, consent, kicks, heartbeats."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from director_harness import KEYS, OWN, TIMEOUT, Harness, with_rules
from websockets.exceptions import ConnectionClosed

from lume.runtime.core import rfc3339
from lume.runtime.director import _consent as consent
from lume.runtime.director import _frames as frames
from lume.runtime.director import _state as st
from lume.runtime.director._clock import FakeClock

CUE = {"id": "cue-1", "kind": "capture", "payload": {"camera": "cam_a"}}


def cue(n: int) -> dict:
    return {"id": f"cue-{n}", "kind": "pose_hold", "payload": {"n": n}}


def test_schema_then_challenge_on_connect(bus: Harness) -> None:
    peer = bus.open(OWN.rules.control_path)
    assert peer.recv() == {"type": "schema", "version": OWN.rules.schema_version}
    challenge = peer.recv()
    assert challenge["type"] == "challenge" and challenge["server"] == bus.server.public_key_text
    assert bus.open(OWN.rules.control_path).challenge()["nonce"] != challenge["nonce"]  # one per connection


def test_get_schema_serves_the_frames_schema_and_the_ownership(bus: Harness) -> None:
    reply = httpx.get(bus.http + OWN.rules.schema_path, timeout=TIMEOUT)
    assert reply.status_code == 200
    doc = reply.json()
    assert not frames.document_problems(doc, "SchemaResponse")
    assert doc["version"] == OWN.rules.schema_version and doc["contract"] == "lume:contract:director_frames:v2"
    assert doc["schema"] == frames.schema()  # every frame, $refs inlined: enough to write a client
    assert {"IdentifyFrame", "ChallengeFrame", "SetCueFrame", "Cue"} <= set(doc["schema"]["$defs"])
    assert [c["command"] for c in doc["ownership"]["commands"]] == list(OWN.commands)
    assert doc["ownership"]["quorum"]["required_roles"] == list(OWN.quorum.required_roles)


def test_the_seeds_url_is_a_control_endpoint(bus: Harness) -> None:
    """The Swift DirectorBusClient connects to ws://HOST:9610/director (seed 004 Q2)."""
    peer = bus.open(OWN.rules.path)
    state = peer.identify("ios")
    assert state["telemetry"]["active_directors"] == ["ios"]
    assert peer.command({"type": "set_cue", "cue": CUE})["type"] == "ack"


def test_commands_before_identify_are_refused(bus: Harness) -> None:
    peer = bus.open(OWN.rules.control_path)
    peer.challenge()
    reply = peer.command({"type": "set_session_phase", "phase": "live"})
    assert reply["code"] == "not_identified" and reply["role"] is None
    assert bus.state()["version"] == 0


def test_identify_is_answered_with_the_roles_ownership_then_the_state(bus: Harness) -> None:
    watcher = bus.watcher()
    peer = bus.open(OWN.rules.control_path)
    hello = peer.answer("ios")
    assert hello == {"type": "identified", "role": "ios", "device_id": KEYS["ios"].device_id,
                     "owns": OWN.fields_of("ios"), "commands": OWN.commands_of("ios")}
    assert "cue.current" in hello["owns"] and "set_cue" in hello["commands"]
    state = peer.recv_type("state")["state"]
    assert state["telemetry"]["active_directors"] == ["ios"] and state["version"] == 1
    assert watcher.recv_type("state")["state"] == state
    peer.send(KEYS["mac"].identify("mac", {"nonce": "A" * 43, "server": bus.server.public_key_text}))
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
    assert bus.stats()["rejected"] == {"invalid_frame": 7, "unknown_command": 2}


def test_a_value_outside_its_set_names_the_field_and_lists_the_values(bus: Harness) -> None:
    """16 item 3: no "or 3 other candidates", no "not valid under any of the schemas"."""
    mac, ios = bus.control("mac"), bus.control("ios")
    reply = mac.command({"type": "set_session_phase", "phase": "rehearsal"})
    assert (reply["code"], reply["field"], reply["allowed"]) == ("invalid_frame", "phase",
                                                                 ["idle", "setup", "live", "paused", "wrap"])
    assert "idle, setup, live, paused, wrap" in reply["message"] and "candidates" not in reply["message"]
    reply = ios.command({"type": "set_cue", "cue": "intro"})
    assert reply["field"] == "cue" and "anyOf" not in reply["message"]
    assert '"intro" is not an object with id, kind, payload or null' in reply["message"]
    reply = ios.command({"type": "set_cue", "cue": {"id": "c", "kind": "wave", "payload": {}}})
    assert reply["field"] == "cue.kind" and reply["allowed"] == ["look_change", "pose_hold", "capture",
                                                                 "advance", "pause"]
    reply = ios.command({"type": "set_cue", "cue": CUE, "by": "ios"})
    assert reply["field"] == "by" and "unknown field by; the fields are cue, slot" in reply["message"]
    reply = ios.command({"type": "set_cue", "cue": {"id": "c", "kind": "capture"}})
    assert reply["field"] == "cue.payload" and "missing field 'payload'" in reply["message"]


def test_unknown_key_is_named_in_the_refusal(bus: Harness) -> None:
    peer = bus.control("ios")
    reply = peer.command({"type": "set_cue", "cue": {**CUE, "priority": 1}})
    assert reply["code"] == "invalid_frame" and "priority" in reply["message"]
    assert frames.CONTRACT in reply["message"]


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


def test_replies_to_one_connection_keep_their_order(bus: Harness) -> None:
    """An error for a later frame never overtakes the ack of an earlier one still being written."""
    ios = bus.control("ios")
    for i in range(30):
        ios.send({"type": "set_cue", "cue": cue(i)})
        ios.send({"type": "set_cue", "cue": cue(i), "slot": "nowhere"})
        ios.send({"type": "heartbeat"})
    kinds = [ios.recv_type("ack", "error") for _ in range(90)]
    assert [k["type"] for k in kinds] == ["ack", "error", "ack"] * 30
    acks = [k["version"] for k in kinds if k["type"] == "ack"]
    assert acks == sorted(acks)


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


def test_consent_needs_mac_and_ios_and_issues_a_token_naming_them(bus: Harness, tmp_path: Path) -> None:
    assert bus.clock is not None
    mac, ios = bus.control("mac"), bus.control("ios")
    assert mac.command({"type": "ack_consent"})["code"] == "no_consent_proposal"
    assert mac.command({"type": "propose_consent", "scope": ["frame_capture", "reel_use"]})["type"] == "ack"
    v = mac.command({"type": "ack_consent"})["version"]
    assert mac.command({"type": "ack_consent"}) == {"type": "ack", "version": v}  # same role: no change
    doc = bus.state()["model_consent"]
    assert [a["role"] for a in doc["acks"]] == ["mac"] and not doc["acknowledged"] and doc["token"] is None
    reply = ios.command({"type": "ack_consent"})
    assert reply == {"type": "ack", "version": v + 1}
    state = bus.state()
    c = state["model_consent"]
    assert c["acknowledged"] and c["proposed_by"] == "mac" and c["witnesses"] == []
    now = rfc3339(bus.clock.now())
    assert c["acks"] == [{"role": "mac", "device_id": KEYS["mac"].device_id, "at": now},
                         {"role": "ios", "device_id": KEYS["ios"].device_id, "at": now}]
    assert c["expires_at"] == rfc3339(bus.clock.now() + timedelta(seconds=OWN.quorum.token_ttl_s))
    pub = (tmp_path / "state" / consent.PUBLIC_KEY_FILE).read_text()
    assert pub.strip() == bus.server.public_key_text
    assert consent.verify(state, pub)
    # the token signs who acknowledged: naming another device breaks it
    forged = st.write(state, "model_consent.acks", [{**c["acks"][0], "device_id": "someone-else"}, c["acks"][1]])
    assert not consent.verify(forged, pub)
    assert not consent.verify(st.write(state, "model_consent.scope", ["frame_capture"]), pub)
    assert ios.command({"type": "ack_consent"})["code"] == "consent_already_acknowledged"
    # a new proposal needs a new quorum
    mac.command({"type": "propose_consent", "scope": ["frame_capture"]})
    c = bus.state()["model_consent"]
    assert (c["acknowledged"], c["token"], c["expires_at"], c["acks"], c["witnesses"]) == (False, None, None, [], [])


def test_ipad_and_ios_without_the_mac_give_no_consent(bus: Harness) -> None:
    """Issue 13's attack: iOS + iPad acknowledgements (the iPad a witness only) are not consent."""
    mac, ios, ipad = bus.control("mac"), bus.control("ios"), bus.control("ipad")
    mac.command({"type": "propose_consent", "scope": ["frame_capture"]})
    assert ipad.command({"type": "ack_consent"})["type"] == "ack"
    assert ios.command({"type": "ack_consent"})["type"] == "ack"
    c = bus.state()["model_consent"]
    assert (c["acknowledged"], c["token"]) == (False, None)
    assert [a["role"] for a in c["acks"]] == ["ios"]
    assert [(w["role"], w["device_id"]) for w in c["witnesses"]] == [("ipad", KEYS["ipad"].device_id)]
    mac.command({"type": "ack_consent"})
    state = bus.state()
    assert state["model_consent"]["acknowledged"] and consent.verify(state, bus.server.public_key_text)
    assert [w["role"] for w in state["model_consent"]["witnesses"]] == ["ipad"]  # signed into the token too


def test_consent_token_is_revoked_at_expiry(bus: Harness) -> None:
    assert bus.clock is not None
    mac, ios = bus.control("mac"), bus.control("ios")
    mac.command({"type": "propose_consent", "scope": ["reel_use"]})
    mac.command({"type": "ack_consent"})
    ios.command({"type": "ack_consent"})
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
    assert bus.stats()["kicked"] == {"superseded": 1}


def test_heartbeats_are_acknowledged_keep_a_role_active_and_silence_expires_it(bus: Harness) -> None:
    clock = bus.clock
    assert clock is not None
    timeout = OWN.rules.heartbeat_timeout_s
    mac, ios, watcher = bus.control("mac"), bus.control("ios"), bus.watcher()
    assert bus.state()["telemetry"]["active_directors"] == ["mac", "ios"]
    clock.advance(timeout - 1)
    version = bus.state()["version"]
    assert mac.command({"type": "heartbeat"}) == {"type": "ack", "version": version}
    assert mac.command({"type": "set_session_phase", "phase": "live"})["type"] == "ack"
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
    # a heartbeat brings the role back (a new version, acknowledged with it)
    assert ios.command({"type": "heartbeat"}) == {"type": "ack", "version": doc["version"] + 1}
    assert watcher.recv_type("state")["state"]["telemetry"]["active_directors"] == ["ios"]


def test_the_sweeper_expires_silent_roles_on_its_own(start_bus) -> None:
    rules = with_rules(heartbeat_interval_s=0.05, heartbeat_timeout_s=0.2)
    bus = start_bus(rules=rules, sweep=True)
    watcher = bus.watcher()
    start = time.monotonic()  # before the identify: the role is seen no earlier than this
    bus.control("ipad")
    assert watcher.recv_type("state")["state"]["telemetry"]["active_directors"] == ["ipad"]
    assert watcher.recv_type("state", timeout=TIMEOUT)["state"]["telemetry"]["active_directors"] == []
    assert time.monotonic() - start >= 0.2 * 0.9


def test_state_endpoint_is_read_only_and_follows_every_change(bus: Harness) -> None:
    watcher = bus.watcher()
    watcher.send({"type": "set_session_phase", "phase": "live"})
    reply = watcher.recv_type("error")
    assert reply["code"] == "invalid_frame" and "read-only" in reply["message"]
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
    ios, watcher = bus.control("ios"), bus.watcher()
    ios.command({"type": "set_cue", "cue": CUE})
    store = bus.server.store
    assert store is not None
    before, files = bus.state(), sorted(p.name for p in store.dir.iterdir())

    def full(items):  # the disk fills up half-way through the batch
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lume.runtime.core.write_group", full)
    reply = ios.command({"type": "set_cue", "cue": cue(2)})
    assert reply["code"] == "internal_error" and "No space left" in reply["message"]
    assert bus.state() == before
    assert sorted(p.name for p in store.dir.iterdir()) == files
    # watchers saw the withdrawn version, then the durable state again
    while watcher.recv_type("state")["state"]["version"] != before["version"] + 1:
        pass
    assert watcher.recv_type("state")["state"] == before
    monkeypatch.undo()
    assert ios.command({"type": "set_cue", "cue": cue(2)}) == {"type": "ack", "version": before["version"] + 1}


def test_stats_count_connections(bus: Harness) -> None:
    bus.control("mac"), bus.watcher(), bus.open(OWN.rules.control_path).challenge()
    bus.flush()  # the identify's version (active roles) is made durable off the loop: wait for it
    reply = httpx.get(bus.http + OWN.rules.stats_path, timeout=TIMEOUT).json()
    assert not frames.document_problems(reply, "StatsResponse")
    assert reply["connections"] == {"identified": 1, "anonymous": 1, "watchers": 1}
    assert reply["version"] == reply["durable_version"] == bus.state()["version"]


def test_connections_send_without_nagle_delay(bus: Harness) -> None:
    """An ack follows the state broadcast on the same socket: with Nagle on it waited for the
    client's delayed ACK (40 ms a lone command); the bus's sockets set TCP_NODELAY."""
    import socket

    bus.watcher()

    def nodelay() -> list[int]:
        return [c.raw.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                for c in bus.server.watchers if c.raw is not None]

    flags = bus.thread.call(nodelay)
    assert flags and all(flags)


def test_without_raw_socket_access_the_asgi_send_carries_the_same_frames(start_bus, monkeypatch) -> None:
    """Under another WebSocket implementation (no sans-I/O protocol to write to) every frame
    goes through the ASGI send, in the same order, with the same content."""
    from lume.runtime.director import _wire

    monkeypatch.setattr(_wire.RawSocket, "of", classmethod(lambda cls, protocol: None))
    bus = start_bus()
    ios, watcher = bus.control("ios"), bus.watcher()
    assert bus.thread.call(lambda: [c.raw for c in bus.server.watchers]) == [None]
    for n in range(3):
        reply = ios.command({"type": "set_cue", "cue": CUE | {"id": f"c{n}"}})
        assert reply["type"] == "ack"
        state = watcher.recv_type("state")["state"]
        assert state["version"] == reply["version"] and state["cue"]["current"]["id"] == f"c{n}"
