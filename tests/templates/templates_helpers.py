"""Builders for template / promotion tests.

The committed route-smoke bundle has one short Pose Coach clip (d1_play_pause) and no clips of
right_hand_raise, safe_stop_rehearsal or negative motion, so the promotion tests record richer
evidence the way K11 does: a Pose Coach session folder (manifest.json + metadata/training.jsonl
+ the three videos, copied from the committed session) with hand tracks per clip, added to a
tmp copy of the bundle through the real Pose Coach adapter (`add_pose_coach --copy`). The
committed fixtures are never modified.
"""
from __future__ import annotations

import copy
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lume.runtime.core import SigningKey, get
from lume.runtime.storage import add_pose_coach

# The promotion signs its dry-run report and manifest: a key of the tests, trusted by them.
KEY = SigningKey.generate()
TRUST = [KEY.trust_entry("promotion tests")]

REPO = Path(__file__).resolve().parents[2]
PROCESSED = REPO / "fixtures" / "route_smoke" / "_processed"
MAIN = "20260528-weighted-freestyle-01"
SECOND = "20260529-route-smoke-02"
COMMITTED_SESSION = PROCESSED / MAIN / "sources" / "k11_pose_coach" / "20260528-192500"
T0_MS = 1_779_996_000_000  # after the committed session, same day
FPS = 10
ANCHOR = {"x": 0.5, "y": 0.45}
BOX = {"x_min": 0.3, "y_min": 0.08, "x_max": 0.7, "y_max": 0.97}
# Hand cursors per pose (mirrored preview: the performer's left hand at small x, deck1).
DOWN = {"left": {"x": 0.36, "y": 0.66, "confidence": 0.9}, "right": {"x": 0.64, "y": 0.66, "confidence": 0.9}}
POSES: dict[str, dict[str, Any]] = {
    "down": DOWN,
    "left_up": {"left": {"x": 0.24, "y": 0.2, "confidence": 0.92}, "right": DOWN["right"]},
    "right_up": {"left": DOWN["left"], "right": {"x": 0.76, "y": 0.2, "confidence": 0.92}},
    "both_up": {"left": {"x": 0.24, "y": 0.2, "confidence": 0.92},
                "right": {"x": 0.76, "y": 0.2, "confidence": 0.92}},
    # negative motion: hands swinging at chest height, never above the anchor margin
    "sway": {"left": {"x": 0.3, "y": 0.4, "confidence": 0.9}, "right": {"x": 0.7, "y": 0.42, "confidence": 0.9}},
}
COMMAND_LABEL = {"left_up": "d1_play_pause", "right_up": "d2_play_pause", "both_up": "safe_stop_rehearsal"}


def copy_bundle(tmp_path: Path, name: str = MAIN) -> Path:
    dest = tmp_path / name
    shutil.copytree(PROCESSED / name, dest)
    return dest


def _zone(hand: dict[str, Any] | None) -> str | None:
    zones = get("airdeck_deck_zones.v1").table_data()["zones"]
    if hand is None:
        return None
    for name, z in zones.items():
        b = z["box"]
        if b["x_min"] <= hand["x"] <= b["x_max"] and b["y_min"] <= hand["y"] <= b["y_max"]:
            return name
    return None


def _frame(ts: int, index: int, pose: str, label: str, clip_kind: str, clip: int | None,
           recording: bool, wobble: float) -> dict[str, Any]:
    hands = copy.deepcopy(POSES[pose])
    for h in hands.values():
        h["x"] = round(min(1.0, max(0.0, h["x"] + wobble)), 4)
    return {"timestamp_ms": ts, "frame_index": index, "session_id": None, "clip_index": clip,
            "label": label, "clip_kind": clip_kind, "recording": recording, "hand_cursors": hands,
            "body_anchor": dict(ANCHOR), "body_box": dict(BOX),
            "deck_zone": {"left_hand": _zone(hands["left"]), "right_hand": _zone(hands["right"])},
            "person_confidence": 0.93}


def session(root: Path, session_id: str, clips: list[tuple[str, str, str]], *,
            start_ms: int = T0_MS, clip_frames: int = 12, gap_frames: int = 20) -> Path:
    """A Pose Coach session folder: `clips` are (label, clip_kind, pose); between clips the
    performer stands with hands down (frames outside any clip)."""
    folder = root / session_id
    (folder / "metadata").mkdir(parents=True)
    (folder / "video").mkdir()
    for name in ("display-overlay.avi", "camera-overlay.avi", "raw-camera.avi"):
        shutil.copyfile(COMMITTED_SESSION / "video" / name, folder / "video" / name)
    step = 1000 // FPS
    frames, infos, n, ts = [], [], 0, start_ms

    def gap() -> None:
        nonlocal n, ts
        for _ in range(gap_frames):
            frames.append(_frame(ts, n, "down", "present_still", "calibration", None, False, 0.0))
            n, ts = n + 1, ts + step

    gap()
    for ci, (label, kind, pose) in enumerate(clips):
        first, start = n, ts
        for k in range(clip_frames):
            frames.append(_frame(ts, n, pose, label, kind, ci, True, 0.002 * (k % 3)))
            n, ts = n + 1, ts + step
        infos.append({"clip_index": ci, "label": label, "clip_kind": kind, "start_frame": first,
                      "end_frame": n - 1, "start_ms": start, "end_ms": ts - step})
        gap()
    for f in frames:
        f["session_id"] = session_id
    (folder / "metadata" / "training.jsonl").write_text(
        "".join(json.dumps(f, separators=(",", ":")) + "\n" for f in frames))

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    manifest = json.loads((COMMITTED_SESSION / "manifest.json").read_text())
    manifest.update(session_id=session_id, created_at=iso(start_ms), ended_at=iso(ts),
                    labels=sorted({c["label"] for c in infos} | {"present_still"}),
                    clip_count=len(infos), frame_count=len(frames), clips=infos)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def rich_clips(*, left: int = 5, right: int = 5, safe_stop: int = 5, negatives: int = 2,
               false_trigger: bool = False) -> list[tuple[str, str, str]]:
    """Example clips of the three first AirDeck targets, negatives, safe stops last (a safe
    stop locks the gate until the operator re-arms it, so a rehearsal records it last)."""
    clips = [("present_still", "calibration", "down")]
    clips += [("d1_play_pause", "promotion_candidate", "left_up")] * left
    clips += [("bad_false_reactive", "negative", "sway")] * negatives
    if false_trigger:  # a negative clip in which the left hand goes up in deck1 and stays
        clips.append(("bad_false_reactive", "negative", "left_up"))
    clips += [("d2_play_pause", "promotion_candidate", "right_up")] * right
    clips += [("safe_stop_rehearsal", "promotion_candidate", "both_up")] * safe_stop
    return clips


def rich_bundle(tmp_path: Path, **kw: Any) -> Path:
    """A tmp copy of the main route-smoke bundle with a richer Pose Coach session added."""
    bundle = copy_bundle(tmp_path)
    sess = session(tmp_path / "pose-coach" / "sessions", "20260528-200000", rich_clips(**kw))
    add_pose_coach(bundle, sess, copy=True)
    return bundle


def k11_config(tmp_path: Path, machine: str = "K11") -> Path:
    """A machine config (machine_config.v1) for the command authority (or another machine)."""
    examples = get("machine_config.v1").examples
    doc = copy.deepcopy(next(e for e in examples if e["machine"] == machine))
    path = tmp_path / f"{machine.lower()}.config.json"
    path.write_text(json.dumps(doc, indent=2))
    return path
