"""Frames written to the socket as bytes: a state is framed once per version, for every reader.

A server's WebSocket frames are never masked and this server negotiates no extension (no
per-message deflate), so the bytes of a text frame on the wire are the same for every
connection. `Outgoing` holds a frame's JSON text and, made on first use, its wire bytes;
`RawSocket` writes those bytes straight to uvicorn's transport - one `write` per frame, in
the order given - instead of going through the ASGI `send` (which encodes the text and
frames it again for each connection, one task hop each). It writes only while the protocol
could send too: the connection open, no close sent, the transport not paused (`writable`,
the same flow control the ASGI `send` waits on). Where the protocol is not uvicorn's sans-I/O
WebSocket protocol (another `ws` implementation) `RawSocket.of` is None and the server uses
the ASGI `send`.
"""
from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State


class Outgoing:
    """One server frame: its JSON text (UTF-8) and its bytes on the wire."""

    __slots__ = ("_wire", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = Frame(Opcode.TEXT, self.data).serialize(mask=False)
        return self._wire

    @property
    def text(self) -> str:
        return self.data.decode()


class RawSocket:
    """Write whole frames to one connection's transport (see the module docstring)."""

    __slots__ = ("_conn", "_protocol", "transport", "writable")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._conn = protocol.conn
        self.transport = protocol.transport
        self.writable = protocol.writable  # asyncio.Event: cleared while the transport is paused

    @classmethod
    def of(cls, protocol: Any) -> RawSocket | None:
        """For uvicorn's sans-I/O WebSocket protocol with no extension negotiated, else None."""
        conn = getattr(protocol, "conn", None)
        if (conn is None or not hasattr(protocol, "writable") or not hasattr(protocol, "close_sent")
                or getattr(conn, "extensions", None) != [] or getattr(conn, "state", None) is not State.OPEN):
            return None
        return cls(protocol)

    @property
    def open(self) -> bool:
        """Frames may still be written (else the peer is gone or a close was sent)."""
        p = self._protocol
        return (self._conn.state is State.OPEN and not p.close_sent and not p.disconnected
                and not self.transport.is_closing())

    @property
    def ready(self) -> bool:
        """A frame written now goes out without growing a paused transport's buffer."""
        return self.writable.is_set() and self.open

    def write(self, wire: bytes) -> None:
        self.transport.write(wire)
