"""The Mac5 worker LUME ships: OpenCV frame sampling and MediaPipe pose on each sampled frame.

    python -m lume.runtime.workers.sam3d --session DIR [--out DIR] --fps 1 [--label-windows-only]

It takes the flags of the seed's `process_session.py` (seed 000, Mac5) and writes the same
derived contracts into `--out` (default `SESSION/derived/sam3d/`): `summary.json`
(sam3d_summary.v1, tool `MediaPipe-Pose`), `sam3d_frames.jsonl` (sam3d_frame.v1) and
`worker.log`. It samples the take at `--fps`, or with `--label-windows-only` only inside the
windows of `raw/labels/labels.jsonl`, and never writes to the session's sources: it hashes the
video before and after the run and fails when they differ. Keypoints are MediaPipe's 33 pose
landmarks in normalised image coordinates; no `z`, because MediaPipe's depth is not the
camera-relative metres the frame contract means. Exit 0 done, 1 failed, 2 bad input.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lume.runtime.core import InputError, get, iter_records, write_json, write_jsonl, write_text
from lume.runtime.storage import read_session, sha256_file, source_spec

TOOL = "MediaPipe-Pose"
DIGITS = 5  # rounding of coordinates in sam3d_frames.jsonl (1e-5 of the image is sub-pixel)


class WorkerError(Exception):
    """The run failed (exit 1)."""


@dataclass(frozen=True)
class Window:
    label: str
    start: float
    end: float

    def holds(self, t: float) -> bool:
        return self.start <= t <= self.end


def _summary_const(*keys: str) -> Any:
    """A `const` of sam3d_summary.v1 (its schema name, the worker machine)."""
    node = get("sam3d_summary.v1").raw
    for key in keys:
        node = node[key]
    return node["const"]


# --------------------------------------------------------------------------- inputs


def label_windows(path: Path, started_at_unix: float, duration_s: float,
                  log: list[str]) -> list[Window]:
    """Windows from Mac4 marker labels: `start`/`end` pairs of a label (first open start
    closes first), `marker` as a point window. Times are `t_s`, else `t_unix` minus the take
    start. A start never closed runs to the end of the take."""
    open_starts: dict[str, list[float]] = {}
    windows: list[Window] = []
    if not path.is_file():
        log.append(f"no labels file {path}: no label windows")
        return windows
    for line, rec in iter_records(path, "mac4_label_record.v1"):
        t = rec["t_s"] if "t_s" in rec else rec["t_unix"] - started_at_unix
        t = max(0.0, float(t))
        label, event = rec["label"], rec["event"]
        if event == "marker":
            windows.append(Window(label, t, t))
        elif event == "start":
            open_starts.setdefault(label, []).append(t)
        elif open_starts.get(label):
            start = open_starts[label].pop(0)
            windows.append(Window(label, min(start, t), max(start, t)))
        else:
            log.append(f"{path}:{line}: `end` of {label} without a `start`: ignored")
    for label, starts in open_starts.items():
        for start in starts:
            log.append(f"{label} window from {start:.3f} s never ended: runs to the end of the take")
            windows.append(Window(label, start, duration_s))
    kept = [w for w in windows if w.start <= duration_s]
    for w in windows:
        if w not in kept:
            log.append(f"{w.label} window at {w.start:.3f} s starts after the take ({duration_s:.3f} s): skipped")
    return sorted(kept, key=lambda w: (w.start, w.end, w.label))


def sample_targets(fps: float, video_fps: float, frame_count: int, windows: list[Window],
                   label_windows_only: bool) -> dict[int, tuple[float, str | None]]:
    """frame index -> (seconds, label) of every frame to sample: the frames on screen at the
    times of a 1/fps grid from the start of the take (or of each window); a window shorter
    than 1/fps still gets its first frame."""
    step = 1.0 / fps
    duration = frame_count / video_fps
    times: list[tuple[float, str | None]] = []
    if label_windows_only:
        for w in windows:
            k = 0
            while w.start + k * step <= min(w.end, duration):
                times.append((w.start + k * step, w.label))
                k += 1
    else:
        k = 0
        while k * step < duration:
            t = k * step
            times.append((t, next((w.label for w in windows if w.holds(t)), None)))
            k += 1
    targets: dict[int, tuple[float, str | None]] = {}
    for t, label in times:
        # the frame on screen at t (a tolerance absorbs float error on the 1/fps grid)
        index = min(frame_count - 1, math.floor(t * video_fps + 1e-6))
        targets.setdefault(index, (index / video_fps, label))
    return dict(sorted(targets.items()))


# --------------------------------------------------------------------------- pose


def _pose_solution() -> Any:
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise WorkerError("MediaPipe is not installed: install LUME's `pose` extra "
                          "(pip install 'lume[pose]', mediapipe 0.10.21)") from exc
    return mp.solutions.pose


def frame_record(index: int, t: float, label: str | None, landmarks: Any,
                 names: list[str]) -> dict[str, Any]:
    """One sam3d_frame.v1 record from MediaPipe pose landmarks (None: no body)."""
    rec: dict[str, Any] = {"frame_index": index, "t_s": round(t, 6)}
    if landmarks is None:
        return {**rec, "present": False, "confidence": 0.0, "body_box": None, "label": label}
    points = list(landmarks.landmark)
    unit = lambda v: min(1.0, max(0.0, float(v)))  # noqa: E731
    keypoints = [{"name": name, "x": round(p.x, DIGITS), "y": round(p.y, DIGITS),
                  "visibility": round(unit(p.visibility), DIGITS)} for name, p in zip(names, points, strict=True)]
    box = {"x_min": unit(min(p.x for p in points)), "y_min": unit(min(p.y for p in points)),
           "x_max": unit(max(p.x for p in points)), "y_max": unit(max(p.y for p in points))}
    confidence = sum(k["visibility"] for k in keypoints) / len(keypoints)
    return {**rec, "present": True, "confidence": round(unit(confidence), DIGITS),
            "body_box": {k: round(v, DIGITS) for k, v in box.items()},
            "keypoints": keypoints, "label": label}


def pose_frames(video: Path, targets: dict[int, tuple[float, str | None]]) -> Iterator[dict[str, Any]]:
    """Decode the video once, run pose on the target frames, yield their records."""
    import cv2

    solution = _pose_solution()
    names = [lm.name.lower() for lm in solution.PoseLandmark]
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise WorkerError(f"{video}: OpenCV cannot open the video")
    last = max(targets) if targets else -1
    try:
        with solution.Pose(static_image_mode=True) as pose:
            for index in range(last + 1):
                if not cap.grab():
                    raise WorkerError(f"{video}: the video ended at frame {index}, "
                                      f"frame {last} was expected")
                if index not in targets:
                    continue
                ok, bgr = cap.retrieve()
                if not ok:
                    raise WorkerError(f"{video}: cannot decode frame {index}")
                result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                t, label = targets[index]
                yield frame_record(index, t, label, result.pose_landmarks, names)
    finally:
        cap.release()


def video_info(video: Path) -> tuple[float, int]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise WorkerError(f"{video}: OpenCV cannot open the video")
        fps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if fps <= 0 or count <= 0:
        raise WorkerError(f"{video}: no frame rate or frame count ({fps} fps, {count} frames)")
    return fps, count


# --------------------------------------------------------------------------- run


def run(session: Path, out: Path, *, fps: float, label_windows_only: bool,
        source_id: str | None = None, command: str | None = None) -> dict[str, Any]:
    """Process one session; writes the three outputs into `out` and returns the summary."""
    started = time.time()
    log: list[str] = []
    note = lambda msg: log.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}")  # noqa: E731
    doc = read_session(session / source_spec().session_file)
    rel_video = doc["video"]["path"]
    video = session / rel_video
    if not video.is_file():
        raise InputError(f"{video}: source video missing (session.json $.video.path)")
    before = sha256_file(video)
    video_fps, frame_count = video_info(video)
    duration = frame_count / video_fps
    note(f"session {session} video {rel_video}: {frame_count} frames at {video_fps:g} fps "
         f"({duration:.3f} s), sha256 {before}")
    windows = label_windows(session / doc["labels_path"], doc["started_at_unix"], duration, log)
    targets = sample_targets(fps, video_fps, frame_count, windows, label_windows_only)
    policy = "label_windows_only" if label_windows_only else "fixed_fps"
    note(f"{policy} at {fps:g} fps: {len(windows)} label windows, {len(targets)} frames to sample")

    frames = list(_with_progress(pose_frames(video, targets), len(targets)))
    after = sha256_file(video)
    with_body = sum(f["present"] for f in frames)
    note(f"{len(frames)} frames sampled, {with_body} with a body")
    summary: dict[str, Any] = {
        "schema": _summary_const("properties", "schema"),
        "source_id": source_id or source_spec().key,
        "source_path": rel_video,
        "tool": TOOL,
        "worker": {"machine": _summary_const("$defs", "Sam3dWorker", "properties", "machine"),
                   "script": str(Path(__file__).resolve()), **({"command": command} if command else {})},
        "sampling_policy": policy,
        "fps": fps,
        "label_windows_only": label_windows_only,
        **({"label_windows": [{"label": w.label, "t_start_s": round(w.start, 6),
                               "t_end_s": round(w.end, 6)} for w in windows]}
           if label_windows_only else {}),
        "frames_sampled": len(frames),
        "frames_with_body": with_body,
        "frames_path": "sam3d_frames.jsonl",
        "started_at_unix": round(started, 3),
        "finished_at_unix": round(time.time(), 3),
        "source_sha256_before": before,
        "source_sha256_after": after,
        "status": "complete" if before == after else "failed",
        "error": None if before == after else f"source video changed during the run: {before} -> {after}",
    }
    if before != after:
        note(summary["error"])
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / summary["frames_path"], frames)
    write_json(out / "summary.json", summary)
    write_text(out / "worker.log", "\n".join(log) + "\n")
    if before != after:
        raise WorkerError(summary["error"])
    return summary


def _with_progress(frames: Iterator[dict[str, Any]], total: int) -> Iterator[dict[str, Any]]:
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, disable=not console.is_terminal, transient=True) as progress:
        task = progress.add_task("pose", total=total)
        for frame in frames:
            progress.advance(task)
            yield frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lume.runtime.workers.sam3d",
        description="Sample a Mac4 Tier 0 session with OpenCV and run MediaPipe pose (Mac5 worker).")
    parser.add_argument("--session", type=Path, required=True, help="session folder (session.json, raw/)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default SESSION/derived/sam3d)")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second to sample (default 1)")
    parser.add_argument("--label-windows-only", action="store_true",
                        help="sample only inside the label windows of raw/labels/labels.jsonl")
    parser.add_argument("--source-id", default=None, help="bundle source id (default: the long-take source)")
    args = parser.parse_args(argv)
    if not args.fps > 0:
        parser.error("--fps must be > 0")
    out = args.out or args.session / "derived" / "sam3d"
    command = shlex.join([sys.executable, "-m", "lume.runtime.workers.sam3d",
                          *(sys.argv[1:] if argv is None else argv)])
    try:
        summary = run(args.session, out, fps=args.fps, label_windows_only=args.label_windows_only,
                      source_id=args.source_id, command=command)
    except InputError as exc:
        print(f"sam3d_worker: bad input: {exc}", file=sys.stderr)
        return 2
    except WorkerError as exc:
        print(f"sam3d_worker: failed: {exc}", file=sys.stderr)
        return 1
    print(f"sam3d_worker: {summary['frames_sampled']} frames sampled, "
          f"{summary['frames_with_body']} with a body -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
