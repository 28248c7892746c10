"""The SPSC sample ring: consecutive windows, skip-ahead to the newest window when lapped."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.lumf._ring import DEFAULT_CAPACITY, Ring

W = 735


def ramp(start: int, n: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float64)


def test_default_capacity_is_the_seeds_16384_samples():
    assert Ring().capacity == DEFAULT_CAPACITY == 16_384
    with pytest.raises(ValueError, match="power of two"):
        Ring(1000)


def test_no_window_until_a_full_one_is_waiting():
    ring = Ring(dtype=np.float64)
    out = np.zeros(W)
    ring.write(ramp(0, W - 1))
    assert not ring.read_window(out) and ring.tail == 0
    ring.write(ramp(W - 1, 1))
    assert ring.read_window(out)
    np.testing.assert_array_equal(out, ramp(0, W))


def test_consecutive_windows_are_contiguous_across_the_wrap():
    ring = Ring(1024, backlog=1, dtype=np.float64)
    out = np.zeros(W)
    written = 0
    for i in range(20):  # 512-sample blocks like the tap; 20 windows wrap a 1024 ring many times
        while ring.available < W:
            ring.write(ramp(written, 512))
            written += 512
        assert ring.read_window(out)
        if ring.dropped == 0:
            np.testing.assert_array_equal(out, ramp(ring.tail - W, W))


def test_overflow_drops_the_oldest_and_returns_the_newest_window():
    """Seed 004 Q1 testRingBufferOverflowDropsOldest: 100 ms of PCM in 5 ms bursts, then pull."""
    ring = Ring(dtype=np.float64)
    burst = 220  # 5 ms at 44.1 kHz
    for i in range(20):
        ring.write(ramp(i * burst, burst))
    out = np.zeros(W)
    assert ring.read_window(out)
    total = 20 * burst
    np.testing.assert_array_equal(out, ramp(total - W, W))  # the most recent 735, not the oldest
    assert ring.dropped == total - W
    assert not ring.read_window(out)  # nothing newer yet


def test_a_lapped_consumer_skips_to_the_newest_full_window():
    ring = Ring(1024, backlog=100, dtype=np.float64)  # backlog huge: only the lap triggers the skip
    for i in range(10):
        ring.write(ramp(i * 300, 300))  # 3000 samples into a 1024 ring: lapped
    out = np.zeros(W)
    assert ring.read_window(out)
    np.testing.assert_array_equal(out, ramp(3000 - W, W))
    assert ring.dropped == 3000 - W


def test_a_single_write_longer_than_the_ring_keeps_its_newest_samples():
    ring = Ring(1024, dtype=np.float64)
    ring.write(ramp(0, 5000))
    assert ring.head == 5000
    out = np.zeros(W)
    assert ring.read_window(out)
    np.testing.assert_array_equal(out, ramp(5000 - W, W))


def test_backlog_beyond_the_limit_is_skipped_but_within_it_is_kept():
    ring = Ring(backlog=4, dtype=np.float64)
    ring.write(ramp(0, 3 * W))
    out = np.zeros(W)
    assert ring.read_window(out) and ring.dropped == 0
    np.testing.assert_array_equal(out, ramp(0, W))
    ring.write(ramp(3 * W, 3 * W))  # 5 windows waiting > 4
    assert ring.read_window(out)
    np.testing.assert_array_equal(out, ramp(5 * W, W))
    assert ring.dropped == 4 * W


@given(st.lists(st.integers(1, 3000), min_size=1, max_size=40), st.integers(1, 6))
def test_every_window_read_is_a_contiguous_run_of_the_newest_samples(blocks, backlog):
    ring = Ring(4096, backlog=backlog, dtype=np.float64)
    out = np.zeros(W)
    written = windows = 0
    for n in blocks:
        ring.write(ramp(written, n))
        written += n
        if ring.read_window(out):
            windows += 1
            np.testing.assert_array_equal(out, ramp(out[0], W))   # contiguous
            assert out[-1] < written and ring.tail == out[-1] + 1  # consumed up to here
            assert written - ring.tail <= max(backlog, 1) * W     # never more than backlog behind
    assert ring.tail + ring.available == ring.head == written
    assert windows * W + ring.dropped == ring.tail  # every sample was read once or dropped


@pytest.fixture
def busy_switching():
    """Make the interpreter switch threads as often as it can, to provoke races."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_a_concurrent_producer_never_tears_a_window(busy_switching):
    ring = Ring(2048, dtype=np.float64)
    stop = threading.Event()
    total = 400_000

    def produce():
        for start in range(0, total, 97):
            ring.write(ramp(start, min(97, total - start)))
        stop.set()

    producer = threading.Thread(target=produce)
    producer.start()
    out = np.zeros(W)
    windows = 0
    while not stop.is_set() or ring.available >= W:
        if ring.read_window(out):
            windows += 1
            np.testing.assert_array_equal(np.diff(out), np.ones(W - 1))
    producer.join()
    assert windows > 0


class Preempted(Ring):
    """A producer preempted inside write(): during the consumer's copy it stores a block but
    publishes the new head only at the consumer's next copy."""

    def __init__(self, *args, block: np.ndarray, **kw):
        super().__init__(*args, **kw)
        self.block, self.unpublished = block, None

    def _copy_out(self, tail, out):
        if self.unpublished is not None:  # the producer resumes and publishes
            self.head, self.unpublished = self.unpublished, None
        half = len(out) // 2
        super()._copy_out(tail, out[:half])
        if self.block is not None:
            head = self.head
            self.write(self.block)  # samples stored ...
            self.unpublished, self.head, self.block = self.head, head, None  # ... head not yet
        super()._copy_out(tail + half, out[half:])


def test_a_window_overwritten_while_it_is_copied_is_never_returned():
    ring = Preempted(1024, backlog=100, dtype=np.float64, block=ramp(1024, 400))
    ring.write(ramp(0, 1024))  # exactly full: the oldest window is still intact
    out = np.zeros(W)
    assert ring.read_window(out)
    # the 400 new samples overwrote samples 0..399 during the copy: the window must not mix them
    np.testing.assert_array_equal(out, ramp(1424 - W, W))
    assert ring.dropped == 1424 - W and ring.tail == 1424


def test_a_producer_stuck_mid_write_costs_the_tick_not_the_thread():
    ring = Ring(1024, dtype=np.float64)
    ring.write(ramp(0, 1024))
    ring._reserved = 1024 + 600  # a write announced and never finished (the producer died)
    assert not ring.read_window(np.zeros(W))
