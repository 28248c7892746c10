"""Landmarks to `k11_pose` observations (body_observation.v1): pure numpy, no MediaPipe needed.

Input: the 33 BlazePose landmarks of one frame as an array (x, y, z, visibility), x/y normalised
to the raw camera image. Output coordinates follow airdeck_deck_zones.v1 `frame`: in a
`mirrored_preview` the x axis is flipped (x' = 1 - x) so the performer's left hand is at small
x and lands in deck1. `hands.left` is always the performer's left hand.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from lume.generated.constants import SOURCE_K11_POSE
from lume.runtime import core as contracts

from ._zones import DeckZones

# BlazePose topology (MediaPipe pose, 33 landmarks): fixed by the model, not tunable.
NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 11, 12
LEFT_HAND = (15, 17, 19, 21)  # wrist, pinky, index, thumb
RIGHT_HAND = (16, 18, 20, 22)
UPPER_BODY = tuple(range(0, 25))  # face, shoulders, arms, hands, hips: what a DJ-area camera sees
N_LANDMARKS = 33
SOURCE = SOURCE_K11_POSE  # the observation source kind this module produces
DEFAULT_SOURCE_ID = "k11_webcam_pose"  # the K11 webcam lane (body_observation.v1 `source_id`)


@dataclass(frozen=True)
class PoseMotion:
    window_ms: int
    full_scale: float  # body heights per second that map to motion_energy 1.0


def pose_motion_rule() -> PoseMotion | None:
    pm = contracts.table("body_truth_rules.v0").pose_motion
    return None if pm is None else PoseMotion(pm.window_ms, pm.full_scale_body_heights_per_s)


def _clamp01(v: float) -> float:
    return float(min(1.0, max(0.0, v)))


class ObservationBuilder:
    """Turns per-frame landmarks into observations; keeps a short history for motion energy."""

    def __init__(self, zones: DeckZones, *, source_id: str = DEFAULT_SOURCE_ID,
                 input_mirrored: bool = False, motion: PoseMotion | None = None) -> None:
        self.zones = zones
        self.source_id = source_id
        # Flip x when the output frame and the input orientation differ; a mirrored input also
        # swaps the model's left/right (it sees a mirror-image person).
        self.flip = (zones.frame == "mirrored_preview") != input_mirrored
        self.swap_sides = input_mirrored
        self.motion = motion if motion is not None else pose_motion_rule()
        self._history: deque[tuple[int, np.ndarray, float]] = deque()

    def _hand(self, lm: np.ndarray, idx: tuple[int, ...]) -> dict[str, float] | None:
        pts = lm[list(idx)]
        conf = float(pts[:, 3].mean())
        wx, wy = lm[idx[0], 0], lm[idx[0], 1]
        if conf < self.zones.min_hand_confidence or not (0 <= wx <= 1 and 0 <= wy <= 1):
            return None  # not seen: hidden or outside the image
        return {"x": round(_clamp01(pts[:, 0].mean()), 4), "y": round(_clamp01(pts[:, 1].mean()), 4),
                "confidence": round(_clamp01(conf), 4)}

    def _energy(self, ts: int, lm: np.ndarray, height: float) -> float | None:
        m = self.motion
        if m is None:
            return None
        xy = lm[list(UPPER_BODY), :2].copy()
        self._history.append((ts, xy, height))
        while len(self._history) > 1 and self._history[1][0] <= ts - m.window_ms:
            self._history.popleft()  # keep exactly one frame at or before the window start
        t0, xy0, h0 = self._history[0]
        if ts - t0 < m.window_ms or ts <= t0:
            return None  # not enough history yet
        scale = max(height, h0)
        if scale <= 0:
            return None
        speed = float(np.linalg.norm(xy - xy0, axis=1).mean()) / scale / ((ts - t0) / 1000)
        return round(_clamp01(speed / m.full_scale), 4)

    def build(self, timestamp_ms: int, landmarks: np.ndarray | None) -> dict[str, Any]:
        """One body_observation.v1 record for one frame (landmarks None = nobody detected)."""
        obs: dict[str, Any] = {"timestamp_ms": int(timestamp_ms), "source": SOURCE,
                               "source_id": self.source_id}
        if landmarks is None:
            self._history.clear()
            obs.update(present=False, confidence=0.0, hands={"left": None, "right": None},
                       deck_zones={"left_hand": None, "right_hand": None})
            return obs
        lm = np.asarray(landmarks, dtype=np.float64).reshape(N_LANDMARKS, 4).copy()
        if self.flip:
            lm[:, 0] = 1.0 - lm[:, 0]
        left_idx, right_idx = (RIGHT_HAND, LEFT_HAND) if self.swap_sides else (LEFT_HAND, RIGHT_HAND)
        inside = (lm[:, 0] >= 0) & (lm[:, 0] <= 1) & (lm[:, 1] >= 0) & (lm[:, 1] <= 1)
        xs, ys = np.clip(lm[:, 0], 0, 1), np.clip(lm[:, 1], 0, 1)
        box = {"x_min": round(float(xs.min()), 4), "y_min": round(float(ys.min()), 4),
               "x_max": round(float(xs.max()), 4), "y_max": round(float(ys.max()), 4)}
        anchor = {"x": round(_clamp01(lm[[LEFT_SHOULDER, RIGHT_SHOULDER], 0].mean()), 4),
                  "y": round(_clamp01(lm[[LEFT_SHOULDER, RIGHT_SHOULDER], 1].mean()), 4)}
        left, right = self._hand(lm, left_idx), self._hand(lm, right_idx)
        obs.update(
            present=True,
            confidence=round(_clamp01(lm[list(UPPER_BODY), 3].mean()), 4),
            joint_count=int(inside.sum()),
            hands={"left": left, "right": right},
            body_box=box,
            body_anchor=anchor,
            deck_zones={"left_hand": self.zones.zone_of(left["x"], left["y"]) if left else None,
                        "right_hand": self.zones.zone_of(right["x"], right["y"]) if right else None},
        )
        energy = self._energy(int(timestamp_ms), lm, float(lm[:, 1].max() - lm[:, 1].min()))
        if energy is not None:
            obs["motion_energy"] = energy
        return obs


def training_record(obs: dict[str, Any], *, frame_index: int, label: str,
                    clip_kind: str = "evidence", recording: bool = False) -> dict[str, Any]:
    """The same frame as a Pose Coach `metadata/training.jsonl` record (follow targets)."""
    seen = obs["present"]
    return {
        "timestamp_ms": obs["timestamp_ms"],
        "frame_index": frame_index,
        "label": label,
        "clip_kind": clip_kind,
        "recording": recording,
        "hand_cursors": obs["hands"],
        "body_anchor": obs.get("body_anchor") if seen else None,
        "body_box": obs.get("body_box") if seen else None,
        "deck_zone": obs["deck_zones"],
        "person_confidence": obs["confidence"],
    }
