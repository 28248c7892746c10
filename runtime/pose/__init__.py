"""The pose source: camera or video frames to `k11_pose` observations with MediaPipe + OpenCV.

`ObservationBuilder` (landmarks → body_observation.v1, deck zones, motion energy) is pure numpy;
`PoseEstimator` / `extract` need the optional `pose` extra and import MediaPipe only when used.
"""
from ._landmarks import DEFAULT_SOURCE_ID, ObservationBuilder, PoseMotion, pose_motion_rule, training_record
from ._source import (
    INSTALL_HINT,
    Capture,
    PoseEstimator,
    PoseUnavailable,
    extract,
    load_mediapipe_pose,
    open_capture,
)
from ._zones import DeckZones, ZonesError, load_deck_zones

__all__ = [
    "DEFAULT_SOURCE_ID",
    "Capture",
    "DeckZones",
    "INSTALL_HINT",
    "ObservationBuilder",
    "PoseEstimator",
    "PoseMotion",
    "PoseUnavailable",
    "ZonesError",
    "extract",
    "load_deck_zones",
    "load_mediapipe_pose",
    "open_capture",
    "pose_motion_rule",
    "training_record",
]
