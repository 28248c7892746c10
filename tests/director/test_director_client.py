"""DirectorClient against a real bus: commands, local ownership checks, reconnect, read-only, kicks."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from director_harness import KEYS, OWN, with_rules
from websockets.asyncio.server import serve as ws_serve

from lume.runtime.director import _consent as consent
from lume.runtime.director._client import (
    BusDown,
    CommandRefused,
    DirectorClient,
    NotOwner,
    SchemaMismatch,
    endpoint,
)
from lume.runtime.director._clock import FakeClock

CUE = {"id": "cue-1", "kind": "look_change", "payload": {"to": "look_2"}}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_endpoints_come_from_the_contract() -> None:
    r = OWN.rules
    assert endpoint("ws://h:1", "control") == f"ws://h:1{r.control_path}"
    assert endpoint("ws://h:1" + r.path, "state") == f"ws://h:1{r.state_path}"
    assert endpoint("ws://h:1/", "schema") == f"http://h:1{r.schema_path}"
    with pytest.raises(ValueError):
        endpoint("ws://h:1/elsewhere", "control")
    with pytest.raises(ValueError):
        DirectorClient("operator", None)


@pytest.mark.parametrize(("command", "role"), [(c, r) for c, row in OWN.commands.items() if c != "identify"
                                               for r in OWN.roles if r not in row.senders])
def test_the_client_refuses_locally_what_its_role_may_not_send(command: str, role: str) -> None:
    async def go() -> None:
        client = DirectorClient(role, KEYS[role], "ws://127.0.0.1:9")  # never connects: refused before the network
        with pytest.raises(NotOwner) as err:
            await client.send({"type": command})
        assert err.value.refusal.code == "field_ownership_violation"
        assert err.value.refusal.owner in OWN.roles and err.value.refusal.field in OWN.commands[command].writes
    run(go())


def test_three_directors_run_a_session(bus) -> None:
    async def go() -> None:
        async with DirectorClient("mac", KEYS["mac"], bus.url) as mac, DirectorClient("ios", KEYS["ios"], bus.url) as ios, \
                DirectorClient("ipad", KEYS["ipad"], bus.url) as ipad:
            assert mac.connected and not mac.read_only and mac.server_schema == OWN.rules.schema_version
            v = await mac.set_session(id="812cf768-d26f-4cc6-9cc2-d6fb9b46b090",
                                      started_at="2026-03-14T19:02:11.250Z")
            assert await mac.set_session_phase("live") == v + 1
            await ios.set_cue(CUE)
            await ios.set_cue({**CUE, "id": "cue-2"}, slot="next")
            await ios.set_look_active("look_2")
            await ios.set_look(wardrobe_id="black_silk", lighting_preset="warm_key_45")
            await ipad.set_performer_intent("ready")
            await ipad.set_performer_voice(voice_state="listening", comprehension_score=0.9)
            assert mac.identity is not None and mac.identity["device_id"] == KEYS["mac"].device_id
            await mac.propose_consent(["frame_capture", "reel_use"])
            await ipad.ack_consent()
            await ios.ack_consent()
            assert not ios.state["model_consent"]["acknowledged"]  # the Mac has not confirmed
            last = await mac.ack_consent()
            doc = await ipad.wait_for(lambda s: s["version"] == last)
            assert doc["session"]["phase"] == "live" and doc["cue"]["current"] == CUE
            assert doc["cue"]["next"]["id"] == "cue-2" and doc["look"]["active"] == "look_2"
            assert doc["performer"] == {"intent": "ready", "voice_state": "listening", "comprehension_score": 0.9}
            assert [a["role"] for a in doc["model_consent"]["acks"]] == ["ios", "mac"]
            assert [w["role"] for w in doc["model_consent"]["witnesses"]] == ["ipad"]
            assert consent.verify(doc, bus.server.public_key_text)
            assert sorted(doc["telemetry"]["active_directors"]) == sorted(OWN.roles)
            with pytest.raises(CommandRefused) as err:
                await ios.ack_consent()
            assert err.value.code == "consent_already_acknowledged"
            await mac.set_session_phase("paused")
            with pytest.raises(CommandRefused) as err:
                await ios.set_cue(CUE)
            assert err.value.code == "paused"
            # the server is the authority: an unchecked send of a non-owned command is refused there
            with pytest.raises(CommandRefused) as err:
                await ipad.send({"type": "set_cue", "cue": CUE}, check=False)
            assert (err.value.code, err.value.field, err.value.owner, err.value.role) == \
                ("field_ownership_violation", "cue.current", "ios", "ipad")
    run(go())


def test_read_only_while_the_bus_is_down_then_reconnects(start_bus, tmp_path: Path) -> None:
    first = start_bus(tmp_path / "state", clock=FakeClock())
    port = first.thread.port

    async def go() -> None:
        async with DirectorClient("ios", KEYS["ios"], first.url, heartbeat=False) as ios:
            version = await ios.set_cue(CUE)
            await asyncio.to_thread(first.close)
            while ios.connected:
                await asyncio.sleep(0.01)
            assert ios.read_only and ios.state is not None and ios.state["version"] == version
            with pytest.raises(BusDown):
                await ios.set_cue({**CUE, "id": "cue-2"})
            assert ios.state["cue"]["current"] == CUE  # last known state stays readable
            await asyncio.sleep(OWN.rules.reconnect_backoff_initial_s * 2)  # a retry or two fail
            second = await asyncio.to_thread(start_bus, tmp_path / "state", clock=FakeClock(), port=port)
            assert await ios.connect(timeout=10)
            assert ios.connects == 2 and not ios.read_only
            assert await ios.set_cue({**CUE, "id": "cue-2"}) > version
            assert second.state()["cue"]["current"]["id"] == "cue-2"
    run(go())


def test_a_kicked_client_stays_down(bus) -> None:
    async def go() -> None:
        async with DirectorClient("ipad", KEYS["ipad"], bus.url, heartbeat=False) as old, \
                DirectorClient("ipad", KEYS["ipad"], bus.url, heartbeat=False) as new:
            while old.kicked is None:
                await asyncio.sleep(0.01)
            assert old.kicked == OWN.rules.superseded_kick_reason and old.read_only
            with pytest.raises(BusDown):
                await old.set_performer_intent("hold")
            await asyncio.sleep(OWN.rules.reconnect_backoff_initial_s * 2)
            assert old.connects == 1 and not old.connected  # it did not come back to kick `new`
            assert await new.set_performer_intent("hold") is not None
    run(go())


def test_schema_mismatch_blocks_commands_until_acknowledged(start_bus) -> None:
    bus = start_bus(clock=FakeClock(), rules=with_rules(schema_version="99"))

    async def go() -> None:
        async with DirectorClient("mac", KEYS["mac"], bus.url, heartbeat=False) as mac:
            assert mac.server_schema == "99" and mac.schema_mismatch and mac.read_only
            with pytest.raises(SchemaMismatch):
                await mac.set_session_phase("live")
            mac.acknowledge_schema()
            assert await mac.set_session_phase("live") is not None
    run(go())


def test_heartbeats_keep_the_client_active(start_bus) -> None:
    rules = with_rules(heartbeat_interval_s=0.05, heartbeat_timeout_s=0.25)
    bus = start_bus(rules=rules, sweep=True)

    async def go() -> None:
        seen: list[list[str]] = []
        async with DirectorClient("ios", KEYS["ios"], bus.url, rules=rules, on_state=lambda s: seen.append(
                s["telemetry"]["active_directors"])) as ios:
            await asyncio.sleep(0.6)  # more than two timeouts
            assert ios.state["telemetry"]["active_directors"] == ["ios"]
            assert [] not in seen
        await asyncio.sleep(0.5)
        assert bus.state()["telemetry"]["active_directors"] == []
    run(go())


def test_unknown_state_fields_are_ignored() -> None:
    """A future server adds fields: the client keeps working (rules.client_unknown_fields)."""
    async def go() -> None:
        async def handler(ws) -> None:
            await ws.send(json.dumps({"type": "schema", "version": OWN.rules.schema_version}))
            await ws.send(json.dumps({"type": "challenge", "nonce": "n" * 43, "server": "s" * 43}))
            answer = json.loads(await ws.recv())
            assert (answer["type"], answer["role"], answer["nonce"]) == ("identify", "ipad", "n" * 43)
            await ws.send(json.dumps({"type": "state", "state": {"version": 7, "session": {"phase": "live",
                                      "venue": "studio b"}, "lighting_rig": {"dmx": 512}}}))
            await ws.send(json.dumps({"type": "hologram", "data": 1}))
            await ws.send(json.dumps({"type": "ack", "version": 8, "latency_ms": 1}))
            await ws.recv()
            await asyncio.sleep(0.2)

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with DirectorClient("ipad", KEYS["ipad"], f"ws://127.0.0.1:{port}", heartbeat=False) as ipad:
                assert ipad.state == {"version": 7, "session": {"phase": "live", "venue": "studio b"},
                                      "lighting_rig": {"dmx": 512}}
                assert ipad.connected and not ipad.read_only
    run(go())


def test_a_client_whose_device_is_not_enrolled_never_connects(bus) -> None:
    from lume.runtime.director._devices import DeviceKey

    async def go() -> None:
        client = DirectorClient("mac", DeviceKey.generate("stranger"), bus.url, heartbeat=False, open_timeout=2)
        try:
            assert not await client.connect(timeout=1)
            assert isinstance(client.last_error, CommandRefused)
            assert client.last_error.code == "unenrolled_device"
        finally:
            await client.close()
    run(go())
