"""Gesture hold tracking: turns gesture_event.v1 records into one live gesture with its hold time.

One track at a time (the newest detector lane wins). A track continues while the same label,
deck and source keep arriving within `release_after_ms`; `phase: release`, a confidence below
the candidate threshold, a gap longer than release_after_ms or a label change end it
(SAFE-CMD-HOLD reset_on). `above_since` is when the confidence last rose to the command
threshold and stayed there; the hold is measured from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._rules import Rules


@dataclass
class GestureTrack:
    label: str
    deck: int | None
    command: str | None
    threshold: float
    hold_ms: int
    source_id: str
    machine: str
    phase: str | None
    confidence: float
    first_ms: int
    last_ms: int
    above_since: int | None
    released: bool = False
    consumed: bool = False  # confirmed (or lost) once: must be released before it can start again

    def live(self, now_ms: int, rules: Rules) -> bool:
        g = rules.model.gesture
        return (not self.released and self.confidence >= g.candidate_min_confidence
                and now_ms - self.last_ms <= g.release_after_ms)

    def held(self) -> bool:
        """A deliberate held gesture (present_still accepts only these): phase start or hold."""
        return self.phase in ("start", "hold")

    def intent(self) -> dict[str, Any]:
        return {"name": self.label, "confidence": self.confidence, "deck": self.deck,
                "command": self.command}


class GestureTracker:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.track: GestureTrack | None = None

    def event(self, ev: dict[str, Any]) -> None:
        """Feed one validated gesture event (evidence-only lanes are ignored by the caller)."""
        r = self.rules
        g = r.model.gesture
        ts, label, conf = ev["timestamp_ms"], ev["label"], float(ev["confidence"])
        phase = ev.get("phase")
        mapped = r.gesture_command(label)
        deck = ev.get("deck", mapped.deck)
        t = self.track
        same = (t is not None and not t.released and t.label == label and t.deck == deck
                and t.source_id == ev["source_id"] and ts - t.last_ms <= g.release_after_ms)
        if phase == "release" or conf < g.candidate_min_confidence:
            if same:
                t.released = True
                t.confidence = conf
                t.last_ms = max(t.last_ms, ts)
            return
        if not same:
            t = self.track = GestureTrack(
                label=label, deck=deck, command=mapped.command, threshold=mapped.threshold,
                hold_ms=mapped.hold_ms, source_id=ev["source_id"], machine=ev["machine"],
                phase=phase, confidence=conf, first_ms=ts, last_ms=ts, above_since=None)
        t.phase, t.confidence, t.machine = phase, conf, ev["machine"]
        t.last_ms = max(t.last_ms, ts)
        if conf >= t.threshold:
            if t.above_since is None:
                t.above_since = ts
        else:
            t.above_since = None

    def can_start(self, now_ms: int, recognition: str) -> bool:
        t = self.track
        if t is None or t.consumed or recognition == "disabled" or not t.live(now_ms, self.rules):
            return False
        return recognition == "enabled" or t.held()

    def can_confirm(self, now_ms: int, candidate_since: int) -> bool:
        t = self.track
        if t is None or t.consumed or not t.live(now_ms, self.rules):
            return False
        if t.machine not in self.rules.model.gesture.confirm_machines or t.above_since is None:
            return False
        return t.confidence >= t.threshold and now_ms - max(t.above_since, candidate_since) >= t.hold_ms

    def live(self, now_ms: int) -> bool:
        t = self.track
        return t is not None and t.live(now_ms, self.rules)

    def consume(self) -> None:
        if self.track is not None:
            self.track.consumed = True
