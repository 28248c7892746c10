"""The SAN channel's two use cases: send checked values, and listen / decode / count."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, Iterator

from lume.generated.constants import SAN_REJECT_MALFORMED

from ._osc import SanError, SanSender, code_for, decode, encode, iter_messages, receiver


def send_values(host: str, port: int, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one message per address -> value (a value name is turned into its code).

    Every value is checked before anything is sent; SanError names the first bad one.
    """
    coded = {a: code_for(a, v) if isinstance(v, str) else v for a, v in values.items()}
    for address, value in coded.items():
        encode(address, value)
    with SanSender(host, port) as sender:
        for address, value in coded.items():
            sender.send(address, value)
    return [{"address": a, "value": v} for a, v in coded.items()]


def decode_all(data: bytes) -> Iterator[dict[str, Any] | None]:
    """Per message of a datagram (message or bundle): a result dict, None for an ignored address.
    A datagram that is wrong as a whole (san_receiver.v1) is one rejected result."""
    try:
        raws = list(iter_messages(data))
    except SanError as exc:
        yield {"valid": False, "reason": exc.reason, "address": exc.address, "detail": exc.detail}
        return
    for raw in raws:
        try:
            message = decode(raw)
        except SanError as exc:
            yield {"valid": False, "reason": exc.reason, "address": exc.address, "detail": exc.detail}
            continue
        yield None if message is None else {"valid": True, **message.as_dict()}


def _guarded(data: bytes) -> list[dict[str, Any] | None]:
    """decode_all, and the listener's last line of defence: whatever the bounded parser (fuzzed
    in tests/lumf/test_san_hostile.py) still missed is one rejected datagram, not a dead
    listener."""
    try:
        return list(decode_all(data))
    except Exception as exc:  # noqa: BLE001 - a datagram must never stop the listener
        return [{"valid": False, "reason": SAN_REJECT_MALFORMED, "address": None,
                 "detail": f"unexpected {type(exc).__name__}: {exc}"}]


@dataclass
class Listener:
    """A bound UDP socket decoding SAN datagrams; `counts` and `by_reason` tally what arrived."""

    sock: socket.socket
    counts: dict[str, int] = field(default_factory=lambda: {"datagrams": 0, "valid": 0, "ignored": 0,
                                                            "rejected": 0})
    by_reason: dict[str, int] = field(default_factory=dict)

    @classmethod
    def bind(cls, host: str, port: int) -> Listener:
        """OSError when the address cannot be bound (the same UDP bind as the LUMF inspector)."""
        from lume.runtime.lumf import bind

        return cls(bind(host, port))

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def results(self, *, count: int | None = None, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Decoded messages until `count` datagrams arrived or `timeout` seconds pass without one.

        Every datagram is decoded within san_receiver.v1's limits (one byte more is received
        than the largest accepted, so a longer one is seen and rejected as oversized)."""
        self.sock.settimeout(timeout)
        size = receiver().limits.max_datagram_bytes + 1
        while count is None or self.counts["datagrams"] < count:
            try:
                data = self.sock.recv(size)
            except TimeoutError:
                return
            self.counts["datagrams"] += 1
            for result in _guarded(data):
                if result is None:
                    self.counts["ignored"] += 1
                    continue
                self.counts["valid" if result["valid"] else "rejected"] += 1
                if not result["valid"]:
                    self.by_reason[result["reason"]] = self.by_reason.get(result["reason"], 0) + 1
                yield result

    def summary(self) -> dict[str, Any]:
        return self.counts | {"rejected_by_reason": dict(self.by_reason)}

    def close(self) -> None:
        self.sock.close()
