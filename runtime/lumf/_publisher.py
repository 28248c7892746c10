"""The 60 Hz LUMF publisher and its heartbeat (seed 004 Q1, variant V2).

Three threads that never wait on each other: the producer (audio callback or file reader) only
copies into the Ring; the publisher thread wakes on an absolute 1/60 s schedule, takes the next
window, computes the features into pre-allocated buffers, rewrites one pre-allocated packet and
hands it to a non-blocking UDP socket; the heartbeat thread rewrites a small file once a second
by temp file + rename. An unreachable target or a full socket buffer drops the packet (LUMF is
live or nothing); a late publisher skips the ticks it missed instead of bursting them.
"""
from __future__ import annotations

import math
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lume.generated import lumf_layout as L
from lume.generated.constants import INPUT_LUMF_HEARTBEAT
from lume.runtime.core import read_input, write_text

from ._codec import PacketBuffer, PacketError
from ._features import FeatureExtractor, NonFiniteInput
from ._ring import Ring

# Seed 004 Q1: the heartbeat file is rewritten once a second, decoupled from the audio path.
HEARTBEAT_INTERVAL_S = 1.0
_FIRST_WINDOW_POLL_S = 0.001
_TIMES = 1 << 14  # tick timestamps kept for the jitter figures (~4.5 min at 60 Hz)


