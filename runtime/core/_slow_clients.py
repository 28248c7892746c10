"""Slow clients cannot hold a service: uvicorn's HTTP layer with a request deadline and a cap.

uvicorn bounds the size of request headers (`h11_max_incomplete_event_size`) and the idle time
between keep-alive requests, but arms no timer on a fresh connection and resets its keep-alive
timer on every byte: a client that sends its headers or its body one byte at a time, or only
opens connections, holds them for ever (slowloris). `guarded_config` builds the uvicorn
configuration of a service from its contract's `ConnectionLimits` (common.v1): every request,
headers and body (a WebSocket handshake's headers), must arrive within
`request_read_timeout_s` of the connection or of its first byte after a response, else the
connection is answered 408 and closed; connections over `max_connections` are closed as soon
as they are accepted. Both are counted in `SlowClientCounts`. uvicorn is imported only here
and only when a service is built.
"""
from __future__ import annotations

import functools
from collections import Counter
from typing import Any

_TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
# what was cut, by reason: tests and a service's stats read it
SlowClientCounts = Counter


def guarded_config(app: Any, limits: Any, counts: Counter | None = None, **options: Any) -> Any:
    """A `uvicorn.Config` for `app` whose HTTP protocol enforces `limits` (a common.v1
    ConnectionLimits row: request_read_timeout_s, keep_alive_idle_s, max_connections,
    max_header_bytes). `counts` (a Counter) receives `request_timeout` and `too_many_connections`."""
    import uvicorn  # noqa: PLC0415 - only services need a web server

    protocol = type("GuardedH11Protocol", (_protocol_base(),),
                    {"limits": limits, "counts": counts if counts is not None else Counter()})
    return uvicorn.Config(app, http=protocol, timeout_keep_alive=limits.keep_alive_idle_s,
                          h11_max_incomplete_event_size=limits.max_header_bytes, **options)


@functools.cache
def _protocol_base() -> type:
    import h11  # noqa: PLC0415
    from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: PLC0415

    class Guarded(H11Protocol):
        limits: Any
        counts: Counter
        _deadline: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > self.limits.max_connections:
                self.counts["too_many_connections"] += 1
                transport.abort()
                return
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
                self._arm()  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            upgraded = self.transport.get_protocol() is not self
            if upgraded or self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
                self._disarm()  # the request (or the WebSocket handshake) is read whole

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(self.limits.request_read_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            self.counts["request_timeout"] += 1
            # nothing answered yet (h11 cannot answer a request it has not read whole)
            if self.conn.our_state is h11.IDLE or (self.cycle is not None
                                                   and not self.cycle.response_started):
                self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

    return Guarded
