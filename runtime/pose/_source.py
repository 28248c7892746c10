"""Camera / video frames → landmarks with OpenCV + MediaPipe 0.10.21 `mp.solutions.pose`.

MediaPipe is the optional `pose` extra (`pip install 'lume[pose]'`): it is imported only when a
frame is processed, and a missing or unusable install raises PoseUnavailable with the fix. The
pose models ship inside the 0.10.21 wheel, so nothing is downloaded at run time.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from lume.runtime.core import InputError

from ._landmarks import DEFAULT_SOURCE_ID, N_LANDMARKS, ObservationBuilder
from ._zones import DeckZones, load_deck_zones

INSTALL_HINT = "install the pose extra: pip install 'lume[pose]' (mediapipe 0.10.21 ships its models)"


class PoseUnavailable(RuntimeError):
    """MediaPipe (the `pose` extra) is missing or has no `solutions.pose` (e.g. mediapipe 1.x)."""


def load_mediapipe_pose() -> Any:
    """The `mp.solutions.pose` module, imported lazily."""
    try:
        import mediapipe as mp  # noqa: PLC0415 - optional heavy dependency, imported on use
    except ImportError as exc:
        raise PoseUnavailable(f"MediaPipe is not installed ({exc}); {INSTALL_HINT}") from exc
    try:
        return mp.solutions.pose
    except AttributeError as exc:
        version = getattr(mp, "__version__", "?")
        raise PoseUnavailable(f"mediapipe {version} has no solutions.pose; {INSTALL_HINT}") from exc


class PoseEstimator:
    """One MediaPipe Pose graph. `static=True` for unrelated photos, False to track a video."""

    def __init__(self, *, static: bool = False, model_complexity: int = 1) -> None:
        mp_pose = load_mediapipe_pose()
        self._pose = mp_pose.Pose(static_image_mode=static, model_complexity=model_complexity)

    def landmarks(self, bgr: np.ndarray) -> np.ndarray | None:
        """(33, 4) array of x, y (normalised to the image), z, visibility; None when nobody is seen."""
        import cv2  # noqa: PLC0415

        result = self._pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if result.pose_landmarks is None:
            return None
        out = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark],
                       dtype=np.float64)
        return out if out.shape == (N_LANDMARKS, 4) else None

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Capture:
    """An opened video file or camera; frames come with their timestamp in ms."""

    spec: str
    is_camera: bool
    start_ms: int
    _cap: Any

    @property
    def frame_count(self) -> int | None:
        import cv2  # noqa: PLC0415

        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return None if self.is_camera or n <= 0 else n

    def frames(self, *, max_frames: int | None = None, every: int = 1,
               size: tuple[int, int] | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """(frame index, timestamp_ms, BGR frame); `every` keeps every n-th frame."""
        import cv2  # noqa: PLC0415

        index = kept = 0
        while max_frames is None or kept < max_frames:
            ok, frame = self._cap.read()
            if not ok:
                return
            if index % every == 0:
                if self.is_camera:
                    ts = time.time_ns() // 1_000_000
                else:
                    ts = self.start_ms + int(round(self._cap.get(cv2.CAP_PROP_POS_MSEC)))
                if size is not None:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                yield index, ts, frame
                kept += 1
            index += 1

    def close(self) -> None:
        self._cap.release()


def open_capture(spec: str | Path, *, start_ms: int | None = None) -> Capture:
    """A video file, or a camera index (`0`). File timestamps start at `start_ms` (default: the
    file's modification time, so repeated runs give the same output)."""
    import cv2  # noqa: PLC0415

    text = str(spec)
    if text.isdigit():
        cap = cv2.VideoCapture(int(text))
        if not cap.isOpened():
            raise InputError(f"camera {text}: cannot open it")
        return Capture(text, True, start_ms or 0, cap)
    path = Path(text)
    if not path.is_file():
        raise InputError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{path}: OpenCV cannot decode this file as video")
    if start_ms is None:
        start_ms = int(os.stat(path).st_mtime * 1000)
    return Capture(text, False, start_ms, cap)


def extract(spec: str | Path, *, zones: DeckZones | str | Path | None = None,
            source_id: str = DEFAULT_SOURCE_ID, start_ms: int | None = None,
            max_frames: int | None = None, every: int = 1, input_mirrored: bool = False,
            size: tuple[int, int] | None = None, model_complexity: int = 1) -> Iterator[dict[str, Any]]:
    """Yield one `k11_pose` observation per frame of a video or camera."""
    zones = zones if isinstance(zones, DeckZones) else load_deck_zones(zones)
    builder = ObservationBuilder(zones, source_id=source_id, input_mirrored=input_mirrored)
    estimator = PoseEstimator(static=False, model_complexity=model_complexity)  # fails first if missing
    try:
        capture = open_capture(spec, start_ms=start_ms)
        try:
            for _, ts, frame in capture.frames(max_frames=max_frames, every=every, size=size):
                yield builder.build(ts, estimator.landmarks(frame))
        finally:
            capture.close()
    finally:
        estimator.close()