def resolve(host: str, port: int) -> tuple[int, tuple]:
    """(address family, socket address) of a UDP target; ValueError naming it when unknown."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"cannot resolve LUMF target {host}:{port}: {exc}") from exc
    family, _type, _proto, _name, addr = info[0]
    return family, addr


@dataclass
class PublisherStats:
    ticks: int = 0             # scheduled ticks that ran
    sent: int = 0              # packets handed to the socket
    send_dropped: int = 0      # packets the network refused (unreachable, buffer full)
    empty_ticks: int = 0       # no full window waiting (start-up, end of a file)
    skipped_ticks: int = 0     # ticks missed because the thread woke too late (never burst)
    invalid_windows: int = 0   # windows the contract refuses (NaN samples)
    ring_dropped_samples: int = 0
    heartbeats: int = 0
    heartbeat_errors: int = 0
    tick_times: np.ndarray = field(default_factory=lambda: np.zeros(_TIMES), repr=False)
    lateness: np.ndarray = field(default_factory=lambda: np.zeros(_TIMES), repr=False)

    def timing(self, cadence_hz: float = L.CADENCE_HZ) -> dict:
        """Cadence figures in ms over consecutive ticks (a skipped tick shows as a long
        interval): jitter = |interval - 1/cadence|, lateness = wake-up time - scheduled time."""
        n = min(self.ticks, _TIMES)
        if n < 2:
            return {}
        order = np.argsort(self.tick_times[:n])  # the arrays wrap after _TIMES ticks
        t, late = self.tick_times[:n][order], self.lateness[:n][order]
        jitter = np.abs(np.diff(t) - 1.0 / cadence_hz) * 1e3
        return {
            "interval_ms_mean": float(np.diff(t).mean() * 1e3),
            "jitter_ms_p50": float(np.percentile(jitter, 50)),
            "jitter_ms_p99": float(np.percentile(jitter, 99)),
            "lateness_ms_p50": float(np.percentile(late * 1e3, 50)),
            "lateness_ms_p99": float(np.percentile(late * 1e3, 99)),
        }

    def as_dict(self) -> dict:
        counts = {k: getattr(self, k) for k in (
            "ticks", "sent", "send_dropped", "empty_ticks", "skipped_ticks", "invalid_windows",
            "ring_dropped_samples", "heartbeats", "heartbeat_errors")}
        return counts | self.timing()


class BadHeartbeat(ValueError):
    """The heartbeat file does not hold a Unix time (`text`: what it holds, printable)."""

    def __init__(self, reason: str, text: str):
        super().__init__(reason)
        self.text = text


def beat_text(unix_s: float) -> str:
    """What the heartbeat file holds: one Unix time in seconds (ms precision) and a newline."""
    return f"{unix_s:.3f}\n"


def read_heartbeat(path: Path) -> float:
    """The Unix time in the heartbeat file at `path`, read through core's bounded reader with
    input_limits.v1's `lumf_heartbeat` row (a regular file, a few bytes: a FIFO or a device is
    refused, never waited on). InputError when it cannot be read so; BadHeartbeat when it does
    not hold a finite Unix time."""
    data = read_input(path, INPUT_LUMF_HEARTBEAT)
    text = data[:64].decode("ascii", "replace")
    try:
        beat = float(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadHeartbeat(f"{path}: not a Unix time: {exc}", text) from None
    if not math.isfinite(beat):
        raise BadHeartbeat(f"{path}: not a finite time", text)
    return beat


class Heartbeat:
    """Rewrites `path` with the current Unix time once a second, atomically, while `alive()`."""

    def __init__(self, path: Path, alive, stats: PublisherStats,
                 interval: float = HEARTBEAT_INTERVAL_S) -> None:
        self.path, self._alive, self._stats, self.interval = Path(path), alive, stats, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lumf-heartbeat", daemon=True)

    def start(self) -> None:
        """Write the first beat here, so an unwritable path fails the caller (OSError)."""
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        write_text(self.path, beat_text(time.time()))
        self._stats.heartbeats += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and self._alive():
            try:
                self._beat()
            except OSError:  # a full or vanished disk must not stop the beat for good
                self._stats.heartbeat_errors += 1


class Publisher:
    """Sends one LUMF packet per tick to `target` from its own thread."""

    def __init__(self, ring: Ring, sample_rate_hz: int, target: tuple[str, int], *,
                 heartbeat: Path | None = None, cadence_hz: float = L.CADENCE_HZ,
                 source_finished: threading.Event | None = None, clock=time.perf_counter) -> None:
        self.ring, self.cadence_hz, self._clock = ring, cadence_hz, clock
        self.extractor = FeatureExtractor(sample_rate_hz)
        self.packet = PacketBuffer()
        self._window = np.zeros(self.extractor.window_samples, dtype=np.float32)
        self.stats = PublisherStats()
        self.target = target
        family, self._addr = resolve(*target)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)  # a full buffer drops the packet, never waits
        try:  # connected UDP surfaces "port unreachable" as an error we can count
            self._sock.connect(self._addr)
            self._send = self._sock.send
        except OSError:
            self._send = lambda data: self._sock.sendto(data, self._addr)
        self._finished = source_finished
        self._stop = threading.Event()
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lumf-publisher", daemon=True)
        self._heartbeat = (Heartbeat(heartbeat, self._thread.is_alive, self.stats)
                           if heartbeat is not None else None)

    def start(self) -> None:
        """Start publishing (and beating); OSError when the heartbeat file cannot be written."""
        if self._heartbeat is not None:
            self._heartbeat.start()
        self._thread.start()

    def stop(self) -> PublisherStats:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._sock.close()
        self.stats.ring_dropped_samples = self.ring.dropped
        return self.stats

    def _run(self) -> None:
        period = 1.0 / self.cadence_hz
        w = self.extractor.window_samples
        i = 0
        try:
            # Seed 004 Q1: at start-up the publisher waits for the first full window; the 60 Hz
            # schedule starts from it (polling: the producer never signals anybody).
            while self.ring.available < w and not self._stop.is_set():
                if self._finished is not None and self._finished.is_set():
                    return
                self._stop.wait(_FIRST_WINDOW_POLL_S)
            t0 = self._clock()
            while not self._stop.is_set():
                deadline = t0 + i * period
                delay = deadline - self._clock()
                if delay > 0 and self._stop.wait(delay):
                    break
                self._tick(deadline)
                i += 1
                due = int((self._clock() - t0) / period)  # the newest tick whose time has come
                if due > i:
                    self.stats.skipped_ticks += due - i
                    i = due
                if (self._finished is not None and self._finished.is_set()
                        and self.ring.available < w):
                    break
        finally:
            self.done.set()

    def _tick(self, deadline: float) -> None:
        s = self.stats
        now = self._clock()
        k = s.ticks % _TIMES
        s.tick_times[k] = now
        s.lateness[k] = now - deadline
        s.ticks += 1
        if not self.ring.read_window(self._window):
            s.empty_ticks += 1
            return
        try:
            packet = self.packet.load(self.extractor.compute(self._window))
        except (NonFiniteInput, PacketError):
            s.invalid_windows += 1
            return
        try:
            self._send(packet)
            s.sent += 1
        except OSError:  # unreachable, refused, or the socket buffer is full: drop it
            s.send_dropped += 1


def publish(source, ring: Ring, target: tuple[str, int], *, heartbeat: Path | None = None,
            duration: float | None = None) -> PublisherStats:
    """Run `source` into `ring` and publish until `duration` elapses or the source finishes."""
    publisher = Publisher(ring, source.sample_rate_hz, target, heartbeat=heartbeat,
                          source_finished=source.finished)
    try:
        publisher.start()
    except OSError as exc:
        publisher.stop()
        raise ValueError(f"cannot write the heartbeat file {heartbeat}: {exc}") from exc
    source.start()
    try:
        publisher.done.wait(duration)
    finally:
        source.stop()
        stats = publisher.stop()
    return stats
