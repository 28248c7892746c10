"""The director bus's HTTP layer cuts slow handshakes (slowloris), never an open WebSocket:
its service_connections.v1 row (common.v1 ConnectionLimits), made short here."""
from __future__ import annotations

import time
from types import SimpleNamespace

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

