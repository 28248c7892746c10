"""Landmarks → k11_pose observations without MediaPipe: mirroring, hands, deck zones, motion."""
from __future__ import annotations

import numpy as np
import pytest

from lume.runtime import core as contracts
from lume.runtime.pose import ObservationBuilder, PoseMotion, ZonesError, load_deck_zones, training_record
from lume.runtime.pose._landmarks import LEFT_HAND, LEFT_SHOULDER, RIGHT_HAND, RIGHT_SHOULDER

OBS = contracts.get("body_observation.v1")
TRAINING = contracts.get("pose_coach_training_record.v1")
ZONES = load_deck_zones()
ZT = contracts.table("airdeck_deck_zones.v1")


def person(left_hand=(0.75, 0.3), right_hand=(0.25, 0.3), vis=0.95, shift=0.0) -> np.ndarray:
    """33 landmarks of a person facing a raw (unmirrored) camera: the performer's left hand is
    on the image's right side."""
    lm = np.zeros((33, 4))
    lm[:, 0] = np.linspace(0.35, 0.65, 33) + shift
    lm[:, 1] = np.linspace(0.1, 0.95, 33)
    lm[:, 3] = vis
    lm[LEFT_SHOULDER, :2] = (0.6 + shift, 0.3)
    lm[RIGHT_SHOULDER, :2] = (0.4 + shift, 0.3)
    for idx, (x, y) in ((LEFT_HAND, left_hand), (RIGHT_HAND, right_hand)):
        lm[list(idx), 0] = x + shift
        lm[list(idx), 1] = y
    return lm


def test_zones_come_from_the_contract():
    assert ZONES.frame == ZT.frame
    assert dict(ZONES.boxes)["deck1"] == (ZT.zones.deck1.box.x_min, ZT.zones.deck1.box.y_min,
                                          ZT.zones.deck1.box.x_max, ZT.zones.deck1.box.y_max)
    assert ZONES.min_hand_confidence == ZT.hand_raise.min_hand_confidence


def test_raw_camera_frame_is_mirrored_so_the_left_hand_is_deck1():
    obs = ObservationBuilder(ZONES, motion=None).build(1000, person())
    assert contracts.problems(obs, OBS) == []
    assert ZONES.frame == "mirrored_preview"
    # performer's left hand at raw x=0.75 -> mirrored x=0.25 -> deck1 (performer_left)
    assert obs["hands"]["left"]["x"] == pytest.approx(0.25)
    assert obs["deck_zones"] == {"left_hand": "deck1", "right_hand": "deck2"}
    assert obs["body_anchor"]["x"] == pytest.approx(0.5)
    assert obs["source"] == "k11_pose" and obs["present"] is True
    box = obs["body_box"]
    assert 0 <= box["x_min"] < box["x_max"] <= 1 and 0 <= box["y_min"] < box["y_max"] <= 1


def test_already_mirrored_input_is_not_flipped_again_and_sides_swap():
    # A selfie preview: the performer's raised left hand shows at small x, and the model, seeing
    # a mirror-image person, calls it the right hand.
    lm = person(left_hand=(0.75, 0.9), right_hand=(0.25, 0.3))
    obs = ObservationBuilder(ZONES, input_mirrored=True, motion=None).build(1000, lm)
    assert obs["hands"]["left"]["x"] == pytest.approx(0.25)
    assert obs["deck_zones"] == {"left_hand": "deck1", "right_hand": None}


def test_centre_strip_and_low_hands_belong_to_no_deck():
    obs = ObservationBuilder(ZONES, motion=None).build(0, person(left_hand=(0.5, 0.3), right_hand=(0.25, 0.9)))
    assert obs["deck_zones"] == {"left_hand": None, "right_hand": None}


def test_hidden_or_out_of_frame_hands_are_null():
    lm = person()
    lm[list(LEFT_HAND), 3] = ZONES.min_hand_confidence / 2
    lm[list(RIGHT_HAND), 0] = 1.3
    obs = ObservationBuilder(ZONES, motion=None).build(0, lm)
    assert obs["hands"] == {"left": None, "right": None}
    assert obs["deck_zones"] == {"left_hand": None, "right_hand": None}
    assert contracts.problems(obs, OBS) == []


def test_nobody_gives_present_false_and_a_valid_record():
    obs = ObservationBuilder(ZONES).build(5, None)
    assert obs["present"] is False and obs["confidence"] == 0.0
    assert contracts.problems(obs, OBS) == []
    rec = training_record(obs, frame_index=0, label="present_still")
    assert rec["body_box"] is None and rec["body_anchor"] is None
    assert contracts.problems(rec, TRAINING) == []


def test_motion_energy_needs_the_window_and_grows_with_speed():
    motion = PoseMotion(window_ms=200, full_scale=2.0)
    still, moving = ObservationBuilder(ZONES, motion=motion), ObservationBuilder(ZONES, motion=motion)
    e_still = e_moving = None
    for i in range(12):
        t = i * 33
        a = still.build(t, person())
        b = moving.build(t, person(shift=0.01 * i))
        e_still, e_moving = a.get("motion_energy"), b.get("motion_energy")
        if t < motion.window_ms:
            assert "motion_energy" not in a
    assert e_still == 0.0
    assert 0 < e_moving <= 1


def test_training_record_follow_targets_validate():
    obs = ObservationBuilder(ZONES, motion=None).build(42, person())
    rec = training_record(obs, frame_index=3, label="d1_play_pause", clip_kind="promotion_candidate",
                          recording=True)
    assert contracts.problems(rec, TRAINING) == []
    assert rec["hand_cursors"] == obs["hands"] and rec["deck_zone"] == obs["deck_zones"]


def test_deck_zones_from_a_file_and_bad_files(tmp_path):
    good = tmp_path / "zones.yaml"
    good.write_text(
        "frame: raw_camera\nmembership: hand_point_in_box\n"
        "zones:\n  deck1: {deck: 1, side: performer_left, box: {x_min: 0.5, y_min: 0, x_max: 1, y_max: 1}}\n"
        "  deck2: {deck: 2, side: performer_right, box: {x_min: 0, y_min: 0, x_max: 0.4, y_max: 1}}\n"
        "hand_raise: {references: [body_anchor], margins: {same_side_shoulder: 0.05, body_anchor: 0.1},"
        " min_hand_confidence: 0.5}\n")
    zones = load_deck_zones(good)
    obs = ObservationBuilder(zones, motion=None).build(0, person())
    assert obs["hands"]["left"]["x"] == pytest.approx(0.75)  # raw_camera: no flip
    assert obs["deck_zones"]["left_hand"] == "deck1"

    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("frame: raw_camera", "frame: sideways"))
    with pytest.raises(ZonesError, match=r"bad.yaml: frame: .*airdeck_deck_zones.v1"):
        load_deck_zones(bad)
    overlap = tmp_path / "overlap.yaml"
    overlap.write_text(good.read_text().replace("x_max: 0.4", "x_max: 0.6"))
    with pytest.raises(ZonesError, match="overlap"):
        load_deck_zones(overlap)
    with pytest.raises(ZonesError, match="not a deck-zones table"):
        load_deck_zones("labels.v1")
    with pytest.raises(ZonesError, match="neither a file nor a contract"):
        load_deck_zones(tmp_path / "missing.yaml")
