"""The route-smoke fixtures: sessions as they arrive on K11, then the real pipeline over them.

`build(out)` writes two trees, deterministically (fixed clock from SOURCE_DATE_EPOCH, seeded
RNG, fixed archive metadata):

- `out/route_smoke/` — a K11 dance-sessions root AFTER the pipeline ran. The "arrived" state is
  built first: a Mac4 Tier 0 take packed as `_incoming/<session>.tar.gz` (members below a
  `<session>/` top folder), its MotionMix and mocopi streams as their own archives for the
  same session, a second short take as a `.zip`, each with its `.sha256` sidecar and its
  transport manifest in `_manifests/`. Then the real pipeline runs: `index_root`, the
  Mac4-first / Mac2 device-topology sidecars land in the bundle (as those lanes write them),
  `create_bundle` for both sessions and `add_pose_coach --copy` of the Pose Coach session.
- `out/pose_coach/` — a K11 Pose Coach recordings root: `pose-coach-latest-session.json` and
  `sessions/<id>/` with manifest, training JSONL, the three MJPG AVIs and PNG keyframes.

Videos are real and playable (OpenCV: MPEG-4 Part 2 `mp4v` for the long takes, MJPG AVI for
Pose Coach) with a moving figure. Encoder bytes can differ between OpenCV builds, so
`reuse_media=True` takes the videos from the existing output instead of encoding them again,
which keeps every checksum stable across OpenCV upgrades.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import os
import shutil
import struct
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lume.runtime.common.atomic import dumps

from .checksum import sidecar_line
from .clock import fixed

DEFAULT_EPOCH = 1780000000  # 2026-05-28T20:26:40Z, the day of seed 000
SEED = 20260528
K11_ROOT = "C:\\lume\\dance-sessions"
K11_POSE_COACH = "C:\\lume\\recordings\\pose-coach"
MAIN = "20260528-weighted-freestyle-01"
SECOND = "20260529-route-smoke-02"
POSE_SESSION = "20260528-192500"
VIDEO_SUFFIXES = (".mp4", ".avi")


def epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    return int(value) if value and value.isdigit() else DEFAULT_EPOCH


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- pictures


def png(rgb: np.ndarray) -> bytes:
    """A PNG of an RGB uint8 image, encoded here (zlib, filter 0): the same bytes whatever
    OpenCV build is installed."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


@dataclass
class Pose:
    """A simple dancer in normalised coordinates (0..1), for one instant."""
    cx: float
    head_y: float
    left_hand: tuple[float, float]
    right_hand: tuple[float, float]
    box: tuple[float, float, float, float]


def pose_at(t: float, duration: float, phase: float = 0.0) -> Pose:
    sway = 0.12 * math.sin(2 * math.pi * (t / duration) + phase)
    cx = 0.5 + sway
    raise_l = 0.5 + 0.5 * math.sin(2 * math.pi * 1.5 * t / duration + phase)
    raise_r = 0.5 + 0.5 * math.cos(2 * math.pi * 1.0 * t / duration + phase)
    left = (cx - 0.17, 0.55 - 0.33 * raise_l)
    right = (cx + 0.17, 0.55 - 0.33 * raise_r)
    top = min(0.14, left[1], right[1]) - 0.02
    return Pose(cx, 0.22, left, right, (cx - 0.22, max(0.0, top), cx + 0.22, 0.97))


