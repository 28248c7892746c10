"""Time: the storage clock, and the one rendering and parsing of RFC 3339 timestamps.

Every timestamp LUME writes is RFC 3339 in UTC with a `Z` and whole seconds
(`2026-05-28T18:26:40Z`, `rfc3339`): the precision of the committed fixtures (storage index
log, bundle reports, Pose Coach manifests), so one renderer serves all of them unchanged.
`parse_time` reads any RFC 3339 timestamp (`Z` or an offset, with or without fractions).
"""
from __future__ import annotations

import datetime as dt
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


def rfc3339(moment: float | dt.datetime | None = None) -> str:
    """`moment` (Unix seconds or an aware datetime; None = now) as RFC 3339 UTC, whole seconds."""
    if moment is None:
        moment = time.time()
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_iso(now: float | None = None) -> str:
    """The current time (or `now`, Unix seconds) as RFC 3339: `rfc3339`."""
    return rfc3339(now)


def parse_datetime(text: str) -> dt.datetime:
    """An aware datetime of an RFC 3339 timestamp (`Z` or an offset)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_time(text: str) -> float:
    """Unix seconds of an RFC 3339 timestamp (`Z` or an offset)."""
    return parse_datetime(text).timestamp()
