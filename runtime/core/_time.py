"""The storage clock: wall time, or SOURCE_DATE_EPOCH when set (reproducible fixtures)."""
from __future__ import annotations

import os
import time
from typing import Callable

Clock = Callable[[], float]


def now() -> float:
    """Unix seconds. SOURCE_DATE_EPOCH (the reproducible-builds convention) pins it."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH")
    if fixed:
        try:
            return int(fixed)
        except ValueError:
            pass
    return round(time.time(), 3)


def fixed(epoch: float) -> Clock:
    """A clock that always says `epoch` (fixtures, tests)."""
    return lambda: epoch
