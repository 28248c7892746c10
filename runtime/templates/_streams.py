"""Evidence streams read for the analyzer, every line validated against its contract.

Each stream becomes a `Stream`: sample times (Unix seconds, sorted) and named channels (one
float per sample, NaN where the sample has no value), so a window's features are slices and
NaN-aware means. Channels per kind:

- pose_coach (pose_coach_training_record.v1): person confidence, hands raised by the
  hand-raise rule of airdeck_deck_zones.v1 (above the body anchor by its margin, with enough
  hand confidence), recorded deck-zone membership, hand heights above the anchor, hand speed
  and a motion energy from hand + anchor speed (body heights per second, scaled like the pose
  source's motion_energy by body_truth_rules.v0 `pose_motion`);
- motionmix (motionmix_state_record.v1): avg_energy, avg_motion, stillness_score;
- body_truth (body_truth.v0 frames): present, stillness, burst, velocity, 1 - stillness;
- pose (body_observation.v1): present, motion_energy;
- sam3d (sam3d_frame.v1): present, confidence, keypoint speed as an energy (same scaling).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import deck_zones, hash_input, iter_records

from ._policy import pose_motion_full_scale

NAN = float("nan")


@dataclass
class Stream:
    kind: str
    source_id: str
    path: str  # as recorded in outputs (bundle-relative when inside the bundle)
    sha256: str
    t: np.ndarray  # Unix seconds, sorted
    channels: dict[str, np.ndarray] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)  # in time order
    lines: list[int] = field(default_factory=list)  # the line of each record

    def __len__(self) -> int:
        return len(self.t)

    def span(self, t0: float, t1: float) -> slice:
        """Samples with t0 <= t <= t1."""
        return slice(int(np.searchsorted(self.t, t0, "left")),
                     int(np.searchsorted(self.t, t1, "right")))

    def input_ref(self) -> dict[str, Any]:
        return {"kind": self.kind, "source_id": self.source_id, "path": self.path,
                "sha256": self.sha256, "records": len(self.records)}


def read_records(path: Path, stem: str) -> tuple[list[dict[str, Any]], list[int], str]:
    """Validated records of a JSONL file with their line numbers and the file's SHA-256."""
    records, lines = [], []
    for n, rec in iter_records(path, stem):
        records.append(rec)
        lines.append(n)
    return records, lines, hash_input(path, INPUT_HASHED_FILE)[0]


def _in_time_order(records: list[dict[str, Any]], lines: list[int],
                   when) -> tuple[list[dict[str, Any]], list[int]]:
    order = sorted(range(len(records)), key=lambda i: when(records[i]))  # stable
    return [records[i] for i in order], [lines[i] for i in order]


def _stream(kind: str, source_id: str, shown: str, digest: str, t: list[float],
            channels: dict[str, list[float]], records: list[dict[str, Any]],
            lines: list[int]) -> Stream:
    return Stream(kind, source_id, shown, digest, np.asarray(t, dtype=np.float64),
                  {k: np.asarray(v, dtype=np.float64) for k, v in channels.items()},
                  records, lines)


class Speed:
    """Speed of named points in body heights per second, measured like the pose source
    (lume.runtime.pose.landmarks): against the one sample at or before `window_ms` ago, the
    history cleared when the body is lost; `energy` scales it to 0..1 by `full_scale`."""

    def __init__(self) -> None:
        window_ms, self.full_scale = pose_motion_full_scale()
        self.window_s = window_ms / 1000.0
        self.history: list[tuple[float, dict[str, tuple[float, float]], float]] = []

    def reset(self) -> None:
        self.history.clear()

    def update(self, t: float, points: dict[str, tuple[float, float]], height: float) -> float:
        self.history.append((t, points, height))
        while len(self.history) > 1 and self.history[1][0] <= t - self.window_s:
            self.history.pop(0)
        t0, p0, h0 = self.history[0]
        scale = max(height, h0)
        common = [k for k in points if k in p0]
        if t - t0 < self.window_s or t <= t0 or scale <= 0 or not common:
            return NAN
        dist = sum(math.dist(points[k], p0[k]) for k in common) / len(common)
        return dist / scale / (t - t0)

    def energy(self, speed: float) -> float:
        return NAN if math.isnan(speed) else min(1.0, max(0.0, speed / self.full_scale))


@functools.cache
def hand_rule() -> tuple[float, float]:
    """(anchor margin, min hand confidence) of airdeck_deck_zones.v1 `hand_raise`: Pose Coach
    tracks carry the body anchor, not shoulders, so the anchor margin applies."""
    rule = deck_zones().hand_raise
    return float(rule.margins.body_anchor), float(rule.min_hand_confidence)


POSE_COACH_CHANNELS = ("person_confidence", "left_raised", "right_raised", "both_raised",
                       "left_deck1", "right_deck2", "left_height", "right_height", "hand_speed",
                       "energy")


