"""The MediaPipe pose source on real people (../shared/real-media) and on frames with nobody.

Measured here (MediaPipe 0.10.21, full model): a person in every sampled frame of the dance
video; mean keypoint error 0.016-0.022 of the person's size on the single-person photos and
0.03-0.13 on crowded COCO photos (the detector picks one person of several).
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lume.runtime import core as contracts

pytest.importorskip("mediapipe", reason="the `pose` extra (mediapipe 0.10.21) is not installed")

from lume.runtime.pose import ObservationBuilder, PoseEstimator, extract, load_deck_zones  # noqa: E402

# COCO's 17 keypoints in BlazePose indices (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
COCO_TO_BLAZEPOSE = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
SINGLE_PERSON_TOLERANCE = 0.05  # mean error / person size on photos with one person
CROWD_TOLERANCE = 0.2  # per photo when several people are in it
OVERALL_TOLERANCE = 0.08  # mean over every labelled photo
MIN_DETECTION_RATE = 0.9
OBS = contracts.get("body_observation.v1")


@pytest.fixture(scope="module")
def real_media():
    import lume_testpaths

    return lume_testpaths.real_media


@pytest.fixture(scope="module")
def photo_estimator():
    with PoseEstimator(static=True) as est:
        yield est


def _error(pred: np.ndarray, truth: np.ndarray, size: float) -> float:
    return float((np.linalg.norm(pred - truth, axis=1) / size).mean())


def test_dance_video_detection_rate_and_valid_observations(real_media):
    video = real_media("video", "jacky_dance.mp4")
    obs = list(extract(video, start_ms=1_779_639_380_000, every=2, max_frames=30))
    assert len(obs) == 30
    rate = sum(o["present"] for o in obs) / len(obs)
    assert rate >= MIN_DETECTION_RATE, f"person detected in {rate:.0%} of dance frames"
    assert all(contracts.problems(o, OBS) == [] for o in obs)
    seen = [o for o in obs if o["present"]]
    assert np.mean([o["confidence"] for o in seen]) >= 0.55  # the presence threshold of BodyTruth
    assert any(o["hands"]["left"] and o["hands"]["right"] for o in seen)
    assert any("motion_energy" in o and o["motion_energy"] > 0 for o in seen)  # she is dancing
    stamps = [o["timestamp_ms"] for o in obs]
    assert stamps == sorted(stamps) and stamps[0] >= 1_779_639_380_000


def test_keypoint_error_against_labelled_photos(real_media, photo_estimator):
    import cv2

    truth_csv = real_media("images", "tfexamples_pose_landmark_truth.csv")
    rows = list(csv.DictReader(truth_csv.open()))
    names = [k[:-2] for k in rows[0] if k.endswith("_x")]
    errors = {}
    for i, row in enumerate(rows, start=1):
        name = f"tfexamples_image{i}." + ("png" if i == 1 else "jpeg")
        img = cv2.imread(str(real_media("images", name)))
        h, w = img.shape[:2]
        truth = np.array([[float(row[f"{n}_x"]), float(row[f"{n}_y"])] for n in names])
        lm = photo_estimator.landmarks(img)
        assert lm is not None, f"{name}: nobody detected"
        size = float(max(np.ptp(truth[:, 0]), np.ptp(truth[:, 1])))
        errors[name] = _error(lm[COCO_TO_BLAZEPOSE, :2] * [w, h], truth, size)
        assert errors[name] <= SINGLE_PERSON_TOLERANCE, f"{name}: mean keypoint error {errors[name]:.3f}"

    coco = json.loads(real_media("pose-truth", "mmpose_test_coco.json").read_text())
    for image in coco["images"]:
        img = cv2.imread(str(real_media("images", image["file_name"])))
        h, w = img.shape[:2]
        lm = photo_estimator.landmarks(img)
        assert lm is not None, f"{image['file_name']}: nobody detected"
        people = [a for a in coco["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] >= 10]
        best = None
        for ann in people:  # the detector reports one person: compare with the closest labelled one
            kp = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
            seen = kp[:, 2] > 0
            e = _error((lm[COCO_TO_BLAZEPOSE, :2] * [w, h])[seen], kp[seen, :2], max(ann["bbox"][2:]))
            best = e if best is None else min(best, e)
        errors[image["file_name"]] = best
        limit = SINGLE_PERSON_TOLERANCE if len(people) == 1 else CROWD_TOLERANCE
        assert best <= limit, f"{image['file_name']}: mean keypoint error {best:.3f} > {limit}"
    assert np.mean(list(errors.values())) <= OVERALL_TOLERANCE, errors


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_frames_with_nobody_give_present_false(photo_estimator, kind):
    frame = np.zeros((480, 640, 3), np.uint8) if kind == "blank" else \
        np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    lm = photo_estimator.landmarks(frame)
    obs = ObservationBuilder(load_deck_zones()).build(1, lm)
    assert lm is None and obs["present"] is False
    assert contracts.problems(obs, OBS) == []
