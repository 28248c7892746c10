"""First AirDeck gestures from K11 pose observations: left / right hand raise and the safe stop.

Reads body_observation.v1 records of the kinds airdeck_gestures.v1 names (`k11_pose`) and
emits gesture_event.v1 records with phases start / hold / release. A hand is raised by the
hand-raise rule of airdeck_deck_zones.v1 (above the same-side shoulder, or - body
observations carry no shoulder points - above the body anchor by its margin, with enough
hand confidence); each gesture row may also require a raised hand to sit in a deck zone, so
the left hand in deck1 and the right hand in deck2 stay distinct. Rows are tried in order:
both hands up is the safe stop, never both deck commands. Every frame that still matches
emits `hold`; the gate measures the hold from these. Candidates (scratch, loop, sync, cue,
next-track) have no row and are never emitted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from lume.runtime.core import body_truth_rules, rule_data


@dataclass(frozen=True)
class _Row:
    label: str
    raised: tuple[str, ...]
    zones: tuple[tuple[str, tuple[float, float, float, float]], ...]  # (hand, box)
    deck: int | None


@dataclass
class _Active:
    label: str
    deck: int | None
    confidence: float
    last: int


class Recognizer:
    """Turns a stream of observations into gesture events, per source."""

    def __init__(self, *, machine: str, gestures: dict[str, Any] | None = None,
                 zones: dict[str, Any] | None = None,
                 release_after_ms: int | None = None) -> None:
        if gestures is None:
            gestures = rule_data("airdeck_gestures.v1")
        if zones is None:
            zones = rule_data("airdeck_deck_zones.v1")
        if release_after_ms is None:
            release_after_ms = body_truth_rules().gesture.release_after_ms
        self.machine = machine
        self.sources = frozenset(gestures["observation_sources"])
        boxes = {name: (z["box"]["x_min"], z["box"]["y_min"], z["box"]["x_max"], z["box"]["y_max"])
                 for name, z in zones["zones"].items()}
        self.rows = tuple(
            _Row(g["label"], tuple(g["raised"]),
                 tuple((hand, boxes[zone]) for hand, zone in g["zones"].items()), g["deck"])
            for g in gestures["gestures"])
        rule = zones["hand_raise"]
        # body observations carry the body anchor (shoulder midpoint), no shoulder points
        self.anchor_margin = float(rule["margins"]["body_anchor"])
        self.min_hand_confidence = float(rule["min_hand_confidence"])
        self.release_after_ms = int(release_after_ms)
        self._active: dict[str, _Active] = {}

    def _raised(self, obs: dict[str, Any], hand: str) -> dict[str, Any] | None:
        point = (obs.get("hands") or {}).get(hand)
        anchor = obs.get("body_anchor")
        if point is None or anchor is None or point["confidence"] < self.min_hand_confidence:
            return None
        return point if point["y"] < anchor["y"] - self.anchor_margin else None

    def match(self, obs: dict[str, Any]) -> tuple[_Row, float] | None:
        """The first gesture row the observation matches, with its confidence."""
        if not obs.get("present"):
            return None
        points = {hand: self._raised(obs, hand) for hand in ("left", "right")}
        for row in self.rows:
            if any(points[h] is None for h in row.raised):
                continue
            if all(x0 <= points[h]["x"] <= x1 and y0 <= points[h]["y"] <= y1
                   for h, (x0, y0, x1, y1) in row.zones):
                return row, min(points[h]["confidence"] for h in row.raised)
        return None

    def _event(self, ts: int, source_id: str, label: str, deck: int | None, confidence: float,
               phase: str) -> dict[str, Any]:
        event = {"timestamp_ms": ts, "source_id": source_id, "machine": self.machine,
                 "label": label, "confidence": confidence}
        if deck is not None:
            event["deck"] = deck
        event["phase"] = phase
        return event

    def feed(self, obs: dict[str, Any]) -> list[dict[str, Any]]:
        """Events caused by one observation (none for sources it does not read)."""
        if obs.get("source") not in self.sources:
            return []
        ts, source_id = obs["timestamp_ms"], obs["source_id"]
        out = []
        active = self._active.get(source_id)
        if active is not None and ts - active.last > self.release_after_ms:
            out.append(self._release(source_id, active.last + self.release_after_ms))
            active = None
        found = self.match(obs)
        if found is None:
            if active is not None:
                out.append(self._release(source_id, ts))
            return out
        row, confidence = found
        if active is not None and active.label != row.label:
            out.append(self._release(source_id, ts))
            active = None
        if active is None:
            self._active[source_id] = _Active(row.label, row.deck, confidence, ts)
            out.append(self._event(ts, source_id, row.label, row.deck, confidence, "start"))
        else:
            active.confidence, active.last = confidence, ts
            out.append(self._event(ts, source_id, row.label, row.deck, confidence, "hold"))
        return out

    def _release(self, source_id: str, ts: int) -> dict[str, Any]:
        a = self._active.pop(source_id)
        return self._event(ts, source_id, a.label, a.deck, a.confidence, "release")

    def finish(self) -> list[dict[str, Any]]:
        """Release every gesture still held at the end of a stream."""
        return [self._release(s, self._active[s].last) for s in list(self._active)]


def recognize(observations: Iterable[dict[str, Any]], *, machine: str) -> list[dict[str, Any]]:
    """Gesture events of a whole (time-ordered) observation stream."""
    rec = Recognizer(machine=machine)
    events = [e for obs in observations for e in rec.feed(obs)]
    return events + rec.finish()
