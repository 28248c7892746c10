"""Ownership from director_ownership.v2, checked on a real bus for every field / role pair."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from director_harness import OWN, Harness, frame_for_field, trust

from lume.runtime.core import get
from lume.runtime.director import _frames as frames
from lume.runtime.director import _state as st
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._server import BusServer, ServerThread

ROLE_FIELDS = [(r.field, r.writer, r.command) for r in OWN.table.fields
               if r.writer in OWN.roles and r.command is not None]
PAIRS = [(path, owner, command, role) for path, owner, command in ROLE_FIELDS
         for role in OWN.roles if role != owner]


def _leaves(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        ref = prop.get("$ref", "")
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("lume:contract:director_state") else None
        if target and target.get("type") == "object" and "properties" in target and not target.get("anyOf"):
            yield from _leaves(target, defs, f"{path}.")
        else:
            yield path


def test_every_state_field_has_exactly_one_writer() -> None:
    c = get(st.CONTRACT)
    defs = c.raw["$defs"]
    leaves = sorted(_leaves(defs["DirectorState"], defs))
    rows = [r.field for r in OWN.table.fields]
    assert sorted(rows) == leaves
    assert len(rows) == len(set(rows))


def test_every_command_frame_has_a_row_and_senders_own_what_they_write() -> None:
    client_frames = {t for t, d in frames.definitions().items()
                     if get(frames.CONTRACT).raw["$defs"][d]["description"].startswith("Client")}
    assert set(OWN.commands) == client_frames
    for row in OWN.commands.values():
        for path in row.writes:
            assert {OWN.writer_of[path]} == set(row.senders), (row.name, path)
        for path in row.server_updates:
            assert OWN.writer_of[path] in ("server", "quorum"), (row.name, path)


def test_every_role_owned_field_is_writable_by_a_command() -> None:
    for path, owner, command in ROLE_FIELDS:
        assert path in OWN.commands[command].writes
        assert owner in OWN.commands[command].senders


@pytest.fixture(scope="module")
def shared_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    server = BusServer(tmp_path_factory.mktemp("ownership"), clock=FakeClock(), sweep=False, devices=trust())
    harness = Harness(server, ServerThread(server).start(), None)
    yield harness
    harness.close()


@pytest.mark.parametrize(("path", "owner", "command", "role"), PAIRS,
                         ids=[f"{p}-by-{r}" for p, _, _, r in PAIRS])
def test_non_owner_is_refused_naming_field_owner_and_role(shared_bus: Harness, path: str, owner: str,
                                                          command: str, role: str) -> None:
    peer = shared_bus.control(role)
    before = shared_bus.state()
    reply = peer.command(frame_for_field(path, command))
    assert reply == {"type": "error", "code": "field_ownership_violation", "field": path, "owner": owner,
                     "allowed": None, "role": role, "message": reply["message"]}
    assert path in reply["message"] and owner in reply["message"]
    after = shared_bus.state()
    assert after["version"] == before["version"] and after == before
    peer.close()


@pytest.mark.parametrize(("path", "owner", "command"), ROLE_FIELDS, ids=[p for p, _, _ in ROLE_FIELDS])
def test_owner_writes_the_field(shared_bus: Harness, path: str, owner: str, command: str) -> None:
    if command in OWN.rules.paused_blocks_commands:
        shared_bus.control("mac").command({"type": "set_session_phase", "phase": "live"})
    peer = shared_bus.control(owner)
    frame = frame_for_field(path, command)
    before = shared_bus.state()["version"]
    reply = peer.command(frame)
    assert reply == {"type": "ack", "version": before + 1}
    value = next(v for k, v in frame.items() if k not in ("type", "slot"))
    assert st.read(shared_bus.state(), path) == value
    peer.close()


@pytest.mark.parametrize("path", [r.field for r in OWN.table.fields if r.writer in ("server", "quorum")])
def test_no_frame_can_name_a_server_field(shared_bus: Harness, path: str) -> None:
    """Server/quorum fields have no frame key: smuggling one into a command is refused as unknown."""
    peer = shared_bus.control("mac")
    leaf = path.rsplit(".", 1)[-1]
    reply = peer.command({"type": "set_session_phase", "phase": "setup", leaf: None})
    assert reply["code"] == "invalid_frame" and leaf in reply["message"]
    peer.close()
