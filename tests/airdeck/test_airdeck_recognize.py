"""AirDeck gesture recognition from k11_pose observations (airdeck_gestures.v1 + deck zones)."""
from __future__ import annotations

import copy

import pytest
from airdeck_helpers import T0

from lume.runtime.airdeck import Recognizer, recognize
from lume.runtime.core import get, problems

GESTURE = get("gesture_event.v1")
ZONES = get("airdeck_deck_zones.v1").table_data()
MARGIN = ZONES["hand_raise"]["margins"]["body_anchor"]
ANCHOR_Y = 0.4
UP = ANCHOR_Y - MARGIN - 0.05  # clearly above the body anchor by more than the margin
DOWN = ANCHOR_Y + 0.2


def _centre(zone):
    box = ZONES["zones"][zone]["box"]
    return (box["x_min"] + box["x_max"]) / 2


def obs(ts, left=None, right=None, *, source="k11_pose", source_id="k11_webcam_pose",
        present=True, anchor=True):
    """A body_observation.v1 record; `left` / `right` are (x, y, confidence) or None."""
    o = {"timestamp_ms": ts, "source": source, "source_id": source_id, "present": present,
         "confidence": 0.8, "hands": {
             "left": None if left is None else dict(zip(("x", "y", "confidence"), left)),
             "right": None if right is None else dict(zip(("x", "y", "confidence"), right))}}
    if anchor:
        o["body_anchor"] = {"x": 0.5, "y": ANCHOR_Y}
    assert problems(o, get("body_observation.v1")) == []
    return o


LEFT_UP = (_centre("deck1"), UP, 0.9)
RIGHT_UP = (_centre("deck2"), UP, 0.85)
LEFT_DOWN = (_centre("deck1"), DOWN, 0.9)
RIGHT_DOWN = (_centre("deck2"), DOWN, 0.9)


def run(frames):
    events = recognize(frames, machine="K11")
    for e in events:
        assert problems(e, GESTURE) == [], e
    return events


def test_left_hand_raise_start_hold_release_on_deck1():
    frames = [obs(T0 + 33 * i, LEFT_UP, RIGHT_DOWN) for i in range(10)]
    frames.append(obs(T0 + 330, LEFT_DOWN, RIGHT_DOWN))
    events = run(frames)
    assert [e["phase"] for e in events] == ["start"] + ["hold"] * 9 + ["release"]
    assert {(e["label"], e["deck"]) for e in events} == {("left_hand_raise", 1)}
    assert events[0]["confidence"] == 0.9 and events[-1]["timestamp_ms"] == T0 + 330


def test_right_hand_raise_on_deck2_stays_distinct():
    events = run([obs(T0 + 33 * i, LEFT_DOWN, RIGHT_UP) for i in range(5)])
    assert {(e["label"], e["deck"]) for e in events} == {("right_hand_raise", 2)}


def test_both_hands_up_is_the_safe_stop_never_two_deck_commands():
    events = run([obs(T0 + 33 * i, LEFT_UP, RIGHT_UP) for i in range(5)])
    assert {e["label"] for e in events} == {"safe_stop_rehearsal"}
    assert all("deck" not in e for e in events)
    assert events[0]["confidence"] == min(LEFT_UP[2], RIGHT_UP[2])


def test_switching_from_one_hand_to_both_releases_first():
    frames = [obs(T0 + 33 * i, LEFT_UP, RIGHT_DOWN) for i in range(3)]
    frames += [obs(T0 + 100 + 33 * i, LEFT_UP, RIGHT_UP) for i in range(3)]
    events = run(frames)
    assert [(e["label"], e["phase"]) for e in events][2:5] == [
        ("left_hand_raise", "hold"), ("left_hand_raise", "release"), ("safe_stop_rehearsal", "start")]


@pytest.mark.parametrize(("left", "right", "kw"), [
    ((_centre("deck2"), UP, 0.9), RIGHT_DOWN, {}),      # left hand raised but in the deck2 zone
    ((0.5, UP, 0.9), RIGHT_DOWN, {}),                   # centre strip: no deck
    ((_centre("deck1"), ANCHOR_Y - MARGIN + 0.01, 0.9), RIGHT_DOWN, {}),  # not above by the margin
    ((_centre("deck1"), UP, ZONES["hand_raise"]["min_hand_confidence"] - 0.01), RIGHT_DOWN, {}),
    (LEFT_UP, RIGHT_DOWN, {"present": False}),
    (LEFT_UP, RIGHT_DOWN, {"anchor": False}),
    (LEFT_UP, RIGHT_DOWN, {"source": "rgb", "source_id": "mac4_mega_rgb"}),
    (LEFT_UP, RIGHT_DOWN, {"source": "insta360", "source_id": "mac2_insta360_room_wide"}),
])
def test_no_gesture(left, right, kw):
    assert run([obs(T0 + 33 * i, left, right, **kw) for i in range(5)]) == []


def test_gap_releases_and_restarts():
    rec = Recognizer(machine="K11")
    gap = rec.release_after_ms + 50
    out = rec.feed(obs(T0, LEFT_UP, RIGHT_DOWN)) + rec.feed(obs(T0 + gap, LEFT_UP, RIGHT_DOWN))
    assert [e["phase"] for e in out] == ["start", "release", "start"]
    assert out[1]["timestamp_ms"] == T0 + rec.release_after_ms


def test_sources_are_tracked_separately():
    frames = []
    for i in range(4):
        frames.append(obs(T0 + 33 * i, LEFT_UP, RIGHT_DOWN))
        frames.append(obs(T0 + 33 * i + 1, LEFT_DOWN, RIGHT_UP, source_id="k11_arducam_pose"))
    events = run(frames)
    by_source = {}
    for e in events:
        by_source.setdefault(e["source_id"], set()).add(e["label"])
    assert by_source == {"k11_webcam_pose": {"left_hand_raise"},
                         "k11_arducam_pose": {"right_hand_raise"}}


def test_candidates_are_never_recognised():
    labels = {g["label"] for g in get("airdeck_gestures.v1").table_data()["gestures"]}
    rows = {r["name"]: r for r in get("labels.v1").table_data()["labels"]}
    for label in labels:
        row = rows[label]
        target = rows[row["gesture"]] if row["gesture"] else row
        assert row["promotion_status"] == target["promotion_status"] == "promoted"
    assert not labels & {"scratch", "loop_toggle", "sync", "next_track", "cue"}


def test_custom_rows_are_data():
    gestures = copy.deepcopy(get("airdeck_gestures.v1").table_data())
    gestures["gestures"] = [g for g in gestures["gestures"] if g["label"] != "safe_stop_rehearsal"]
    rec = Recognizer(machine="K11", gestures=gestures)
    # without the safe-stop row, both hands up is the first row that matches: the left raise
    assert rec.feed(obs(T0, LEFT_UP, RIGHT_UP))[0]["label"] == "left_hand_raise"
