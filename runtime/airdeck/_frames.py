"""BodyTruth frames kept by time, so each gesture event meets the latest frame at or before it."""
from __future__ import annotations

import bisect
from typing import Any


class FrameBuffer:
    """Frames ordered by `timestamp`; `at(ts)` is the latest frame with timestamp <= ts.

    Frames usually arrive in order (an append); a late one is inserted in place. With
    `max_frames` the oldest are dropped, which keeps a live gate's memory bounded.
    """

    __slots__ = ("_times", "_frames", "_max")

    def __init__(self, max_frames: int | None = 512) -> None:
        self._times: list[int] = []
        self._frames: list[dict[str, Any]] = []
        self._max = max_frames

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, frame: dict[str, Any]) -> None:
        ts = frame["timestamp"]
        if not self._times or ts >= self._times[-1]:
            self._times.append(ts)
            self._frames.append(frame)
        else:
            i = bisect.bisect_right(self._times, ts)
            self._times.insert(i, ts)
            self._frames.insert(i, frame)
        if self._max is not None and len(self._frames) > self._max:
            drop = len(self._frames) - self._max
            del self._times[:drop]
            del self._frames[:drop]

    def at(self, ts: int) -> dict[str, Any] | None:
        times = self._times
        if times and times[-1] <= ts:  # the common live case: the newest frame
            return self._frames[-1]
        i = bisect.bisect_right(times, ts)
        return self._frames[i - 1] if i else None
