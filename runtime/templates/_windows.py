"""Labelled windows (gesture_window.v1) and their per-window motion features.

Windows come from two places: Mac4 Tier 0 markers (a start/end pair of a label is one
window, a marker or an unpaired event a point; a start still open at the end of the take
runs to its end, the pairing `lume bundle` uses for bundle.json labels) and K11 Pose Coach
clips (consecutive training.jsonl frames of one clip index and label; frames between clips
belong to none). Every label is aligned through the label table; an unknown one is bad input.
Features are read from every evidence stream with samples inside the window's feature span
(a point marker is widened by promotion_policy.v1 `analyzer.point_marker_context_s`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from lume.runtime.core import LabelIndex

from ._streams import Stream

ROUND = 6  # output rounding: stable JSON, far below any threshold's resolution


def _r(x: float) -> float:
    return round(float(x), ROUND)


# feature name -> (stream kind, channel, reducer); names are gesture_window.v1 `features` fields
def _mean(v: np.ndarray) -> float:
    return float(np.mean(v))


def _max(v: np.ndarray) -> float:
    return float(np.max(v))


FEATURES: tuple[tuple[str, str, str, Callable[[np.ndarray], float]], ...] = (
    ("person_confidence_mean", "pose_coach", "person_confidence", _mean),
    ("left_hand_raised_fraction", "pose_coach", "left_raised", _mean),
    ("right_hand_raised_fraction", "pose_coach", "right_raised", _mean),
    ("both_hands_raised_fraction", "pose_coach", "both_raised", _mean),
    ("left_hand_deck1_fraction", "pose_coach", "left_deck1", _mean),
    ("right_hand_deck2_fraction", "pose_coach", "right_deck2", _mean),
    ("left_hand_height_mean", "pose_coach", "left_height", _mean),
    ("right_hand_height_mean", "pose_coach", "right_height", _mean),
    ("hand_speed_mean", "pose_coach", "hand_speed", _mean),
    ("pose_coach_energy_mean", "pose_coach", "energy", _mean),
    ("motionmix_energy_mean", "motionmix", "energy", _mean),
    ("motionmix_energy_max", "motionmix", "energy", _max),
    ("motionmix_motion_mean", "motionmix", "motion", _mean),
    ("motionmix_stillness_mean", "motionmix", "stillness", _mean),
    ("body_truth_present_fraction", "body_truth", "present", _mean),
    ("body_truth_energy_mean", "body_truth", "energy", _mean),
    ("body_truth_stillness_mean", "body_truth", "stillness", _mean),
    ("body_truth_burst_max", "body_truth", "burst", _max),
    ("body_truth_velocity_mean", "body_truth", "velocity", _mean),
    ("pose_present_fraction", "pose", "present", _mean),
    ("pose_energy_mean", "pose", "energy", _mean),
    ("pose_energy_max", "pose", "energy", _max),
    ("sam3d_present_fraction", "sam3d", "present", _mean),
    ("sam3d_confidence_mean", "sam3d", "confidence", _mean),
    ("sam3d_energy_mean", "sam3d", "energy", _mean),
)
ENERGY_CHANNEL = "energy"  # the channel every stream kind keeps its motion energy in


@dataclass
class Labelled:
    """A window before its features: where it came from and its span."""

    label: str  # as recorded
    origin: str  # mac4_marker | pose_coach_clip
    source_id: str
    start: float
    end: float
    point: bool
    path: str
    first_line: int
    last_line: int
    clip_kind: str | None = None
    clip_index: int | None = None


# ------------------------------------------------------------------------------ Mac4 markers
def mac4_windows(records: list[dict[str, Any]], lines: list[int], *, source_id: str, path: str,
                 start_unix: float | None, duration_s: float | None,
                 notes: list[str]) -> list[Labelled]:
    """Windows of a Mac4 labels.jsonl (records in file order)."""
    def when(rec: dict[str, Any]) -> float | None:
        if "t_unix" in rec:
            return float(rec["t_unix"])
        return None if start_unix is None else start_unix + float(rec["t_s"])

    out: list[Labelled] = []
    open_: dict[str, tuple[dict[str, Any], int]] = {}
    skipped = 0

    def add(a: tuple[dict[str, Any], int], b: tuple[dict[str, Any], int],
            end: float | None = None) -> None:
        nonlocal skipped
        t0, t1 = when(a[0]), end if end is not None else when(b[0])
        if t0 is None or t1 is None:
            skipped += 1
            return
        out.append(Labelled(a[0]["label"], "mac4_marker", source_id, t0, max(t0, t1),
                            a is b or t1 <= t0, path, min(a[1], b[1]), max(a[1], b[1])))

    for rec, line in zip(records, lines):
        label, event, here = rec["label"], rec["event"], (rec, line)
        if event == "start":
            if label in open_:  # restarted without an end: the first start stands for a point
                add(open_[label], open_[label])
            open_[label] = here
        elif event == "end" and label in open_:
            add(open_.pop(label), here)
        else:  # a marker, or an end without its start: one point in time
            add(here, here)
    for here in open_.values():  # still open when the take ended: runs to its end
        take_end = None if start_unix is None or duration_s is None else start_unix + duration_s
        t0 = when(here[0])
        if take_end is not None and t0 is not None and take_end > t0:
            add(here, here, take_end)
            out[-1].point = False
        else:
            add(here, here)
    if skipped:
        notes.append(f"{path}: {skipped} marker(s) carry only `t_s` and the source has no "
                     "start_unix: they have no absolute time and were left out")
    return sorted(out, key=lambda w: (w.start, w.end))


# ------------------------------------------------------------------------------ Pose Coach clips
def pose_coach_windows(stream: Stream) -> list[Labelled]:
    """Clips of a Pose Coach training stream (records in time order)."""
    out: list[Labelled] = []
    current: tuple[Any, ...] | None = None
    for rec, line in zip(stream.records, stream.lines):
        if rec.get("clip_index") is not None:
            key: tuple[Any, ...] | None = ("clip", rec["clip_index"], rec["label"], rec["clip_kind"])
        elif "clip_index" not in rec and rec["recording"]:  # recorded without clip indices
            key = ("run", None, rec["label"], rec["clip_kind"])
        else:
            key = None  # between clips
        ts = rec["timestamp_ms"] / 1000.0
        if key is not None and key == current:
            w = out[-1]
            w.end = max(w.end, ts)
            w.first_line, w.last_line = min(w.first_line, line), max(w.last_line, line)
        elif key is not None:
            out.append(Labelled(rec["label"], "pose_coach_clip", stream.source_id, ts, ts, False,
                                stream.path, line, line, rec["clip_kind"], key[1]))
        current = key
    return out


# ------------------------------------------------------------------------------ features
def feature_span(w: Labelled, context_s: float) -> tuple[float, float]:
    return (w.start - context_s, w.end + context_s) if w.point else (w.start, w.end)


def features(span: tuple[float, float], streams: Iterable[Stream],
             energy_order: list[str]) -> tuple[dict[str, float], list[dict[str, Any]], str | None]:
    """(features, stream uses, energy source) of one feature span."""
    t0, t1 = span
    by_kind: dict[str, list[tuple[Stream, slice]]] = defaultdict(list)
    uses = []
    for s in streams:
        sl = s.span(t0, t1)
        n = sl.stop - sl.start
        if n > 0:
            by_kind[s.kind].append((s, sl))
            uses.append({"kind": s.kind, "source_id": s.source_id, "path": s.path, "samples": n})

    def channel(kind: str, name: str) -> np.ndarray:
        parts = [s.channels[name][sl] for s, sl in by_kind.get(kind, ())]
        values = np.concatenate(parts) if parts else np.empty(0)
        return values[~np.isnan(values)]

    out: dict[str, float] = {}
    for name, kind, ch, reduce in FEATURES:
        v = channel(kind, ch)
        if v.size:
            out[name] = _r(reduce(v))
    energy_source = None
    for kind in energy_order:
        v = channel(kind, ENERGY_CHANNEL)
        if v.size:
            out["motion_energy"] = _r(min(1.0, max(0.0, float(np.mean(v)))))
            energy_source = kind
            break
    return dict(sorted(out.items())), uses, energy_source


def window_records(labelled: list[Labelled], streams: list[Stream], index: LabelIndex, *,
                   origin: float, context_s: float, energy_order: list[str]) -> list[dict[str, Any]]:
    """gesture_window.v1 records, numbered per source in time order."""
    counters: dict[str, int] = defaultdict(int)
    out = []
    for w in sorted(labelled, key=lambda w: (w.start, w.end, w.source_id, w.first_line)):
        m = index.map(w.label, where=f"{w.path}:{w.first_line}")
        counters[w.source_id] += 1
        span = feature_span(w, context_s)
        feats, uses, energy_source = features(span, streams, energy_order)
        out.append({
            "window_id": f"{w.source_id}/{counters[w.source_id]:04d}",
            "label": m.canonical, "recorded_label": w.label, "category": m.category,
            "lane": m.lane, "promotion_status": m.promotion_status, "command": m.command,
            "dispatch_label": m.dispatch_label, "origin": w.origin, "source_id": w.source_id,
            "clip_kind": w.clip_kind, "clip_index": w.clip_index,
            "span": "point" if w.point else "window",
            "start_unix": _r(w.start), "end_unix": _r(w.end), "duration_s": _r(w.end - w.start),
            "t_start_s": _r(max(0.0, w.start - origin)), "t_end_s": _r(max(0.0, w.end - origin)),
            "feature_span": {"start_unix": _r(max(0.0, span[0])), "end_unix": _r(span[1])},
            "provenance": {"path": w.path, "first_line": w.first_line, "last_line": w.last_line},
            "sources": uses, "features": feats, "energy_source": energy_source,
        })
    return out


def stats(values: list[float]) -> dict[str, Any]:
    """n, mean, population std, min, max (rounded)."""
    v = np.asarray(values, dtype=np.float64)
    return {"n": int(v.size), "mean": _r(v.mean()), "std": _r(v.std()), "min": _r(v.min()),
            "max": _r(v.max())}