def pose_coach(path: Path, source_id: str, shown: str) -> Stream:
    records, lines, digest = read_records(path, "pose_coach_training_record.v1")
    records, lines = _in_time_order(records, lines, lambda r: r["timestamp_ms"])
    margin, min_conf = hand_rule()
    speed = Speed()
    t: list[float] = []
    ch: dict[str, list[float]] = {k: [] for k in POSE_COACH_CHANNELS}
    for rec in records:
        ts = rec["timestamp_ms"] / 1000.0
        t.append(ts)
        anchor, box, hands = rec["body_anchor"], rec["body_box"], rec["hand_cursors"]
        ch["person_confidence"].append(rec["person_confidence"])
        raised = {}
        for side in ("left", "right"):
            h = hands[side]
            seen = h is not None and anchor is not None and h["confidence"] >= min_conf
            raised[side] = seen and h["y"] < anchor["y"] - margin
            ch[f"{side}_raised"].append(float(raised[side]))
            ch[f"{side}_height"].append(anchor["y"] - h["y"] if seen else NAN)
        ch["both_raised"].append(float(raised["left"] and raised["right"]))
        ch["left_deck1"].append(float(rec["deck_zone"]["left_hand"] == "deck1"))
        ch["right_deck2"].append(float(rec["deck_zone"]["right_hand"] == "deck2"))
        if anchor is None or box is None:
            speed.reset()
            ch["hand_speed"].append(NAN)
            ch["energy"].append(NAN)
            continue
        points = {s: (hands[s]["x"], hands[s]["y"]) for s in ("left", "right") if hands[s]}
        hand_v = speed.update(ts, {**points, "anchor": (anchor["x"], anchor["y"])},
                              box["y_max"] - box["y_min"])
        ch["hand_speed"].append(hand_v)
        ch["energy"].append(speed.energy(hand_v))
    return _stream("pose_coach", source_id, shown, digest, t, ch, records, lines)


def motionmix(path: Path, source_id: str, shown: str) -> Stream:
    records, lines, digest = read_records(path, "motionmix_state_record.v1")
    records, lines = _in_time_order(records, lines, lambda r: r["timestamp_ms"])
    return _stream("motionmix", source_id, shown, digest,
                   [r["timestamp_ms"] / 1000.0 for r in records],
                   {"energy": [r["avg_energy"] for r in records],
                    "motion": [r["avg_motion"] for r in records],
                    "stillness": [r["stillness_score"] for r in records]}, records, lines)


def body_truth(path: Path, source_id: str, shown: str) -> Stream:
    records, lines, digest = read_records(path, "body_truth.v0")
    records, lines = _in_time_order(records, lines, lambda r: r["timestamp"])
    return _stream("body_truth", source_id, shown, digest,
                   [r["timestamp"] / 1000.0 for r in records],
                   {"present": [float(r["present"]) for r in records],
                    "stillness": [r["stillness"] for r in records],
                    "burst": [r["burst"] for r in records],
                    "velocity": [r["velocity"] for r in records],
                    "energy": [1.0 - r["stillness"] for r in records]}, records, lines)


def pose(path: Path, source_id: str, shown: str) -> Stream:
    records, lines, digest = read_records(path, "body_observation.v1")
    records, lines = _in_time_order(records, lines, lambda r: r["timestamp_ms"])
    return _stream("pose", source_id, shown, digest,
                   [r["timestamp_ms"] / 1000.0 for r in records],
                   {"present": [float(r["present"]) for r in records],
                    "energy": [r.get("motion_energy", NAN) if r["present"] else NAN
                               for r in records]}, records, lines)


def sam3d(path: Path, source_id: str, shown: str, start_unix: float) -> Stream:
    """SAM3D frames; `t_s` counts from the start of the reconstructed source (`start_unix`)."""
    records, lines, digest = read_records(path, "sam3d_frame.v1")
    records, lines = _in_time_order(records, lines, lambda r: r["t_s"])
    speed = Speed()
    t: list[float] = []
    ch: dict[str, list[float]] = {"present": [], "confidence": [], "energy": []}
    for r in records:
        ts = start_unix + r["t_s"]
        t.append(ts)
        ch["present"].append(float(r["present"]))
        ch["confidence"].append(r["confidence"])
        box = r["body_box"]
        if not r["present"] or box is None or not r.get("keypoints"):
            speed.reset()
            ch["energy"].append(NAN)
            continue
        points = {k["name"]: (k["x"], k["y"]) for k in r["keypoints"]}
        ch["energy"].append(speed.energy(speed.update(ts, points, box["y_max"] - box["y_min"])))
    return _stream("sam3d", source_id, shown, digest, t, ch, records, lines)
