"""The gate's inputs built from a bundle's recorded K11 camera evidence.

Pose Coach records the K11 camera's follow targets per frame (hand cursors, body anchor and
box, deck-zone membership, person confidence) in `training.jsonl`: exactly the fields of a
`k11_pose` body observation (body_observation.v1), which is what the live K11 pose source
feeds the gate. Each frame becomes one observation under promotion_policy.v1
`command.pose_coach_source_id` (no motion_energy: Pose Coach does not record one, and none
is invented); the observations then run through the same path as `lume airdeck run
--from-pose` (lume.runtime.airdeck.pose_stream: BodyTruth fusion + the AirDeck recogniser),
which yields BodyTruth frames and gesture events for the real gate.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from lume.runtime.airdeck import is_frame, pose_records
from lume.runtime.core import airdeck_gestures, get, problems

from . import _policy as policy
from ._streams import Stream

OBSERVATION = "body_observation.v1"


def _observation_kind() -> str:
    """The observation kind the recogniser reads (airdeck_gestures.v1 `observation_sources`)."""
    return airdeck_gestures().observation_sources[0]


def observations(stream: Stream, source_id: str) -> list[dict[str, Any]]:
    """Pose Coach training records (time order) as body_observation.v1 records."""
    kind = _observation_kind()
    contract = get(OBSERVATION)
    out = []
    for rec, line in zip(stream.records, stream.lines):
        seen = rec["body_box"] is not None and rec["body_anchor"] is not None
        obs: dict[str, Any] = {"timestamp_ms": rec["timestamp_ms"], "source": kind,
                               "source_id": source_id, "present": seen,
                               "confidence": rec["person_confidence"],
                               "hands": rec["hand_cursors"], "deck_zones": rec["deck_zone"]}
        if seen:
            obs["body_box"] = rec["body_box"]
            obs["body_anchor"] = rec["body_anchor"]
        found = problems(obs, contract, file=stream.path, line=line)
        if found:  # the training contract guarantees these fields: a bug of ours
            raise RuntimeError(f"observation from {found[0]}")
        out.append(obs)
    return out


@dataclass
class GateEvidence:
    """Gesture events and BodyTruth frames of the recorded camera, in time order."""

    source_id: str
    observations: int
    events: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._event_ts = [e["timestamp_ms"] for e in self.events]
        self._frame_ts = [f["timestamp"] for f in self.frames]

    def events_in(self, t0_ms: int, t1_ms: int) -> list[dict[str, Any]]:
        ts = self._event_ts
        return self.events[bisect.bisect_left(ts, t0_ms):bisect.bisect_right(ts, t1_ms)]

    def frames_in(self, t0_ms: int, t1_ms: int) -> list[dict[str, Any]]:
        ts = self._frame_ts
        return self.frames[bisect.bisect_left(ts, t0_ms):bisect.bisect_right(ts, t1_ms)]

    def covers(self, t0_ms: int, t1_ms: int) -> bool:
        """Whether the camera produced frames inside [t0, t1]."""
        i = bisect.bisect_left(self._frame_ts, t0_ms)
        return i < len(self._frame_ts) and self._frame_ts[i] <= t1_ms


def build(pose_coach: list[tuple[Stream, str]]) -> GateEvidence:
    """Gate evidence from Pose Coach streams, each with the machine its camera ran on."""
    source_id = policy.command()["pose_coach_source_id"]
    obs: list[tuple[dict[str, Any], str]] = []
    for stream, machine in pose_coach:
        obs += [(o, machine) for o in observations(stream, source_id)]
    obs.sort(key=lambda om: om[0]["timestamp_ms"])
    events: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []
    # one pass per machine keeps each detector's own machine on its events (Pose Coach is K11)
    for machine in sorted({m for _, m in obs}):
        for record in pose_records((o for o, m in obs if m == machine), machine=machine):
            (frames if is_frame(record) else events).append(record)
    events.sort(key=lambda e: e["timestamp_ms"])
    frames.sort(key=lambda f: f["timestamp"])
    return GateEvidence(source_id, len(obs), events, frames, [s for s, _ in pose_coach])
