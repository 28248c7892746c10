"""A real director bus on loopback (uvicorn in a thread) and small synchronous WebSocket peers.

Every role has an enrolled test device (`KEYS[role]`, device id `<role>-1`); `Peer.identify`
answers the server's challenge with that device's signature, as a real director does.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from lume.runtime.core import get, rfc3339
from lume.runtime.director import _frames as frames
from lume.runtime.director import _ownership as own
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._devices import Device, DeviceKey, DeviceTrust
from lume.runtime.director._server import BusServer, ServerThread

TIMEOUT = 5.0
OWN = own.load()
KEYS = {role: DeviceKey.generate(f"{role}-1") for role in OWN.roles}


def device(key: DeviceKey, role: str) -> Device:
    return Device(key.device_id, role, key.public_key, rfc3339(FakeClock().now()))


def trust(*extra: tuple[DeviceKey, str]) -> DeviceTrust:
    """Every role's test device enrolled, plus `extra` (key, role) pairs."""
    return DeviceTrust([*(device(k, r) for r, k in KEYS.items()), *(device(k, r) for k, r in extra)])


def with_rules(section: str = "rules", **changes: Any) -> own.Ownership:
    """The contract's ownership with some values of one section (`rules`, `limits`,
    `identify`, `quorum`) replaced: short timeouts and small limits in tests."""
    from dataclasses import replace

    part = getattr(OWN.table, section)
    table = OWN.table.model_copy(update={section: part.model_copy(update=changes)})
    return replace(OWN, table=table)


class Peer:
    """One synchronous WebSocket connection; every frame it receives is checked against the contract."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any] | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        frame = json.loads(self.ws.recv(timeout=timeout))
        found = frames.problems(frame)
        assert not found, f"server frame breaks {frames.CONTRACT}: {found[0]} in {frame}"
        self.seen.append(frame)
        return frame

    def recv_type(self, *types: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame of one of `types`, skipping others (e.g. state broadcasts)."""
        while True:
            frame = self.recv(timeout)
            if frame["type"] in types:
                return frame

    def challenge(self) -> dict[str, Any]:
        """The next challenge frame (the first one follows `schema` on connect)."""
        return self.recv_type("challenge")

    def answer(self, role: str, key: DeviceKey | None = None,
               challenge: dict[str, Any] | None = None) -> dict[str, Any]:
        """Answer a challenge as `role` with `key` (default: the role's test device); returns the
        server's first reply (`identified` or `error`)."""
        frame = (key or KEYS[role]).identify(role, challenge or self.challenge())
        self.send(frame)
        return self.recv_type("identified", "error")

    def identify(self, role: str, key: DeviceKey | None = None) -> dict[str, Any]:
        reply = self.answer(role, key)
        assert reply["type"] == "identified", reply
        return self.recv_type("state")["state"]

    def command(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a command and return its reply (`ack` or `error`)."""
        self.send(frame)
        return self.recv_type("ack", "error")

    def close(self) -> None:
        self.ws.close()


class Harness:
    """A running bus: its BusServer, its thread, a fake clock and a way to open peers."""

    def __init__(self, server: BusServer, thread: ServerThread, clock: FakeClock | None) -> None:
        self.server, self.thread, self.clock = server, thread, clock
        self.peers: list[Peer] = []

    @property
    def http(self) -> str:
        return self.url.replace("ws://", "http://")

    @property
    def url(self) -> str:
        return self.thread.url

    def open(self, path: str, max_queue: int | None = None) -> Peer:
        """A connection; `max_queue` frames received but not read make it stop reading the socket."""
        # __enter__: the non-legacy form of websockets >= 17 (also fine on older releases)
        peer = Peer(connect(self.url + path, proxy=None, compression=None, open_timeout=TIMEOUT,
                            max_queue=max_queue, close_timeout=1, max_size=None).__enter__())
        self.peers.append(peer)
        return peer

    def control(self, role: str | None = None, max_queue: int | None = None) -> Peer:
        peer = self.open(OWN.rules.control_path, max_queue)
        if role is not None:
            peer.identify(role)
        return peer

    def stats(self) -> dict[str, Any]:
        return self.thread.call(self.server.stats)

    def flush(self) -> None:
        """Wait until every applied version is durable (acks sent)."""
        self.thread.call(self.server.flush)

    def watcher(self) -> Peer:
        peer = self.open(OWN.rules.state_path)
        assert peer.recv()["type"] == "schema"
        assert peer.recv()["type"] == "state"
        return peer

    def state(self) -> dict[str, Any]:
        return self.thread.call(lambda: self.server.bus.state)

    def tick(self) -> Any:
        return self.thread.call(self.server.tick)

    def close(self) -> None:
        for peer in self.peers:
            with contextlib.suppress(Exception):  # already closed by the server
                peer.close()
        self.thread.stop()


@pytest.fixture
def start_bus(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """start_bus(state_dir=..., clock=..., rules=..., sweep=..., port=...) -> a running Harness."""
    running: list[Harness] = []

    def start(state_dir: Path | None = tmp_path / "state", *, clock: FakeClock | None = None,
              rules: own.Ownership | None = None, sweep: bool = False, port: int = 0,
              devices: Any = None) -> Harness:
        server = BusServer(state_dir, clock=clock, rules=rules, sweep=sweep,
                           devices=trust() if devices is None else devices)
        harness = Harness(server, ServerThread(server, port=port).start(), clock)
        running.append(harness)
        return harness

    yield start
    for harness in running:
        harness.close()


@pytest.fixture
def bus(start_bus: Callable[..., Harness]) -> Harness:
    """A bus with a fake clock (sweeper off: tests call `tick()` after moving the clock)."""
    return start_bus(clock=FakeClock())


def frame_examples(command: str) -> list[dict[str, Any]]:
    return [e for e in get(frames.CONTRACT).examples if e.get("type") == command]


def frame_for_field(path: str, command: str) -> dict[str, Any]:
    """A valid frame of `command` (from the contract's examples) that writes just `path`."""
    leaf = path.rsplit(".", 1)[-1]
    for ex in frame_examples(command):
        if leaf in ex:
            return {"type": command, leaf: ex[leaf]}
        if "cue" in ex and ex.get("slot", frames.default(command, "slot")) == leaf:
            return ex
    (ex,) = frame_examples(command)[:1]
    assert len([k for k in ex if k != "type"]) == 1, f"cannot tell which key of {ex} writes {path}"
    return ex


def enroll_all(state_dir: Path) -> None:
    """Every role's test device in the state folder's device file (what `lume director enroll` writes)."""
    from lume.runtime.director._devices import DeviceFile

    devices = DeviceFile(state_dir / OWN.identify.devices_file)
    for role, key in KEYS.items():
        if devices.lookup(key.device_id) is None:
            devices.enroll(device(key, role))


def serve_subprocess(state_dir: Path) -> tuple[subprocess.Popen, str]:
    """`lume director serve --port 0 --json` as a real process, every role's test device
    enrolled; returns it and its control URL."""
    enroll_all(state_dir)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lume.runtime.cli", "director", "serve", "--port", "0",
                             "--state-dir", str(state_dir), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(proc.stderr.read() if proc.stderr else "serve printed nothing")
    return proc, json.loads(line)["control"]
