"""The MIDI output of the gate: a port spec opened through mido, and the dispatcher.

A port spec `tcp://HOST:PORT` opens one of mido's socket ports (`mido.sockets.connect`, MIDI
over TCP: what tests use, since these machines have no ALSA sequencer); any other spec is a
MIDI output port name opened through the python-rtmidi backend (K11's loopMIDI port).
"""
from __future__ import annotations

import re
import socket
import time
from typing import Any, Callable

TCP_SPEC = re.compile(r"^tcp://(?P<host>[A-Za-z0-9.\-]+):(?P<port>[0-9]{1,5})$")
RTMIDI_BACKEND = "mido.backends.rtmidi"


class MidiOpenError(RuntimeError):
    """The MIDI output named by a port spec cannot be opened."""


def parse_tcp_spec(spec: str) -> tuple[str, int] | None:
    """(host, port) of a `tcp://HOST:PORT` spec, None for a port name; ValueError when malformed."""
    if not spec.startswith("tcp://"):
        return None
    m = TCP_SPEC.match(spec)
    if not m or not 1 <= int(m.group("port")) <= 65535:
        raise ValueError(f"bad port spec {spec!r}: expected tcp://HOST:PORT with PORT 1-65535")
    return m.group("host"), int(m.group("port"))


def open_output(spec: str) -> Any:
    """Open the MIDI output a port spec names (a mido output port)."""
    tcp = parse_tcp_spec(spec)
    if tcp is not None:
        import mido.sockets

        try:
            return mido.sockets.connect(*tcp)
        except OSError as exc:
            raise MidiOpenError(f"cannot connect to MIDI socket port {spec}: {exc}") from exc
    import mido

    try:
        backend = mido.Backend(RTMIDI_BACKEND, load=True)
        return backend.open_output(spec)
    except Exception as exc:  # rtmidi raises its own error types, or SystemError without ALSA
        raise MidiOpenError(f"cannot open MIDI output {spec!r} through python-rtmidi: {exc}") from exc


def output_names() -> list[str]:
    """The MIDI output port names python-rtmidi sees here; MidiOpenError when this machine has
    no MIDI backend (no ALSA sequencer, no Windows MIDI service)."""
    import mido

    try:
        return list(mido.Backend(RTMIDI_BACKEND, load=True).get_output_names())
    except Exception as exc:  # rtmidi raises its own error types, or SystemError without ALSA
        raise MidiOpenError(f"no MIDI backend: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


class MidiDispatcher:
    """Sends the planned bytes of a dispatched command (press, then release after its delay)."""

    def __init__(self, port: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.port = port
        self._sleep = sleep

    def send(self, messages: tuple[tuple[int, bytes], ...]) -> None:
        import mido

        done = 0
        for after_ms, data in messages:
            if after_ms > done:
                self._sleep((after_ms - done) / 1000.0)
                done = after_ms
            self.port.send(mido.Message.from_bytes(data))

    def close(self) -> None:
        # mido's socket port keeps file objects that hold the socket open after close(); shut
        # the connection down first so the receiver sees the end of the stream at once
        sock = getattr(self.port, "_socket", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.port.close()
