"""`lume pose extract`: camera or video frames to `k11_pose` observations (MediaPipe + OpenCV)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option, out_option
from ._output import OK, console, emit_json, emit_jsonl, err_console, escape, progress, quiet_native_stderr


@click.group(cls=LumeGroup)
def pose() -> None:
    """The pose source (needs the `pose` extra: pip install 'lume[pose]')."""


@pose.command()
@click.argument("video_or_camera")
@out_option("Write observations here (default: JSONL on stdout).")
@click.option("--deck-zones", "deck_zones", default=None, metavar="CONTRACT_OR_FILE",
              help="Deck zones: a contract name or a YAML/JSON file (default airdeck_deck_zones.v1).")
@click.option("--source-id", default=None, metavar="ID",
              help="source_id written into every observation (default: the K11 webcam pose source).")
@click.option("--start-ms", type=click.IntRange(min=0), default=None,
              help="Timestamp of the first video frame (default: the file's modification time).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Stop after this many frames (default: the whole video, or until Ctrl-C).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Keep every n-th frame.")
@click.option("--input-mirrored", is_flag=True, help="Frames are already a mirrored (selfie) preview.")
@click.option("--training", "training_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write Pose Coach training.jsonl records (follow targets).")
@click.option("--label", default="present_still", show_default=True,
              help="Label of the training records (a labels.v1 name or alias).")
@json_option
def extract(video_or_camera: str, out: Path | None, deck_zones: str | None, source_id: str | None,
            start_ms: int | None, max_frames: int | None, every: int, input_mirrored: bool,
            training_out: Path | None, label: str, as_json: bool) -> int:
    """Person presence, body box and anchor, hand cursors and deck zones for every frame.

    VIDEO_OR_CAMERA is a video file or a camera index such as 0. With --json (which needs
    --out) a summary is printed; MediaPipe's own log lines are hidden unless `lume --verbose`.
    """
    from lume.runtime.core import LabelIndex, write_jsonl
    from lume.runtime.pose import extract as run
    from lume.runtime.pose import load_deck_zones, load_mediapipe_pose, open_capture, training_record

    if as_json and out is None:
        raise BadInput("--json needs --out (stdout carries the observations otherwise)")
    load_mediapipe_pose()  # PoseUnavailable (with the install command): exit 2
    zones = load_deck_zones(deck_zones)
    if training_out is not None:
        label = LabelIndex.load().require(label, where="--label")  # UnknownLabel: exit 2
    capture = open_capture(video_or_camera, start_ms=start_ms)
    total = capture.frame_count
    capture.close()
    if total is not None:
        total = -(-total // every)
        total = min(total, max_frames) if max_frames else total

    options: dict[str, Any] = {"source_id": source_id} if source_id else {}
    observations = []
    started = time.perf_counter()
    with progress() as bar, quiet_native_stderr():
        task = bar.add_task(f"pose {escape(video_or_camera)}", total=total)
        try:
            for obs in run(video_or_camera, zones=zones, start_ms=start_ms, max_frames=max_frames,
                           every=every, input_mirrored=input_mirrored, **options):
                observations.append(obs)
                if out is None:
                    emit_jsonl(obs)
                bar.advance(task)
        except KeyboardInterrupt:  # a camera runs until stopped: keep what was captured
            pass
    elapsed = time.perf_counter() - started
    if out is not None:
        write_jsonl(out, observations)
    if training_out is not None:
        write_jsonl(training_out, [training_record(o, frame_index=i, label=label)
                                   for i, o in enumerate(observations)])
    detected = sum(o["present"] for o in observations)
    summary = {
        "source": video_or_camera, "frames": len(observations), "detected": detected,
        "detection_rate": round(detected / len(observations), 4) if observations else 0.0,
        "frames_per_s": round(len(observations) / elapsed, 2) if elapsed > 0 else None,
        "deck_zones": zones.source, "out": str(out) if out else None,
        "training": str(training_out) if training_out else None,
    }
    if as_json:
        emit_json(summary)
    else:
        target = console if out is not None else err_console
        target.print(f"{summary['frames']} frames, person in {detected} "
                     f"({summary['detection_rate']:.0%}), {summary['frames_per_s']} frames/s"
                     + (f" -> {escape(str(out))}" if out else ""), highlight=False)
    sys.stdout.flush()
    return OK
