"""Single-producer single-consumer sample ring (seed 004 Q1, variant V2).

The producer (audio callback or file reader) only copies samples in and advances `head`; it
never waits, never branches on overflow and never allocates. The consumer (the 60 Hz publisher)
takes consecutive windows from `tail`; when the producer has lapped it (more than `capacity`
samples waiting) or run ahead by more than `backlog` windows, the consumer skips ahead to the
newest full window and counts the samples it dropped: LUMF is live state, the oldest audio is
what goes.
"""
from __future__ import annotations

import numpy as np

# Seed 004 Q1: 16 384 frames (~370 ms at 44.1 kHz); a power of two so positions wrap by mask.
DEFAULT_CAPACITY = 16_384
# Latency guard besides overflow. The seed's `pull()` sketch skips at 2 windows, but with the
# tap's 512-sample blocks that leaves ~5 ms of slack for scheduling jitter, which a Python thread
# on a busy machine exceeds (measured: ~7 % of windows dropped); 4 windows (~67 ms) absorb it.
DEFAULT_BACKLOG = 4
_RETRIES = 8  # copies attempted while the producer keeps overwriting the window being read


class Ring:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, backlog: int = DEFAULT_BACKLOG,
                 dtype=np.float32) -> None:
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError(f"ring capacity must be a power of two, got {capacity}")
        self.capacity = capacity
        self.backlog = backlog
        self._mask = capacity - 1
        self._buf = np.zeros(capacity, dtype=dtype)
        # Monotonic sample counters. One writer each (head: producer, tail: consumer); a Python
        # int store is atomic under the GIL, and head is stored only after the samples are in.
        self.head = 0
        self.tail = 0
        # End of the write in progress, announced before the producer touches the buffer, so
        # the consumer can tell that samples it just copied were overwritten meanwhile.
        self._reserved = 0
        self.dropped = 0  # samples the consumer skipped over (overflow / backlog)

    @property
    def available(self) -> int:
        return self.head - self.tail

    # --- producer side ------------------------------------------------------------------------
    def write(self, samples: np.ndarray) -> None:
        """Copy samples in (at most two slice copies) and publish them by advancing head."""
        n = len(samples)
        if n > self.capacity:  # only the newest `capacity` samples can be kept
            samples = samples[n - self.capacity:]
        m = len(samples)
        end = self.head + n
        self._reserved = end
        start = (end - m) & self._mask
        first = min(m, self.capacity - start)
        self._buf[start:start + first] = samples[:first]
        if first < m:
            self._buf[:m - first] = samples[first:]
        self.head = end

    # --- consumer side ------------------------------------------------------------------------
    def read_window(self, out: np.ndarray) -> bool:
        """Fill `out` with the next len(out) samples; False (nothing consumed) if not enough yet.

        When more than `backlog` windows are waiting or the producer lapped the consumer, the
        window is the newest full one and everything older is dropped.
        """
        w = len(out)
        if w > self.capacity:
            raise ValueError(f"window of {w} samples does not fit a ring of {self.capacity}")
        head, tail = self.head, self.tail
        if head - tail < w:
            return False
        if head - tail > max(self.backlog, 1) * w or self._reserved - tail > self.capacity:
            tail = head - w  # lapped or too far behind: the newest full window
        for _attempt in range(_RETRIES):
            self._copy_out(tail, out)
            if self._reserved - tail <= self.capacity:  # nothing copied was overwritten meanwhile
                break
            tail = self.head - w  # the producer overwrote it while we copied: take the newest
        else:
            return False  # a producer stuck mid-write: try again next tick
        self.dropped += tail - self.tail
        self.tail = tail + w
        return True

    def _copy_out(self, tail: int, out: np.ndarray) -> None:
        w = len(out)
        start = tail & self._mask
        first = min(w, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        if first < w:
            out[first:] = self._buf[:w - first]
