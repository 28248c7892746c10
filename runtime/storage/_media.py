"""What a video file says about itself (OpenCV): frames, rate, size, codec, duration."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lume.runtime.core import InputError


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int
    codec: str

    @property
    def duration_s(self) -> float:
        return round(self.frames / self.fps, 3) if self.fps > 0 else 0.0


def probe_video(path: Path) -> VideoInfo:
    """Open the video with OpenCV and read its header (raises InputError when it cannot)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: video is missing")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: OpenCV cannot open this video")
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "unknown"
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if frames <= 0:  # some containers have no frame count in their header: count them
            frames = 0
            while cap.grab():
                frames += 1
        if frames <= 0 or fps <= 0:
            raise InputError(f"{path}: video has no readable frames")
        return VideoInfo(frames, fps, width, height, codec)
    finally:
        cap.release()