def draw_dancer(img: np.ndarray, p: Pose, hue: int) -> None:
    import cv2

    h, w = img.shape[:2]
    px = lambda x, y: (int(round(x * w)), int(round(y * h)))  # noqa: E731
    grad = np.linspace(40, 90, h, dtype=np.uint8)[:, None]
    img[:, :, 0], img[:, :, 1], img[:, :, 2] = grad, (grad // 2 + hue) % 256, 60
    t = max(2, w // 40)
    skin, shirt, legs = (150, 180, 220), (60, 90, 200), (80, 60, 50)
    shoulder_y, hip_y = 0.33, 0.62
    cv2.fillConvexPoly(img, np.array([px(p.cx - 0.1, shoulder_y), px(p.cx + 0.1, shoulder_y),
                                      px(p.cx + 0.08, hip_y), px(p.cx - 0.08, hip_y)], np.int32), shirt, cv2.LINE_AA)
    for side, hand in ((-1, p.left_hand), (1, p.right_hand)):
        elbow = ((p.cx + side * 0.1 + hand[0]) / 2 + side * 0.03, (shoulder_y + hand[1]) / 2 + 0.04)
        cv2.line(img, px(p.cx + side * 0.1, shoulder_y + 0.02), px(*elbow), skin, t * 2, cv2.LINE_AA)
        cv2.line(img, px(*elbow), px(*hand), skin, t * 2, cv2.LINE_AA)
        cv2.circle(img, px(*hand), t * 2, skin, -1, cv2.LINE_AA)
        knee = (p.cx + side * 0.09, 0.8)
        cv2.line(img, px(p.cx + side * 0.06, hip_y), px(*knee), legs, t * 3, cv2.LINE_AA)
        cv2.line(img, px(*knee), px(p.cx + side * 0.1, 0.96), legs, t * 3, cv2.LINE_AA)
    cv2.line(img, px(p.cx, shoulder_y - 0.04), px(p.cx, shoulder_y), skin, t * 2, cv2.LINE_AA)
    cv2.circle(img, px(p.cx, p.head_y), int(0.08 * h), skin, -1, cv2.LINE_AA)


def write_video(path: Path, frames: list[np.ndarray], fps: float, fourcc: str) -> None:
    import cv2

    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video {path}")
    for f in frames:
        writer.write(f)
    writer.release()


def take_frames(seconds: float, fps: int, size: tuple[int, int], phase: float) -> list[np.ndarray]:
    import cv2

    w, h = size
    out = []
    for i in range(int(round(seconds * fps))):
        t = i / fps
        img = np.zeros((h, w, 3), np.uint8)
        hue = int(40 * (1 + math.sin(2 * math.pi * t / seconds)))  # wave_color: colour phase shift
        draw_dancer(img, pose_at(t, seconds, phase), hue)
        cv2.putText(img, f"{i:03d}", (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        out.append(img)
    return out


# --------------------------------------------------------------------------- archives


def tar_gz(members: dict[str, bytes], mtime: int, prefix: str = "", compress: bool = True) -> bytes:
    """A reproducible tar(.gz): sorted members, fixed owner, modes and times."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        dirs = sorted({"/".join(n.split("/")[:i]) for n in members for i in range(1, n.count("/") + 1)})
        names = ([f"{prefix}/"] if prefix else []) + [f"{prefix}/{d}/" if prefix else f"{d}/" for d in dirs]
        for d in names:
            info = tarfile.TarInfo(d.rstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tf.addfile(info)
        for name in sorted(members):
            info = tarfile.TarInfo(f"{prefix}/{name}" if prefix else name)
            info.size, info.mode, info.mtime = len(members[name]), 0o644, mtime
            tf.addfile(info, io.BytesIO(members[name]))
    if not compress:
        return raw.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=mtime, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def zip_bytes(members: dict[str, bytes], mtime: int) -> bytes:
    stamp = datetime.fromtimestamp(mtime, timezone.utc).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.create_system = zipfile.ZIP_DEFLATED, 3
            info.external_attr = (0o100644 << 16)
            zf.writestr(info, members[name], compresslevel=9)
    return out.getvalue()


def deliver(root: Path, archive_name: str, data: bytes, session_id: str, machine: str, fmt: str,
            members: dict[str, bytes], created: float, prefix: str = "") -> None:
    """Put an archive in `_incoming` with its `.sha256` and transport manifest, as Mac4 uploads it."""
    incoming, manifests = root / "_incoming", root / "_manifests"
    incoming.mkdir(parents=True, exist_ok=True)
    manifests.mkdir(parents=True, exist_ok=True)
    (incoming / archive_name).write_bytes(data)
    (incoming / f"{archive_name}.sha256").write_text(sidecar_line(sha(data), archive_name))
    contents = [{"path": f"{prefix}/{n}" if prefix else n, "sha256": sha(b), "byte_size": len(b)}
                for n, b in sorted(members.items())]
    manifest = {
        "schema": "lume.transport_manifest.v1", "session_id": session_id, "archive_name": archive_name,
        "archive_sha256": sha(data), "archive_bytes": len(data), "source_machine": machine,
        "target_machine": "K11", "created_at_unix": created, "format": fmt,
        "member_count": len(contents), "expanded_bytes": sum(c["byte_size"] for c in contents),
        "contents": contents,
    }
    (manifests / f"{archive_name}.json").write_text(dumps(manifest))


# --------------------------------------------------------------------------- sessions


def mac4_session(session_id: str, start: float, seconds: float, fps: int, size: tuple[int, int],
                 labels: list[dict[str, Any]], video: bytes, camera: str, launcher: str,
                 notes: str) -> dict[str, bytes]:
    session = {
        "schema": "lume.mac4.tier0_session.v1",
        "session_id": session_id,
        "machine": "Mac4",
        "recorder": {"script": "tools/lume-dance-capture/lume_dance_recorder.py", "launcher": launcher,
                     "tmux_session": "lume-dance", "version": "tier0-2026.05"},
        "started_at_unix": start,
        "ended_at_unix": start + seconds,
        "duration_s": seconds,
        "video": {"path": "raw/video/webcam_main.mp4", "camera": camera, "width": size[0], "height": size[1],
                  "fps": fps, "codec": "mp4v"},
        "labels_path": "raw/labels/labels.jsonl",
        "label_count": len(labels),
        "free_disk_gb_at_start": 84.2,
        "status": "complete",
        "notes": notes,
    }
    log = "".join(f"{iso(start + dt)} {msg}\n" for dt, msg in [
        (-2, f"tier0 recorder starting in tmux session lume-dance ({launcher})"),
        (-1, f"camera '{camera}' opened at {size[0]}x{size[1]} {fps} fps; free disk 84.2 GB"),
        (0, "recording raw/video/webcam_main.mp4"),
        *[(lb.get("t_s", 0.0), f"marker {lb['event']} {lb['label']} ({lb['source']})") for lb in labels],
        (seconds, f"recording stopped after {seconds:.1f} s; {len(labels)} markers"),
    ])
    return {
        "session.json": dumps(session).encode(),
        "raw/video/webcam_main.mp4": video,
        "raw/labels/labels.jsonl": jsonl(labels),
        "logs/recorder.log": log.encode(),
    }


def marker(start: float, t: float, label: str, event: str, source: str, session_id: str | None,
           absolute: bool = True, note: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    if absolute:
        rec["t_unix"] = round(start + t, 3)
    rec["t_s"] = t
    rec.update({"label": label, "event": event, "source": source})
    if session_id:
        rec["session_id"] = session_id
    if note:
        rec["note"] = note
    return rec


def motionmix_records(start: float, seconds: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    joints = ["head", "left_wrist", "right_wrist", "pelvis"]
    for i in range(int(seconds * 10)):
        t = i / 10
        p = pose_at(t, seconds)
        energy = round(float(0.15 + 0.1 * abs(math.sin(2 * math.pi * t / seconds)) + rng.uniform(0, 0.02)), 3)
        still = round(max(0.0, min(1.0, 1.0 - 3 * energy)), 3)
        rec = {
            "timestamp_ms": int(round((start + t) * 1000)), "source": "multicam",
            "source_authority": "multicam_triangulated", "joint_count": 17, "camera_count": 2,
            "joint_coverage": round(float(0.8 + rng.uniform(0, 0.1)), 3),
            "triangulation_strength": round(float(0.6 + rng.uniform(0, 0.1)), 3),
            "avg_energy": energy, "avg_motion": round(energy * 0.8, 3), "avg_framing": 0.9,
            "avg_coverage": round(float(0.75 + rng.uniform(0, 0.05)), 3), "stillness_score": still,
            "semantic": "present_still" if still > 0.6 else "active",
            "joints_3d": [
                {"name": n, "position": {"x": round((x - 0.5) * 2, 3), "y": round(1.8 - y * 1.8, 3), "z": 1.7},
                 "confidence": round(float(0.85 + rng.uniform(0, 0.1)), 3)}
                for n, (x, y) in zip(joints, [(p.cx, p.head_y), p.left_hand, p.right_hand, (p.cx, 0.62)])
            ],
        }
        out.append(rec)
    return out


MOCOPI_BONES = ["root", "torso_1", "torso_2", "torso_3", "torso_4", "torso_5", "torso_6", "torso_7", "neck_1",
                "neck_2", "head", "l_shoulder", "l_up_arm", "l_low_arm", "l_hand", "r_shoulder", "r_up_arm",
                "r_low_arm", "r_hand", "l_up_leg", "l_low_leg", "l_foot", "l_toes", "r_up_leg", "r_low_leg",
                "r_foot", "r_toes"]


def mocopi_records(start: float, seconds: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for i in range(int(seconds * 4)):
        t = i / 4
        p = pose_at(t, seconds)
        bones = []
        for b, name in enumerate(MOCOPI_BONES):
            y = 0.95 + 0.06 * b if b <= 10 else (1.4 if b < 19 else 0.5)
            x = (p.cx - 0.5) + (0.1 if name.startswith("l_") else -0.1 if name.startswith("r_") else 0.0)
            q = rng.normal(0, 0.04, 3).clip(-0.2, 0.2)
            w = math.sqrt(max(0.0, 1 - float((q ** 2).sum())))
            bones.append({"id": b, "name": name,
                          "position": {"x": round(float(x), 3), "y": round(float(y), 3), "z": 0.0},
                          "rotation": {"x": round(float(q[0]), 3), "y": round(float(q[1]), 3),
                                       "z": round(float(q[2]), 3), "w": round(w, 3)}})
        out.append({"timestamp_ms": int(round((start + t) * 1000)), "frame_id": i, "source": "mocopi",
                    "bone_count": 27, "bones": bones})
    return out


def device_topologies(bundle_id: str, created: float) -> dict[str, dict[str, Any]]:
    """The seed-003 sidecars: Mac4-first camera assignment and the Mac2 room-wide lane."""
    return {
        "derived/mac4_first/device_topology.json": {
            "bundle_id": bundle_id, "created_at_unix": created, "command_authority": "K11",
            "command_authority_changed": False, "k11_only_command_gate": True,
            "mac5_offline_until_gate_green": True,
            "devices": [
                {"device": "k11_arducam_uvc", "kind": "uvc_webcam", "machine": "K11", "role": "pose_coach_command_gate",
                 "lanes": ["pose_coach", "airdeck"], "live_command_source": True},
                {"device": "insta360", "kind": "wide_angle_camera", "machine": "Mac4", "role": "long_take_capture",
                 "lanes": ["bodytruth", "review"], "evidence_only": True, "live_command_source": False},
                {"device": "femto_mega", "kind": "depth_camera", "machine": "Mac4", "role": "bodytruth_depth",
                 "lanes": ["bodytruth", "enthea", "unity", "mrt2", "demon"], "evidence_only": True,
                 "live_command_source": False},
                {"device": "mocopi", "kind": "skeleton_suit", "machine": "Mac4", "role": "bodytruth_skeleton",
                 "lanes": ["bodytruth", "unity"], "evidence_only": True, "live_command_source": False},
            ],
        },
        "derived/reconstruction/device_topology.json": {
            "source_id": "mac2_insta360_room_wide", "bundle_id": bundle_id, "created_at_unix": created,
            "host_machine": "Mac2", "command_authority": "K11", "command_authority_changed": False,
            "k11_only_command_gate": True, "evidence_only": True, "accepted_by_k11_live_source_filter": False,
            "purposes": ["occlusion_recovery", "camera_angle_diversity", "future_reconstruction"],
            "devices": [{"device": "insta360_room_wide", "kind": "wide_angle_camera", "machine": "Mac2",
                         "role": "room_wide_evidence", "live_command_source": False}],
        },
    }


# --------------------------------------------------------------------------- Pose Coach


def _decks() -> dict[str, tuple[float, float, float, float]]:
    """The AirDeck deck zones of the contract (airdeck_deck_zones.v1), never local numbers."""
    from lume.runtime.pose.zones import load_deck_zones

    return dict(load_deck_zones().boxes)


def _zone(point: tuple[float, float] | None) -> str | None:
    if point is None:
        return None
    for name, (x0, y0, x1, y1) in _decks().items():
        if x0 <= point[0] <= x1 and y0 <= point[1] <= y1:
            return name
    return None


def pose_coach_session(root: Path, start: float, media: Path | None, rng: np.random.Generator) -> Path:
    """Write `root/sessions/<id>/` and the latest-session pointer; returns the session folder."""
    import cv2

    fps, size, n = 10, (160, 120), 10
    folder = root / "sessions" / POSE_SESSION
    clips = [(0, "present_still", "calibration", 0, 4), (1, "d1_play_pause", "promotion_candidate", 5, 9)]
    records, raw, camera, display = [], [], [], []
    keyframes = {0, 5}
    for i in range(n):
        t = i / fps
        p = pose_at(t, n / fps, phase=1.0)
        clip = next(c for c in clips if c[3] <= i <= c[4])
        img = np.zeros((size[1], size[0], 3), np.uint8)
        draw_dancer(img, p, 20)
        raw.append(img.copy())
        w, h = size
        for name, (x0, y0, x1, y1) in _decks().items():
            cv2.rectangle(img, (int(x0 * w), int(y0 * h)), (int(x1 * w), int(y1 * h)), (0, 200, 255), 1)
        b = p.box
        cv2.rectangle(img, (int(b[0] * w), int(b[1] * h)), (int(b[2] * w), int(b[3] * h)), (0, 255, 0), 1)
        for hand in (p.left_hand, p.right_hand):
            cv2.circle(img, (int(hand[0] * w), int(hand[1] * h)), 4, (255, 0, 255), -1)
        camera.append(img.copy())
        dash = np.zeros((h, w, 3), np.uint8)
        dash[:, : w * 3 // 4] = cv2.resize(img, (w * 3 // 4, h))
        cv2.putText(dash, clip[1][:6], (w * 3 // 4 + 1, 20), cv2.FONT_HERSHEY_PLAIN, 0.6, (255, 255, 255), 1)
        cv2.putText(dash, "REC", (w * 3 // 4 + 1, 40), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 255), 1)
        display.append(dash)
        conf = lambda: round(float(0.8 + rng.uniform(0, 0.15)), 3)  # noqa: E731
        rec: dict[str, Any] = {
            "timestamp_ms": int(round((start + t) * 1000)), "frame_index": i, "session_id": POSE_SESSION,
            "clip_index": clip[0], "label": clip[1], "clip_kind": clip[2], "recording": True,
            "hand_cursors": {"left": {"x": round(p.left_hand[0], 4), "y": round(p.left_hand[1], 4), "confidence": conf()},
                             "right": {"x": round(p.right_hand[0], 4), "y": round(p.right_hand[1], 4), "confidence": conf()}},
            "body_anchor": {"x": round(p.cx, 4), "y": 0.46},
            "body_box": {"x_min": round(max(0.0, b[0]), 4), "y_min": round(b[1], 4),
                         "x_max": round(min(1.0, b[2]), 4), "y_max": round(b[3], 4)},
            "deck_zone": {"left_hand": _zone(p.left_hand), "right_hand": _zone(p.right_hand)},
            "person_confidence": conf(),
        }
        if i in keyframes:
            rec["keyframes"] = {k: f"frames/{k}/{i:06d}.png" for k in ("display", "camera", "raw")}
        records.append(rec)
    videos = {"display_overlay": "video/display-overlay.avi", "camera_overlay": "video/camera-overlay.avi",
              "raw_camera": "video/raw-camera.avi"}
    for key, frames in (("display_overlay", display), ("camera_overlay", camera), ("raw_camera", raw)):
        target = folder / videos[key]
        reused = media / "pose_coach" / "sessions" / POSE_SESSION / videos[key] if media else None
        if reused is not None and reused.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(reused, target)
        else:
            write_video(target, frames, fps, "MJPG")
    for kind, frames in (("display", display), ("camera", camera), ("raw", raw)):
        for i in sorted(keyframes):
            out = folder / "frames" / kind / f"{i:06d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(png(cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)))
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    (folder / "metadata" / "training.jsonl").write_bytes(jsonl(records))
    manifest = {
        "schema": "lume.pose_coach.training_session.v1", "session_id": POSE_SESSION,
        "created_at": iso(start), "ended_at": iso(start + n / fps), "machine": "K11",
        "storage_model": "per_session_folder_with_video_frames_metadata",
        "coordinate_space": "normalized_camera_frame", "training_jsonl": "metadata/training.jsonl",
        "videos": videos, "frames": {"display": "frames/display", "camera": "frames/camera", "raw": "frames/raw"},
        "camera": {"name": "Arducam UVC Camera", "kind": "uvc_arducam", "index": 0, "width": size[0],
                   "height": size[1], "fps": fps},
        "deck_zones": {k: dict(zip(("x_min", "y_min", "x_max", "y_max"), v)) for k, v in _decks().items()},
        "labels": sorted({c[1] for c in clips}), "clip_count": len(clips), "frame_count": n,
        "clips": [{"clip_index": c[0], "label": c[1], "clip_kind": c[2], "start_frame": c[3], "end_frame": c[4],
                   "start_ms": int(round((start + c[3] / fps) * 1000)),
                   "end_ms": int(round((start + c[4] / fps) * 1000))} for c in clips],
    }
    (folder / "manifest.json").write_text(dumps(manifest))
    pointer = {
        "session_id": POSE_SESSION,
        "session_dir": f"{K11_POSE_COACH}\\sessions\\{POSE_SESSION}",
        "manifest_path": f"{K11_POSE_COACH}\\sessions\\{POSE_SESSION}\\manifest.json",
        "manifest_schema": "lume.pose_coach.training_session.v1", "status": "complete",
        "updated_at": iso(start + n / fps),
    }
    (root / "pose-coach-latest-session.json").write_text(dumps(pointer))
    return folder


# --------------------------------------------------------------------------- the build


def _video(media: Path | None, rel: str, frames: Callable[[], list[np.ndarray]], fps: int, tmp: Path) -> bytes:
    """The bytes of a long-take video: reused from `media` when asked and present, else encoded."""
    reused = media / rel if media else None
    if reused is not None and reused.is_file():
        return reused.read_bytes()
    path = tmp / "video.mp4"
    write_video(path, frames(), fps, "mp4v")
    data = path.read_bytes()
    path.unlink()
    return data


def build_arrived(root: Path, pose_root: Path, t0: int, media: Path | None, tmp: Path) -> None:
    """The state before K11 runs anything: archives, sidecars, manifests; the Pose Coach root."""
    rng = np.random.default_rng(SEED)
    start = t0 - 3 * 3600  # the take happened three hours before the pipeline ran
    size, fps, seconds = (320, 240), 15, 3.0
    video = _video(media, f"route_smoke/_processed/{MAIN}/sources/mac4_tier0/raw/video/webcam_main.mp4",
                   lambda: take_frames(seconds, fps, size, 0.0), fps, tmp)
    labels = [
        marker(start, 0.0, "still_recovery_baseline", "start", "operator_monitor", MAIN),
        marker(start, 0.8, "still_recovery_baseline", "end", "operator_monitor", MAIN),
        marker(start, 1.0, "wave_color", "start", "operator_monitor", MAIN),
        marker(start, 2.0, "wave_color", "end", "operator_monitor", MAIN),
        marker(start, 2.2, "burst_high_energy", "marker", "keyboard", MAIN),
        marker(start, 2.3, "weighted_slow_power_hold", "start", "operator_monitor", MAIN),
        marker(start, 2.9, "weighted_slow_power_hold", "end", "operator_monitor", MAIN),
        marker(start, 2.6, "bad_false_reactive", "marker", "keyboard", None, absolute=False,
               note="visual burst while holding still"),
    ]
    members = mac4_session(MAIN, start, seconds, fps, size, labels, video, "Insta360 Link",
                           "run_k11_weighted_take_tmux.sh", "weighted freestyle, front angle (route smoke)")
    uploaded = start + seconds + 60
    deliver(root, f"{MAIN}.tar.gz", tar_gz(members, int(uploaded), prefix=MAIN), MAIN, "Mac4", "tar.gz",
            members, uploaded, prefix=MAIN)
    mm = {"motionmix_state.jsonl": jsonl(motionmix_records(start, seconds, rng))}
    deliver(root, f"{MAIN}.motionmix.tar.gz", tar_gz(mm, int(uploaded)), MAIN, "MotionMix", "tar.gz", mm, uploaded)
    mc = {"skeleton.jsonl": jsonl(mocopi_records(start, seconds, rng))}
    deliver(root, f"{MAIN}.mocopi.tgz", tar_gz(mc, int(uploaded)), MAIN, "Mac4", "tgz", mc, uploaded)

    # a second, short take uploaded as a zip (members at the top level)
    start2 = t0 - 3600
    video2 = _video(media, f"route_smoke/_processed/{SECOND}/sources/mac4_tier0/raw/video/webcam_main.mp4",
                    lambda: take_frames(1.0, fps, size, 2.0), fps, tmp)
    labels2 = [marker(start2, 0.2, "keep_signature", "marker", "keyboard", SECOND),
               marker(start2, 0.5, "torso_lean_weight_shift", "start", "operator_monitor", SECOND),
               marker(start2, 0.9, "torso_lean_weight_shift", "end", "operator_monitor", SECOND)]
    members2 = mac4_session(SECOND, start2, 1.0, fps, size, labels2, video2, "Arducam USB Camera",
                            "run_dance_recorder_tmux.sh", "route smoke, zip upload")
    uploaded2 = start2 + 60
    deliver(root, f"{SECOND}.zip", zip_bytes(members2, int(uploaded2)), SECOND, "Mac4", "zip", members2, uploaded2)
    (root / "_exports").mkdir(parents=True, exist_ok=True)
    (root / "_exports" / ".gitkeep").write_bytes(b"")

    pose_coach_session(pose_root, t0 - 2 * 3600, media, rng)


def run_pipeline(root: Path, pose_root: Path, t0: int) -> dict[str, Any]:
    """The real K11 pipeline over the arrived state: index, sidecars, bundles, Pose Coach."""
    from .bundle import create_bundle
    from .indexer import index_root
    from .pose_coach import add_pose_coach

    result = index_root(root, clock=fixed(t0), root_name=K11_ROOT)
    if not result.ok:
        raise RuntimeError(f"route-smoke indexing failed: {result.to_dict()}")
    bundle = root / "_processed" / MAIN
    for rel, doc in device_topologies(MAIN, t0 - 3 * 3600 - 10).items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text(dumps(doc))
    create_bundle(root, MAIN, clock=fixed(t0 + 60))
    create_bundle(root, SECOND, clock=fixed(t0 + 60))
    add_pose_coach(bundle, pose_root / "sessions" / POSE_SESSION, copy=True, clock=fixed(t0 + 120))
    return result.to_dict()


def build(out: Path, *, reuse_media: bool = False, epoch_s: int | None = None) -> list[Path]:
    """Build `out/route_smoke` and `out/pose_coach` (replacing them); returns the two folders."""
    out = Path(out)
    t0 = epoch_s if epoch_s is not None else epoch()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".routesmoke-", dir=out) as tmp_s:
        tmp = Path(tmp_s)
        media = out if reuse_media else None
        root, pose_root = tmp / "route_smoke", tmp / "pose_coach"
        root.mkdir()
        pose_root.mkdir()
        build_arrived(root, pose_root, t0, media, tmp)
        run_pipeline(root, pose_root, t0)
        done = []
        for name in ("route_smoke", "pose_coach"):
            target = out / name
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp / name, target)
            done.append(target)
    return done


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES
