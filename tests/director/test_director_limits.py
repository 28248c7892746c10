"""Bounds (issue 18): a client that does not read is dropped, frames and states have a size
limit, and the contracts' field bounds keep a valid state under its limit."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

import pytest
from director_harness import KEYS, OWN, TIMEOUT, with_rules
from websockets.exceptions import ConnectionClosed

from lume.runtime.core import get
from lume.runtime.director import _frames as frames
from lume.runtime.director import _state as st
from lume.runtime.director._clock import FakeClock


def big_cue(n: int) -> dict:
    """A cue at the contract's bounds: id 128 characters, 8 payload keys of 128-character values."""
    return {"id": f"{n:0>128}", "kind": "capture",
            "payload": {f"k{i}_{'x' * 28}": "v" * 128 for i in range(8)}}


class RawWebSocket:
    """A WebSocket client by hand over a socket with a tiny receive buffer: it reads only when
    told to, so once it stops, the server's writes back up (what a stuck client does)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        self.buf = self.buf.split(b"\r\n\r\n", 1)[1]

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self) -> dict:
        head = self._take(2)
        size = head[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._take(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._take(8))[0]
        return json.loads(self._take(size))

    def send(self, frame: dict) -> None:
        data, mask = json.dumps(frame).encode(), os.urandom(4)
        head = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(data)) if len(data) > 125 \
            else bytes([0x81, 0x80 | len(data)])
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self) -> None:
        self.sock.close()


def wait_for(predicate, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_watcher_that_never_reads_is_kicked_and_released(start_bus) -> None:
    rules = with_rules("limits", outbound_queue_frames=16, outbound_queue_bytes=1 << 20)
    bus = start_bus(clock=FakeClock(), rules=rules)
    reader = bus.watcher()  # a well-behaved watcher beside it
    stuck = RawWebSocket(bus.thread.port, OWN.rules.state_path)
    wait_for(lambda: bus.stats()["connections"]["watchers"] == 2)
    ios = bus.control("ios")
    sent = 0
    while bus.stats()["kicked"].get("slow_consumer", 0) == 0:
        assert sent < 2000, "the stuck watcher was never kicked"
        assert ios.command({"type": "set_cue", "cue": big_cue(sent)})["type"] == "ack"
        sent += 1
    wait_for(lambda: bus.stats()["connections"]["watchers"] == 1)
    assert bus.stats()["kicked"] == {"slow_consumer": 1}
    assert bus.stats()["slow_clients"]["slow_consumer"] == 1
    # its queue is gone with it; the reader got every version, the bus goes on
    versions = []
    while len(versions) < sent + 1:  # + the identify of ios
        versions.append(reader.recv_type("state")["state"]["version"])
    assert versions == sorted(versions) and versions[-1] == bus.state()["version"]
    assert ios.command({"type": "set_cue", "cue": big_cue(-1)})["type"] == "ack"
    stuck.close()


def test_a_director_that_never_reads_is_kicked_without_touching_the_others(start_bus) -> None:
    rules = with_rules("limits", outbound_queue_frames=16, outbound_queue_bytes=1 << 20)
    bus = start_bus(clock=FakeClock(), rules=rules)
    mac, ios = bus.control("mac"), bus.control("ios")
    ipad = RawWebSocket(bus.thread.port, OWN.rules.control_path)
    while (frame := ipad.recv())["type"] != "challenge":
        pass
    ipad.send(KEYS["ipad"].identify("ipad", frame))
    while ipad.recv()["type"] != "identified":
        pass  # identified: from now on it reads nothing
    sent = 0
    while bus.stats()["kicked"].get("slow_consumer", 0) == 0:
        assert sent < 2000, "the stuck director was never kicked"
        assert ios.command({"type": "set_cue", "cue": big_cue(sent)})["type"] == "ack"
        sent += 1
    wait_for(lambda: sorted(bus.thread.call(lambda: list(bus.server.controls))) == ["ios", "mac"])
    assert bus.stats()["kicked"] == {"slow_consumer": 1}
    assert mac.command({"type": "set_session_phase", "phase": "live"})["type"] == "ack"
    assert bus.state()["telemetry"]["active_directors"] == ["mac", "ios", "ipad"]  # until its timeout
    ipad.close()


def test_a_frame_over_the_limit_closes_only_that_connection(bus) -> None:
    ios, mac = bus.control("ios"), bus.control("mac")
    limit = OWN.limits.max_frame_bytes
    ios.send('{"type":"set_cue","cue":{"id":"' + "x" * limit + '","kind":"capture","payload":{}}}')
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ios.ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    wait_for(lambda: bus.stats()["rejected"].get("frame_too_large") == 1)
    assert mac.command({"type": "set_session_phase", "phase": "live"})["type"] == "ack"


def test_the_largest_valid_command_fits_the_frame_limit() -> None:
    frame = {"type": "set_cue", "slot": "current", "cue": big_cue(0)}
    frame["cue"]["id"] = "\u0001" * 128  # escapes to 6 bytes a character: the worst case
    frame["cue"]["payload"] = {k: "\u0001" * 128 for k in frame["cue"]["payload"]}
    assert frames.explain_frame(frame) is None
    assert len(frames.dumps(frame).encode()) <= OWN.limits.max_frame_bytes


def test_a_worst_case_state_is_valid_and_fits_the_state_limit() -> None:
    """Every bounded field at its maximum: what limits.max_state_bytes must hold."""
    worst = "\u0001" * 128
    cue = {"id": worst, "kind": "look_change", "payload": {f"k{i}{'x' * 30}": worst for i in range(8)}}
    doc = st.fresh(FakeClock().now())
    doc["cue"] = {"current": cue, "next": cue,
                  "history": [{**cue, "applied_at": "2026-03-14T18:00:00.123456Z", "applied_version": 10 ** 9}]
                  * OWN.rules.history_keep}
    doc["look"] = {"active": "look_1", "wardrobe_id": worst, "lighting_preset": worst}
    assert not st.problems(doc)
    assert len(frames.dumps(doc).encode()) <= OWN.limits.max_state_bytes


def test_the_history_bound_of_the_state_contract_holds_the_kept_history() -> None:
    schema = get(st.CONTRACT).raw["$defs"]["CueState"]["properties"]["history"]
    assert schema["maxItems"] >= OWN.rules.history_keep
