"""Small builders for BodyTruth tests: observations, gesture events and a tick-by-tick driver."""
from __future__ import annotations

from typing import Any

from lume.runtime.bodytruth import Fusion, frame_problems

T0 = 1_779_639_000_000


def obs(t: int, source: str = "rgb", source_id: str | None = None, *, present: bool = True,
        confidence: float = 0.9, **extra: Any) -> dict[str, Any]:
    return {"timestamp_ms": T0 + t, "source": source, "source_id": source_id or f"cam_{source}",
            "present": present, "confidence": confidence, **extra}


def gesture(t: int, label: str = "left_hand_raise", *, confidence: float = 0.9, machine: str = "K11",
            source_id: str = "k11_webcam_pose", **extra: Any) -> dict[str, Any]:
    return {"timestamp_ms": T0 + t, "source_id": source_id, "machine": machine, "label": label,
            "confidence": confidence, **extra}


class Driver:
    """Feeds one RGB reading (with the given motion energy) per step, optionally keeps a gesture
    held, ticks, and checks every frame against the contract."""

    def __init__(self, fusion: Fusion | None = None, step_ms: int = 33) -> None:
        self.f = fusion or Fusion()
        self.t = 0
        self.step_ms = step_ms
        self.frames: list[dict[str, Any]] = []
        self.holding: dict[str, Any] | None = None

    def step(self, energy: float | None = 0.05, *, n: int = 1, **obs_extra: Any) -> dict[str, Any]:
        for _ in range(n):
            if energy is not None:
                self.f.observe(obs(self.t, motion_energy=energy, **obs_extra))
            if self.holding is not None:
                self.f.gesture(gesture(self.t, phase="hold", **self.holding))
            frame = self.f.tick(T0 + self.t)
            assert frame_problems(frame) == [], frame
            self.frames.append(frame)
            self.t += self.step_ms
        return self.frames[-1]

    def hold(self, **kw: Any) -> None:
        self.f.gesture(gesture(self.t, phase="start", **kw))
        self.holding = kw

    def release(self, **kw: Any) -> None:
        kw = {**(self.holding or {}), **kw}
        self.f.gesture(gesture(self.t, phase="release", **kw))
        self.holding = None

    @property
    def mode(self) -> str:
        return self.frames[-1]["mode"]

    def modes(self) -> list[str]:
        return [f["mode"] for f in self.frames]

    def transitions(self) -> set[tuple[str, str]]:
        ms = [self.f.modes.initial] + self.modes()
        return {(a, b) for a, b in zip(ms, ms[1:]) if a != b}
