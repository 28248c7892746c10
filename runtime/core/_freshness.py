"""How old evidence may be: the one comparison of an evidence time with the clock.

Every consumer that rests a verdict on dated evidence (the completion gate, the Mac5 handoff,
`lume report verify`, the AirDeck live gate) calls `freshness(evidence, document)`: the row of
lume:contract:evidence_freshness:v1 names the field that dates the document, how it is
written and the maximum age; the table (or the row) gives the clock-skew allowance. The
answer says whether the evidence counts and, when it does not, why in one line naming the
field, its time, the limit and the contract (SAFE-EVIDENCE-FRESH).
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import time
from dataclasses import dataclass, replace
from typing import Any

from lume.generated.constants import SAFE_EVIDENCE_FRESH
from lume.generated.models.meta_evidence_freshness_v1 import EvidenceFreshness, Row, Span

from ._models import table
from ._time import parse_datetime, rfc3339

TABLE = "evidence_freshness.v1"
_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def evidence_freshness() -> EvidenceFreshness:
    """evidence_freshness.v1 parsed into its generated model `EvidenceFreshness`."""
    return table(TABLE)


def seconds(span: Span | float, unit: str | None = None) -> float:
    """A Span (or a number with its unit) in seconds."""
    if isinstance(span, Span):
        return span.value * _SECONDS[span.unit]
    return float(span) * _SECONDS[unit or "s"]


@functools.cache
def _rows() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for row in evidence_freshness().evidence:
        if row.evidence in rows:
            raise ValueError(f"{TABLE}: evidence {row.evidence!r} is listed twice")
        rows[row.evidence] = row
    return rows


@dataclass(frozen=True)
class Limit:
    """One row resolved to seconds: what `freshness` compares against."""

    evidence: str
    contract: str
    field: str
    format: str
    max_age_s: float
    skew_s: float

    @property
    def cite(self) -> str:
        return f"{self.evidence} in {TABLE}, {SAFE_EVIDENCE_FRESH}"


def limit(evidence: str) -> Limit:
    """The maximum age and skew allowance of one kind of evidence (KeyError naming the table)."""
    try:
        row = _rows()[evidence]
    except KeyError:
        raise KeyError(f"{evidence!r} is not a row of {TABLE}") from None
    skew = row.max_clock_skew or evidence_freshness().max_clock_skew
    return Limit(row.evidence, row.contract, row.field, row.format,
                 seconds(row.max_age, row.unit), seconds(skew))


def span_text(s: float) -> str:
    """A duration for people: 250 ms, 90 s, 45 min, 5.0 h, 183.2 d."""
    s = abs(s)
    if math.isinf(s):
        return "unlimited"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


class _Unreadable(ValueError):
    pass


def _unix_seconds(value: Any, fmt: str) -> float:
    if fmt == "rfc3339":
        if not isinstance(value, str):
            raise _Unreadable("not an RFC 3339 string")
        try:
            moment = parse_datetime(value)
        except ValueError as exc:
            raise _Unreadable(f"not an RFC 3339 time ({exc})") from None
        if moment.tzinfo is None:
            raise _Unreadable("an RFC 3339 time needs `Z` or an offset")
        return moment.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Unreadable("not a finite number")
    return value / 1000.0 if fmt == "unix_ms" else float(value)


@dataclass(frozen=True)
class Freshness:
    """The verdict on one dated piece of evidence."""

    limit: Limit
    source: str | None
    time: Any  # the value as the document wrote it (None when missing)
    at: float | None  # Unix seconds of `time`
    now: float
    problem: str | None

    @property
    def fresh(self) -> bool:
        return self.problem is None

    @property
    def age_s(self) -> float | None:
        return None if self.at is None else self.now - self.at

    def record(self) -> dict[str, Any]:
        """The readiness_report.v1 `EvidenceTime` of this verdict."""
        age = self.age_s
        return {"evidence": self.limit.evidence, "contract": self.limit.contract,
                "source": self.source or "-", "field": self.limit.field, "time": self.time,
                "age_s": None if age is None else round(age, 3),
                "max_age_s": self.limit.max_age_s, "fresh": self.fresh}

    def describe(self) -> str:
        """One line: the problem, or what was found fresh."""
        if self.problem is not None:
            return self.problem
        return (f"{self.limit.field} {self.time} is {span_text(self.age_s or 0)} old, within the "
                f"{span_text(self.limit.max_age_s)} limit [{self.limit.contract}; {self.limit.cite}]")


def freshness(evidence: str, document: Any, *, now: float | None = None,
              source: str | None = None, max_age_s: float | None = None) -> Freshness:
    """Is `document` (its time field per the `evidence` row) fresh at `now` (Unix seconds)?

    Stale (older than the row's maximum age, or `max_age_s` when the operator asked for
    another; `math.inf` checks only the skew), dated ahead of `now` by more than the skew
    allowance, or missing / unreadable time: `problem` names the source, field, time, limit
    and contract. Never raises for a bad document.
    """
    lim = limit(evidence)
    if max_age_s is not None:
        lim = replace(lim, max_age_s=float(max_age_s))
    moment = time.time() if now is None else now
    where = f"{source}: " if source else ""
    tag = f"[{lim.contract}; {lim.cite}]"
    value = document.get(lim.field) if isinstance(document, dict) else None
    if value is None:
        return Freshness(lim, source, None, None, moment,
                         f"{where}{lim.field} is missing: the age of this {lim.contract} document "
                         f"cannot be checked against its {span_text(lim.max_age_s)} limit {tag}")
    try:
        at = _unix_seconds(value, lim.format)
    except _Unreadable as exc:
        return Freshness(lim, source, value, None, moment,
                         f"{where}{lim.field} {value!r} is {exc}: its age cannot be checked {tag}")
    shown = value if lim.format == "rfc3339" else f"{value} ({_iso(at)})"
    age = moment - at
    if -age > lim.skew_s:
        return Freshness(lim, source, value, at, moment,
                         f"{where}{lim.field} {shown} is dated in the future, {span_text(-age)} ahead "
                         f"of this clock, beyond the {span_text(lim.skew_s)} clock-skew allowance {tag}")
    if age > lim.max_age_s:
        return Freshness(lim, source, value, at, moment,
                         f"{where}stale: {lim.field} {shown} is {span_text(age)} old, older than the "
                         f"{span_text(lim.max_age_s)} limit {tag}")
    return Freshness(lim, source, value, at, moment, None)


def _iso(at: float) -> str:
    try:
        return rfc3339(dt.datetime.fromtimestamp(at, dt.timezone.utc))
    except (OverflowError, OSError, ValueError):
        return "out of range"
