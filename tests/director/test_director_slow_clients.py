"""The director bus's HTTP layer cuts slow handshakes (slowloris), never an open WebSocket:
its service_connections.v1 row (common.v1 ConnectionLimits), made short here."""
from __future__ import annotations

import time
from types import SimpleNamespace

from director_harness import OWN
from hostile_helpers import GUARD, connect, drip, read_all
from websockets.sync.client import connect as ws_connect

SHORT = SimpleNamespace(request_read_timeout_s=0.5, keep_alive_idle_s=5, max_connections=4,
                        max_header_bytes=1024)


def test_the_director_bus_cuts_a_slow_handshake_but_never_an_open_websocket(start_bus, monkeypatch):
    from lume.runtime.director import _server

    monkeypatch.setattr(_server, "connection_limits", lambda service: SHORT)
    harness = start_bus()
    port = int(harness.url.rsplit(":", 1)[1])
    with connect(port) as slow:
        drip(slow, b"GET /director/state HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\n", pause=0.02)
        with ws_connect(harness.url + "/director/state", open_timeout=GUARD, proxy=None) as ws:
            first = ws.recv(timeout=GUARD)
            time.sleep(SHORT.request_read_timeout_s * 2)  # an open WebSocket outlives the deadline
            ws.ping().wait(GUARD)
        assert first and read_all(slow).startswith(b"HTTP/1.1 408 ")



def test_stats_show_the_slow_clients_cut(start_bus, monkeypatch):
    import httpx

    from lume.runtime.director import _frames as frames
    from lume.runtime.director import _server

    monkeypatch.setattr(_server, "connection_limits", lambda service: SHORT)
    harness = start_bus()
    port = int(harness.url.rsplit(":", 1)[1])
    assert harness.stats()["slow_clients"] == {"request_timeout": 0, "too_many_connections": 0,
                                               "slow_consumer": 0}
    idle = [connect(port) for _ in range(SHORT.max_connections + 1)]  # one over the cap
    try:
        deadline = time.monotonic() + GUARD
        while harness.stats()["slow_clients"]["too_many_connections"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        for sock in idle:
            sock.close()
    time.sleep(SHORT.request_read_timeout_s)  # the idle ones are gone (or were cut as too slow)
    before = harness.stats()["slow_clients"]["request_timeout"]
    with connect(port) as slow:
        drip(slow, b"GET /director/state HTTP/1.1\r\nhost: x\r\n", pause=0.02)
        assert read_all(slow).startswith(b"HTTP/1.1 408 ")
    stats = harness.stats()["slow_clients"]
    assert stats["request_timeout"] == before + 1 and stats["too_many_connections"] >= 1
    # the same figures over HTTP, in the contract's StatsResponse shape
    reply = httpx.get(harness.http + OWN.rules.stats_path, timeout=GUARD).json()
    assert not frames.document_problems(reply, "StatsResponse")
    assert reply["slow_clients"] == stats
