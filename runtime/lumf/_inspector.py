"""The LUMF inspector: receive datagrams, validate each against the layout contract, tally rejects."""
from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from lume.generated import lumf_layout as L

from ._codec import PacketError, decode

# Larger than any datagram, so an over-long packet arrives whole and is refused as wrong_size.
_RECV_BYTES = 65_536


def inspect_packet(data: bytes | bytearray | memoryview) -> dict:
    """`{"valid": true, "fields": {...}}` or `{"valid": false, "reason": ..., "field", "detail"}`."""
    try:
        return {"valid": True, "fields": decode(data)}
    except PacketError as exc:
        return {"valid": False, "reason": exc.reason, "field": exc.field, "detail": exc.detail}


@dataclass
class Tally:
    packets: int = 0
    valid: int = 0
    rejected: Counter = field(default_factory=lambda: Counter({r: 0 for r in L.REJECT_REASONS}))

    def add(self, result: dict) -> None:
        self.packets += 1
        if result["valid"]:
            self.valid += 1
        else:
            self.rejected[result["reason"]] += 1

    def as_dict(self) -> dict:
        return {"packets": self.packets, "valid": self.valid,
                "rejected": sum(self.rejected.values()),
                "rejected_by_reason": dict(self.rejected)}


def bind(host: str, port: int) -> socket.socket:
    """A UDP socket bound to host:port (port 0 picks a free one); OSError when it cannot be."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def receive(sock: socket.socket, *, count: int | None = None, timeout: float | None = None,
            duration: float | None = None, tally: Tally | None = None,
            clock=time.monotonic) -> Iterator[tuple[dict, tuple]]:
    """Yield (result, sender) per datagram until `count` datagrams, `timeout` seconds without
    one, or `duration` seconds in all."""
    buf = bytearray(_RECV_BYTES)
    view = memoryview(buf)
    end = None if duration is None else clock() + duration
    received = 0
    while count is None or received < count:
        wait = timeout
        if end is not None:
            left = end - clock()
            if left <= 0:
                return
            wait = left if wait is None else min(wait, left)
        sock.settimeout(wait)
        try:
            n, sender = sock.recvfrom_into(buf)
        except TimeoutError:
            if end is not None and clock() < end and (timeout is None or wait < timeout):
                continue
            return
        result = inspect_packet(view[:n])
        received += 1
        if tally is not None:
            tally.add(result)
        yield result, sender
