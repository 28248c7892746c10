"""`lume pose extract`: camera or video frames to `k11_pose` observations (MediaPipe + OpenCV)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from lume.generated.constants import LABELS
from lume.runtime.pose import DEFAULT_SOURCE_ID

from ._output import OK, console, emit_json, err_console, fail_input


@click.group()
def pose() -> None:
    """The pose source (needs the `pose` extra: pip install 'lume[pose]')."""


@pose.command()
@click.argument("video_or_camera")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write observations here (default: JSONL on stdout).")
@click.option("--deck-zones", "deck_zones", default=None, metavar="CONTRACT_OR_FILE",
              help="Deck zones: a contract name or a YAML/JSON file (default airdeck_deck_zones.v1).")
@click.option("--source-id", default=DEFAULT_SOURCE_ID, show_default=True)
@click.option("--start-ms", type=click.IntRange(min=0), default=None,
              help="Timestamp of the first video frame (default: the file's modification time).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None)
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Keep every n-th frame.")
@click.option("--input-mirrored", is_flag=True, help="Frames are already a mirrored (selfie) preview.")
@click.option("--training", "training_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write Pose Coach training.jsonl records (follow targets).")
@click.option("--label", default="present_still", show_default=True, help="Label of the training records.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary (needs --out).")
def extract(video_or_camera: str, out: Path | None, deck_zones: str | None, source_id: str,
            start_ms: int | None, max_frames: int | None, every: int, input_mirrored: bool,
            training_out: Path | None, label: str, as_json: bool) -> None:
    """Person presence, body box and anchor, hand cursors and deck zones for every frame.

    VIDEO_OR_CAMERA is a video file or a camera index such as 0.
    """
    from lume.runtime.core import (
        InputError,  # noqa: PLC0415
        write_jsonl,  # noqa: PLC0415
    )
    from lume.runtime.pose import (
        PoseUnavailable,
        ZonesError,
        load_deck_zones,
        load_mediapipe_pose,
        open_capture,
        training_record,
    )
    from lume.runtime.pose import extract as run

    if as_json and out is None:
        fail_input("--json needs --out (stdout carries the observations otherwise)")
    try:
        load_mediapipe_pose()
    except PoseUnavailable as exc:
        fail_input(str(exc))
    try:
        zones = load_deck_zones(deck_zones)
    except ZonesError as exc:
        fail_input(str(exc))
    if training_out is not None:
        if label not in LABELS:
            fail_input(f"--label {label!r} is not in the label table [labels.v1]")
    try:
        capture = open_capture(video_or_camera, start_ms=start_ms)
        total = capture.frame_count
        capture.close()
    except InputError as exc:
        fail_input(str(exc))
    if total is not None:
        total = -(-total // every)
        total = min(total, max_frames) if max_frames else total

    observations = []
    started = time.perf_counter()
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"pose {video_or_camera}", total=total)
        try:
            for obs in run(video_or_camera, zones=zones, source_id=source_id, start_ms=start_ms,
                           max_frames=max_frames, every=every, input_mirrored=input_mirrored):
                observations.append(obs)
                if out is None:
                    sys.stdout.write(_line(obs))
                progress.advance(task)
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
                     + (f" -> {out}" if out else ""), highlight=False)
    raise SystemExit(OK)


def _line(obs: dict) -> str:
    import json  # noqa: PLC0415

    return json.dumps(obs, separators=(",", ":")) + "\n"
