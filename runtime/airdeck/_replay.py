"""Run recorded or synthetic streams through the gate, in time order."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from ._dispatch_gate import Decision, DispatchGate

BODY_TRUTH_TYPE = "lume_body_truth"  # body_truth.v0 `type`: how a mixed stream tells frames apart


def is_frame(record: dict[str, Any]) -> bool:
    return record.get("type") == BODY_TRUTH_TYPE


def replay(gate: DispatchGate, events: Iterable[dict[str, Any]],
           frames: Iterable[dict[str, Any]] = ()) -> list[Decision]:
    """Decide every event (stable-sorted by time), each after the frames at or before it."""
    ordered_frames = sorted(frames, key=lambda f: f["timestamp"])
    i = 0
    decisions = []
    for event in sorted(events, key=lambda e: e["timestamp_ms"]):
        ts = event["timestamp_ms"]
        while i < len(ordered_frames) and ordered_frames[i]["timestamp"] <= ts:
            gate.observe(ordered_frames[i])
            i += 1
        decisions.append(gate.decide(event))
    return decisions


def run_stream(gate: DispatchGate, records: Iterable[dict[str, Any]]) -> Iterator[Decision]:
    """A live stream in arrival order: BodyTruth frames are observed, gesture events decided."""
    for record in records:
        if is_frame(record):
            gate.observe(record)
        else:
            yield gate.decide(record)
