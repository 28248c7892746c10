"""Slow clients (slowloris) cannot hold a service (issue 18): real loopback sockets against
uvicorn configured by `guarded_config`, then the BodyTruth service and the director bus.

A client that sends its headers or its body a byte at a time is answered 408 and cut when
`request_read_timeout_s` runs out; connections over `max_connections` are closed as soon as
they are accepted; meanwhile ordinary clients are served. Limits are the contracts'
(service_connections.v1 rows, common.v1 ConnectionLimits), made short here; the director bus is in tests/director/test_director_slow_clients.py.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from hostile_helpers import GUARD, connect, drip, read_all

from lume.generated.constants import SERVICES
from lume.runtime.core import connection_limits, guarded_config

SHORT = SimpleNamespace(request_read_timeout_s=0.5, keep_alive_idle_s=5, max_connections=4,
                        max_header_bytes=1024)


async def echo(scope, receive, send):
    """Answers every request with its body, once the body is read whole."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serving(app, limits=SHORT):
    import uvicorn

    counts: Counter = Counter()
    server = uvicorn.Server(guarded_config(app, limits, counts, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUARD
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1], counts
    finally:
        server.should_exit = True
        thread.join(GUARD)


def request(port: int, body: bytes = b"hello") -> bytes:
    with connect(port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
                  b"content-length: %d\r\n\r\n%s" % (len(body), body))
        return read_all(s)


def test_headers_sent_a_byte_at_a_time_are_cut_with_408():
    with serving(echo) as (port, counts), connect(port) as slow:
        drip(slow, b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: " + b"a" * 200)
        assert read_all(slow).startswith(b"HTTP/1.1 408 ")
        assert counts["request_timeout"] == 1


def test_a_body_sent_a_byte_at_a_time_is_cut_while_others_are_served():
    with serving(echo) as (port, counts), connect(port) as slow:
        slow.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
        served = request(port, b"quick")  # an ordinary client meanwhile
        assert served.startswith(b"HTTP/1.1 200 ") and served.endswith(b"quick")
        drip(slow, b"b" * 200)
        assert read_all(slow).startswith(b"HTTP/1.1 408 ")
        assert counts["request_timeout"] == 1


def test_connections_over_the_cap_are_closed_and_idle_ones_expire():
    with serving(echo) as (port, counts):
        idle = [connect(port) for _ in range(SHORT.max_connections)]
        time.sleep(0.1)  # accepted by the server's loop
        with connect(port) as extra:
            assert read_all(extra) == b""  # closed at once, nothing read or answered
        assert counts["too_many_connections"] >= 1
        for s in idle:  # each idle connection runs out of time to send a request
            assert read_all(s).startswith(b"HTTP/1.1 408 ")
            s.close()
        assert request(port).endswith(b"hello")


def test_a_kept_alive_connection_is_served_again_within_its_deadlines():
    with serving(echo) as (port, counts), connect(port) as s:
        for body in (b"one", b"two"):
            s.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n" + body)
            reply = b""
            while not reply.endswith(body):
                reply += s.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200 ")
            time.sleep(SHORT.request_read_timeout_s * 1.5)  # idle between requests: keep_alive_idle_s
        assert counts["request_timeout"] == 0


def test_headers_growing_past_their_limit_are_refused_before_the_application():
    with serving(echo) as (port, counts), connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (SHORT.max_header_bytes * 2))
        assert read_all(s).startswith(b"HTTP/1.1 400 ")  # not waiting for the end of the headers
        assert counts["request_timeout"] == 0


# ------------------------------------------------------------------------------ the services
def test_the_services_declare_their_connection_limits():
    assert set(SERVICES) >= {"bodytruth", "director_bus"}
    for service in SERVICES:
        limits = connection_limits(service)
        assert limits.request_read_timeout_s > 0 and limits.max_connections >= 1
        assert limits.max_header_bytes >= 1024
    with pytest.raises(KeyError, match="service_connections.v1"):
        connection_limits("no_such_service")


def test_bodytruth_serve_cuts_a_slow_client_and_keeps_answering(monkeypatch):
    from lume.runtime import core
    from lume.runtime.bodytruth import _service

    monkeypatch.setattr(core, "connection_limits", lambda service: SHORT)
    with _service.serving(_service.create_app(ticker=False)) as url:
        port = int(url.rsplit(":", 1)[1])
        with connect(port) as slow:
            drip(slow, b"POST /observations HTTP/1.1\r\nhost: x\r\n", pause=0.02)
            with connect(port) as reader:
                reader.sendall(b"GET /body-truth HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                assert read_all(reader).startswith(b"HTTP/1.1 200 ")
            assert read_all(slow).startswith(b"HTTP/1.1 408 ")

