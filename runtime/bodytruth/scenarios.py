"""The recorded BodyTruth scenario streams of fixtures/scenarios/ and the script that made them.

Each scenario is a small, deterministic observation stream (seeded RNG, fixed start time) for a
situation seed 003 names: a still performer with noisy depth, an active dancer, a burst, leaving
the frame, a seated / torso-only performer, mocopi only, two cameras, and a gesture held then
released. Regenerate with `python -m lume.runtime.bodytruth.scenarios` (writes only on change);
tests check the committed files equal a fresh render.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import zlib
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from lume.runtime.common.atomic import write_text
from lume.runtime.pose.zones import load_deck_zones

T0 = 1779639380000  # fixed start (ms since epoch, the day of seed 003's examples)
PERIOD_MS = 100  # 10 Hz per source keeps the files small (freshness is 200-250 ms)
JITTER_MS = 3
SCENARIO_DIR = "scenarios"

Record = dict[str, Any]
Maker = Callable[[random.Random, int], Record | None]


def _rng(name: str) -> random.Random:
    return random.Random(zlib.crc32(name.encode()))


def _q(x: float) -> float:
    return round(x, 3)


def _u(rng: random.Random, lo: float, hi: float) -> float:
    return _q(rng.uniform(lo, hi))


def _stream(rng: random.Random, source: str, source_id: str, start: int, stop: int, make: Maker,
            period: int = PERIOD_MS) -> list[Record]:
    """Readings of one source every `period` ms (with jitter) in [start, stop)."""
    out, t = [], start + rng.randint(0, period // 2)
    while t < stop:
        body = make(rng, t - T0)
        if body is not None:
            out.append({"timestamp_ms": t, "source": source, "source_id": source_id, **body})
        t += period + rng.randint(-JITTER_MS, JITTER_MS)
    return out


def _merge(*streams: list[Record]) -> list[Record]:
    return sorted((r for s in streams for r in s), key=lambda r: (r["timestamp_ms"], r["source_id"]))


def _vec(x: float, y: float, z: float) -> dict[str, float]:
    return {"x": _q(x), "y": _q(y), "z": _q(z)}


def _wave(t: int, period_ms: float, lo: float, hi: float) -> float:
    return lo + (hi - lo) * (0.5 + 0.5 * math.sin(2 * math.pi * t / period_ms))


def _pose_2d(rng: random.Random, t: int, zone_left: bool = False) -> Record:
    """K11 pose extras: hand cursors, body box/anchor, deck zones (mirrored preview frame)."""
    sway = 0.03 * math.sin(t / 400)
    # A raised hand is well above the anchor (the deck-zones contract's hand-raise margin);
    # a resting one hangs below the zones. Membership itself comes from the contract's boxes.
    left = {"x": _q(0.3 + sway), "y": _q(0.15 if zone_left else 0.85), "confidence": _u(rng, 0.8, 0.95)}
    right = {"x": _q(0.7 + sway), "y": _q(0.85), "confidence": _u(rng, 0.8, 0.95)}
    zones = load_deck_zones()
    return {
        "hands": {"left": left, "right": right},
        "body_box": {"x_min": _q(0.3 + sway), "y_min": 0.08, "x_max": _q(0.7 + sway), "y_max": 0.97},
        "body_anchor": {"x": _q(0.5 + sway), "y": 0.33},
        "deck_zones": {"left_hand": zones.zone_of(left["x"], left["y"]),
                       "right_hand": zones.zone_of(right["x"], right["y"])},
    }


# ---------------------------------------------------------------- scenarios
def still_noisy_depth() -> tuple[list[Record], list[Record]]:
    """A still performer; the depth camera shimmers (high depth motion energy), RGB sees stillness."""
    rng = _rng("still_noisy_depth")
    depth = _stream(rng, "depth", "mac4_mega_depth", T0, T0 + 5000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.78, 0.86),
        "center": _vec(0.1 + r.gauss(0, 0.003), 0.95 + r.gauss(0, 0.003), 1.8 + r.gauss(0, 0.005)),
        "bounds": _vec(0.6, 1.7, 0.4), "motion_energy": _u(r, 0.3, 0.95), "posture": "upright"})
    rgb = _stream(rng, "rgb", "mac4_mega_rgb", T0, T0 + 5000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.85, 0.92), "motion_energy": _u(r, 0.01, 0.08),
        "posture": "upright"})
    return _merge(depth, rgb), []


def active_dancer() -> tuple[list[Record], list[Record]]:
    """A dancer moving steadily (energy 0.25-0.55, below burst); depth, RGB and K11 pose see her."""
    rng = _rng("active_dancer")

    def energy(r: random.Random, t: int) -> float:
        return _q(min(1.0, max(0.0, _wave(t, 1500, 0.28, 0.52) + r.gauss(0, 0.02))))

    def center(t: int) -> dict[str, float]:
        a = 2 * math.pi * t / 3000
        return _vec(0.3 * math.cos(a), 0.95, 1.8 + 0.3 * math.sin(a))

    depth = _stream(rng, "depth", "mac4_mega_depth", T0, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.78, 0.88), "center": center(t),
        "bounds": _vec(0.9, 1.6, 0.5), "motion_energy": energy(r, t), "posture": "upright"})
    rgb = _stream(rng, "rgb", "mac4_mega_rgb", T0, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.85, 0.93), "motion_energy": energy(r, t),
        "posture": "upright"})
    pose = _stream(rng, "k11_pose", "k11_webcam_pose", T0, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.75, 0.85), "motion_energy": energy(r, t),
        "posture": "upright", "joint_count": 33, **_pose_2d(r, t)})
    return _merge(depth, rgb, pose), []


def burst() -> tuple[list[Record], list[Record]]:
    """Active, then 2 s of intentional high-energy motion, then active again (RGB + mocopi + depth)."""
    rng = _rng("burst")

    def energy(r: random.Random, t: int) -> float:
        base = 0.85 if 1500 <= t < 3500 else 0.32
        return _q(min(1.0, max(0.0, base + r.gauss(0, 0.04))))

    rgb = _stream(rng, "rgb", "mac4_mega_rgb", T0, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.85, 0.93), "motion_energy": energy(r, t)})
    mocopi = _stream(rng, "mocopi", "mac4_mocopi", T0, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.88, 0.95), "joint_count": 27,
        "center": _vec(0.1 + 0.2 * math.sin(t / 300), 0.95, 1.7), "motion_energy": energy(r, t),
        "posture": "upright"}, period=50)
    depth = _stream(rng, "depth", "mac4_mega_depth", T0, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.78, 0.86), "motion_energy": _u(r, 0.2, 0.95)})
    return _merge(rgb, mocopi, depth), []


def leaving_frame() -> tuple[list[Record], list[Record]]:
    """Present and moving for 2 s, fading out of view, then the cameras keep seeing nobody."""
    rng = _rng("leaving_frame")

    def person(lo: float, hi: float) -> Maker:
        def make(r: random.Random, t: int) -> Record:
            if t < 2000:
                return {"present": True, "confidence": _u(r, lo, hi), "motion_energy": _u(r, 0.25, 0.4)}
            if t < 2300:  # half out of frame: still reported, no longer trusted
                return {"present": True, "confidence": _u(r, 0.35, 0.5), "motion_energy": _u(r, 0.2, 0.3)}
            return {"present": False, "confidence": _u(r, 0.02, 0.2)}
        return make

    def depth(r: random.Random, t: int) -> Record:
        if t < 2300:
            return {"present": True, "confidence": _u(r, 0.75, 0.85),
                    "center": _vec(0.2 + t / 4000, 0.95, 1.8), "bounds": _vec(0.6, 1.6, 0.4),
                    "motion_energy": _u(r, 0.3, 0.6)}
        return {"present": False, "confidence": _u(r, 0.02, 0.08), "motion_energy": _u(r, 0.2, 0.9)}

    return _merge(
        _stream(rng, "rgb", "mac4_mega_rgb", T0, T0 + 5000, person(0.85, 0.92)),
        _stream(rng, "k11_pose", "k11_webcam_pose", T0, T0 + 5000, person(0.75, 0.85)),
        _stream(rng, "depth", "mac4_mega_depth", T0, T0 + 5000, depth),
    ), []


def seated_torso_only() -> tuple[list[Record], list[Record]]:
    """Seated (mocopi + K11 pose) for 3 s, then only the torso in view of RGB and K11 pose."""
    rng = _rng("seated_torso_only")
    mocopi = _stream(rng, "mocopi", "mac4_mocopi", T0, T0 + 3000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.88, 0.94), "joint_count": 27, "posture": "seated",
        "center": _vec(0.0, 0.6, 1.6), "motion_energy": _u(r, 0.02, 0.08)}, period=50)
    pose = _stream(rng, "k11_pose", "k11_webcam_pose", T0, T0 + 6000, lambda r, t: {
        "present": True, "motion_energy": _u(r, 0.02, 0.08), "joint_count": 33 if t < 3000 else 17,
        **({"confidence": _u(r, 0.76, 0.82), "posture": "seated"} if t < 3000
           else {"confidence": _u(r, 0.66, 0.72), "posture": "torso_only"})})
    rgb = _stream(rng, "rgb", "mac4_mega_rgb", T0 + 3000, T0 + 6000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.62, 0.7), "posture": "torso_only",
        "motion_energy": _u(r, 0.02, 0.08)})
    return _merge(mocopi, pose, rgb), []


def mocopi_only() -> tuple[list[Record], list[Record]]:
    """Only a mocopi suit (27 canonical joints), moving moderately."""
    rng = _rng("mocopi_only")
    mocopi = _stream(rng, "mocopi", "mac4_mocopi", T0, T0 + 4000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.9, 0.95), "joint_count": 27, "posture": "upright",
        "center": _vec(0.25 * math.sin(t / 500), 0.95, 1.7), "bounds": _vec(0.7, 1.7, 0.4),
        "motion_energy": _u(r, 0.25, 0.45)}, period=50)
    return mocopi, []


def two_cameras() -> tuple[list[Record], list[Record]]:
    """Mac4 RGB and the K11 webcam see the performer; RGB drops out after 3.5 s. The Mac2 room-wide
    Insta360 is evidence-only and must never count as the second camera."""
    rng = _rng("two_cameras")
    rgb = _stream(rng, "rgb", "mac4_mega_rgb", T0, T0 + 3500, lambda r, t: {
        "present": True, "confidence": _u(r, 0.78, 0.86), "motion_energy": _u(r, 0.2, 0.3)})
    pose = _stream(rng, "k11_pose", "k11_webcam_pose", T0, T0 + 5000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.74, 0.82), "motion_energy": _u(r, 0.2, 0.3),
        "joint_count": 33, **_pose_2d(r, t)})
    room = _stream(rng, "rgb", "mac2_insta360_room_wide", T0, T0 + 5000, lambda r, t: {
        "present": True, "confidence": _u(r, 0.9, 0.97), "motion_energy": _u(r, 0.2, 0.3)}, period=200)
    return _merge(rgb, pose, room), []


def gesture_hold_release() -> tuple[list[Record], list[Record]]:
    """A still performer holds left_hand_raise for 2 s then releases; a two-frame right-hand flicker;
    then a Mac4 detector holds right_hand_raise (Mac4 may never confirm a command)."""
    rng = _rng("gesture_hold_release")
    obs = _merge(
        _stream(rng, "k11_pose", "k11_webcam_pose", T0, T0 + 6500, lambda r, t: {
            "present": True, "confidence": _u(r, 0.8, 0.88), "motion_energy": _u(r, 0.02, 0.08),
            "joint_count": 33, **_pose_2d(r, t, zone_left=1000 <= t < 3066)}),
        _stream(rng, "rgb", "mac4_mega_rgb", T0, T0 + 6500, lambda r, t: {
            "present": True, "confidence": _u(r, 0.85, 0.92), "motion_energy": _u(r, 0.02, 0.08)}),
    )

    def held(label: str, deck: int, source_id: str, machine: str, start: int, stop: int,
             step: int = PERIOD_MS) -> list[Record]:
        out = []
        for i, t in enumerate(range(start, stop, step)):
            out.append({"timestamp_ms": T0 + t, "source_id": source_id, "machine": machine, "label": label,
                        "confidence": _u(rng, 0.86, 0.93), "deck": deck, "phase": "start" if i == 0 else "hold"})
        out.append({"timestamp_ms": T0 + stop, "source_id": source_id, "machine": machine, "label": label,
                    "confidence": _u(rng, 0.3, 0.5), "deck": deck, "phase": "release"})
        return out

    gestures = (held("left_hand_raise", 1, "k11_webcam_pose", "K11", 1000, 3066)
                + held("right_hand_raise", 2, "k11_webcam_pose", "K11", 4000, 4066, step=33)
                + held("right_hand_raise", 2, "mac4_mega_rgb", "Mac4", 4800, 5866))
    return obs, gestures


SCENARIOS: dict[str, Callable[[], tuple[list[Record], list[Record]]]] = {
    f.__name__: f for f in (still_noisy_depth, active_dancer, burst, leaving_frame, seated_torso_only,
                            mocopi_only, two_cameras, gesture_hold_release)
}


def render(name: str) -> dict[str, list[Record]]:
    """File name → records of one scenario (the gestures file only when it has events)."""
    obs, gestures = SCENARIOS[name]()
    files = {f"{name}.obs.jsonl": obs}
    if gestures:
        files[f"{name}.gestures.jsonl"] = gestures
    return files


def _read(path: Any) -> list[Record]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_scenario(name: str) -> tuple[list[dict], list[dict]]:
    """(observations, gestures) of a shipped scenario, read from the lume.fixtures package."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    folder = resources.files("lume.fixtures") / SCENARIO_DIR
    obs_file = folder / f"{name}.obs.jsonl"
    if not obs_file.is_file():
        raise FileNotFoundError(f"scenario fixture missing: {obs_file} (run python -m {__name__})")
    gestures_file = folder / f"{name}.gestures.jsonl"
    return _read(obs_file), (_read(gestures_file) if gestures_file.is_file() else [])


def _jsonl(records: list[Record]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def write_all(out: Path) -> list[Path]:
    """Write every scenario under `out` (atomically, only on change); returns the changed files."""
    return [out / file for name in SCENARIOS for file, records in render(name).items()
            if write_text(out / file, _jsonl(records))]


def stale(out: Path) -> list[Path]:
    """Files under `out` that differ from (or are missing against) a fresh render."""
    found = []
    for name in SCENARIOS:
        for file, records in render(name).items():
            path = out / file
            if not path.is_file() or path.read_text(encoding="utf-8") != _jsonl(records):
                found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(str(resources.files("lume.fixtures"))) / SCENARIO_DIR
    parser.add_argument("--out", type=Path, default=default, help=f"target folder (default {default})")
    args = parser.parse_args(argv)
    changed = write_all(args.out)
    print(f"{len(changed)} scenario file(s) changed under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
