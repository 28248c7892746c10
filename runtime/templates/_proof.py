"""The physical proof matrix: every labelled window of the recorded camera, replayed on the gate.

Each window the camera covered is replayed in dry run on a fresh AirDeck gate (as after an
operator re-arm: a safe stop in one clip never hides what the next clip does), from
promotion_policy.v1 `command.window_preroll_ms` before its start to its end, with labels.v1
as the only promotion source. Per gesture (the labels the gate dispatches on) the matrix
counts the events recognised and the commands dispatched inside each window, and sums per
gesture the physical examples, the examples the gate dispatched, and the false triggers
(dispatches inside negative windows). The fallback runs replay each gesture's own events once
without BodyTruth and once on a gate locked by a safe stop: both must refuse everything.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from lume.runtime.airdeck import PRESENCE, SAFE_STOP, Authority, DispatchGate, Rules, replay
from lume.runtime.core import LabelIndex

from . import _policy as policy
from ._evidence import GateEvidence

EXAMPLE, NEGATIVE, OTHER = "example", "negative", "other"
FALLBACKS = (("no_body_truth", PRESENCE), ("gate_locked", SAFE_STOP))


def _ms(t: float) -> int:
    return int(round(t * 1000))


def is_negative(w: dict[str, Any]) -> bool:
    c = policy.command()
    return w["lane"] in c["negative_lanes"] or w["clip_kind"] in c["negative_clip_kinds"]


def is_example(w: dict[str, Any], gesture: str) -> bool:
    """A physical example clip of `gesture`: a Pose Coach clip of an example kind whose label
    the gate would dispatch as `gesture`."""
    return (w["origin"] == "pose_coach_clip" and w["dispatch_label"] == gesture
            and w["clip_kind"] in policy.command()["example_clip_kinds"])


def role(w: dict[str, Any], gesture: str) -> str:
    if is_negative(w):
        return NEGATIVE
    return EXAMPLE if is_example(w, gesture) else OTHER


@dataclass
class Column:
    """One gesture's sums over the matrix."""

    label: str
    command: str
    deck: int | None
    examples: int = 0
    dispatched_examples: int = 0
    negatives: int = 0
    false_triggers: int = 0
    other_windows: int = 0
    dispatched_other: int = 0
    example_events: list[dict[str, Any]] = field(default_factory=list)
    fallback: list[dict[str, Any]] = field(default_factory=list)

    def meets(self) -> bool:
        c = policy.command()
        return (self.examples >= c["min_physical_examples"]
                and self.dispatched_examples >= c["min_dispatch_fraction"] * self.examples
                and self.negatives >= c["min_negative_windows"]
                and self.false_triggers <= c["max_false_triggers"])

    def fallback_ok(self) -> bool:
        return bool(self.fallback) and all(
            f["events"] > 0 and f["dispatched"] == 0 and set(f["refused_by"]) == {inv}
            for f, (_, inv) in zip(self.fallback, FALLBACKS))

    def to_doc(self) -> dict[str, Any]:
        return {"label": self.label, "command": self.command, "deck": self.deck,
                "examples": self.examples, "dispatched_examples": self.dispatched_examples,
                "negatives": self.negatives, "false_triggers": self.false_triggers,
                "other_windows": self.other_windows, "dispatched_other": self.dispatched_other,
                "fallback": self.fallback, "meets": self.meets()}


@dataclass
class Matrix:
    rows: list[dict[str, Any]]
    columns: dict[str, Column]


def _gate(rules: Rules, **kw: Any) -> DispatchGate:
    return DispatchGate(Authority.simulated(rules), rules, None, dry_run=True, **kw)


def _cell(decisions: list[Any], rules: Rules, gesture: str, t0: int, t1: int) -> dict[str, Any]:
    events = dispatched = 0
    refused: Counter[str] = Counter()
    for d in decisions:
        if not t0 <= d.timestamp_ms <= t1 or rules.canonical(d.label) != gesture:
            continue
        if d.phase != "release":
            events += 1
        if d.dispatched:
            dispatched += 1
        elif d.invariant is not None:
            refused[d.invariant] += 1
    return {"events": events, "dispatched": dispatched, "refused_by": dict(sorted(refused.items()))}


def build(windows: list[dict[str, Any]], evidence: GateEvidence | None, rules: Rules,
          index: LabelIndex, progress: Callable[[int, int], None] | None = None) -> Matrix:
    preroll = int(policy.command()["window_preroll_ms"])
    max_age = rules.max_body_truth_age_ms
    columns: dict[str, Column] = {}
    for g in index.dispatch_labels():
        m = index.map(g)
        columns[g] = Column(g, m.command or g, m.deck)
    for w in windows:  # examples count whether or not the camera is readable here
        for g, col in columns.items():
            if is_example(w, g):
                col.examples += 1
    rows: list[dict[str, Any]] = []
    covered = [w for w in windows if evidence is not None and evidence.covers(
        _ms(w["feature_span"]["start_unix"]), _ms(w["feature_span"]["end_unix"]))]
    for n, w in enumerate(covered, start=1):
        t0, t1 = _ms(w["feature_span"]["start_unix"]), _ms(w["feature_span"]["end_unix"])
        events = evidence.events_in(t0 - preroll, t1)
        frames = evidence.frames_in(t0 - preroll - max_age, t1)
        decisions = replay(_gate(rules), events, frames)
        cells = {}
        for g, col in columns.items():
            r = role(w, g)
            cell = {"role": r, **_cell(decisions, rules, g, t0, t1)}
            cells[g] = cell
            if r == EXAMPLE:
                col.dispatched_examples += cell["dispatched"] > 0
                col.example_events += [e for e in events if rules.canonical(e["label"]) == g]
            elif r == NEGATIVE:
                col.negatives += 1
                col.false_triggers += cell["dispatched"]
            else:
                col.other_windows += 1
                col.dispatched_other += cell["dispatched"] > 0
        rows.append({"window_id": w["window_id"], "label": w["label"], "clip_kind": w["clip_kind"],
                     "source_id": w["source_id"], "start_unix": w["start_unix"],
                     "end_unix": w["end_unix"], "negative": is_negative(w), "cells": cells})
        if progress:
            progress(n, len(covered))
    for col in columns.values():
        col.fallback = fallback(col.example_events, evidence, rules)
    return Matrix(rows, columns)


def fallback(events: list[dict[str, Any]], evidence: GateEvidence | None,
             rules: Rules) -> list[dict[str, Any]]:
    """The gesture's own events without BodyTruth, and on a locked gate: all must be refused."""
    unique = list({(e["timestamp_ms"], e["source_id"], e.get("phase")): e for e in events}.values())
    unique.sort(key=lambda e: e["timestamp_ms"])
    out = []
    for condition, _ in FALLBACKS:
        if condition == "no_body_truth":
            decisions = replay(_gate(rules), unique, [])
        else:
            frames = [] if evidence is None or not unique else evidence.frames_in(
                unique[0]["timestamp_ms"] - rules.max_body_truth_age_ms, unique[-1]["timestamp_ms"])
            decisions = replay(_gate(rules, locked=True), unique, frames)
        refused = Counter(d.invariant for d in decisions if not d.dispatched and d.invariant)
        out.append({"condition": condition,
                    "events": sum(1 for e in unique if e.get("phase") != "release"),
                    "dispatched": sum(1 for d in decisions if d.dispatched),
                    "refused_by": dict(sorted(refused.items()))})
    return out
