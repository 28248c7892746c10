"""The issue's scenarios: a held left-hand raise gives exactly one d1_play_pause; leaving the
frame gives no command spam. Each runs twice: through the BodyTruth fusion of
lume.runtime.bodytruth (skipped only if that module is missing) and on frames built here
straight from the body_truth.v0 contract, so the behaviour is covered either way."""
from __future__ import annotations

from airdeck_helpers import T0, event, frame, gate, held

from lume.fixtures import load_scenario
from lume.runtime.airdeck import Rules, audit, recognize, replay

LOCKOUT = ("absent", "tracking_lost")


def _bodytruth():
    import lume.runtime.bodytruth as bt

    return bt


def _check(decisions):
    assert audit([d.to_record() for d in decisions], Rules.from_contracts()) == []
    return [d for d in decisions if d.dispatched]


def repeated_holds(start, stop, *, hold_ms=500, every_ms=700, step=33, label="left_hand_raise"):
    """A performer who keeps raising the left hand: a hold of hold_ms every every_ms."""
    out = []
    for t in range(start, stop, every_ms):
        out += held(label, t, hold_ms, step=step)
    return out


# ---------------------------------------------------------------- through BodyTruth fusion
def test_bodytruth_gesture_hold_release_gives_exactly_one_d1_play_pause():
    bt = _bodytruth()
    observations, gestures = load_scenario("gesture_hold_release")
    frames = bt.replay(observations, gestures)
    decisions = replay(gate(), gestures, frames)
    (d,) = _check(decisions)
    assert (d.label, d.command, d.deck) == ("left_hand_raise", "d1_play_pause", 1)
    assert d.frame["mode"] == "gesture_confirmed"
    # the two-frame right-hand flicker and the Mac4 detector never command
    right = [x for x in decisions if x.label == "right_hand_raise"]
    assert right and not any(x.dispatched for x in right)
    assert {x.invariant for x in right if x.machine == "Mac4"} == {"SAFE-NEVER-COMMAND"}


def test_bodytruth_leaving_frame_produces_no_command_spam():
    bt = _bodytruth()
    observations, _ = load_scenario("leaving_frame")
    start = observations[0]["timestamp_ms"]
    stop = observations[-1]["timestamp_ms"]
    gestures = repeated_holds(start + 200, stop)
    frames = bt.replay(observations, gestures)
    assert {"tracking_lost", "absent"} <= {f["mode"] for f in frames}
    decisions = replay(gate(), gestures, frames)
    sent = _check(decisions)
    assert len(sent) <= 1
    assert not any(d.frame["mode"] in LOCKOUT for d in sent)
    gone = min(f["timestamp"] for f in frames if f["mode"] in LOCKOUT)
    assert not any(d.timestamp_ms >= gone for d in sent)
    after = [d for d in decisions if d.timestamp_ms >= gone and d.phase != "release"]
    assert after and {d.invariant for d in after} <= {"SAFE-CMD-PRESENCE", "SAFE-CMD-HOLD",
                                                       "SAFE-CMD-COOLDOWN", "SAFE-CMD-THRESHOLD"}


def _raised_left(ts):
    """A k11_pose observation (body_observation.v1) with the left hand up in the deck1 zone."""
    return {"timestamp_ms": ts, "source": "k11_pose", "source_id": "k11_webcam_pose",
            "present": True, "confidence": 0.84, "motion_energy": 0.05, "posture": "upright",
            "joint_count": 33,
            "hands": {"left": {"x": 0.25, "y": 0.1, "confidence": 0.9},
                      "right": {"x": 0.7, "y": 0.6, "confidence": 0.9}},
            "body_box": {"x_min": 0.3, "y_min": 0.05, "x_max": 0.7, "y_max": 0.97},
            "body_anchor": {"x": 0.5, "y": 0.33},
            "deck_zones": {"left_hand": "deck1", "right_hand": None}}


def _hands_down(ts):
    obs = _raised_left(ts)
    obs["hands"]["left"] = {"x": 0.3, "y": 0.6, "confidence": 0.9}
    obs["deck_zones"]["left_hand"] = None
    return obs


def test_shipped_scenario_pose_stream_recognised_to_one_d1_play_pause():
    """The scenario's own K11 pose observations, not its recorded gestures, drive the gate."""
    bt = _bodytruth()
    observations, _ = load_scenario("gesture_hold_release")
    gestures = recognize(observations, machine="K11")
    assert {g["label"] for g in gestures} == {"left_hand_raise"}
    (d,) = _check(replay(gate(), gestures, bt.replay(observations, gestures)))
    assert (d.label, d.command, d.deck) == ("left_hand_raise", "d1_play_pause", 1)


def test_bodytruth_pose_recognition_to_one_d1_play_pause():
    """The whole camera-only path: K11 pose observations -> recogniser -> fusion -> gate."""
    bt = _bodytruth()
    observations = ([_hands_down(T0 + 33 * i) for i in range(15)]
                    + [_raised_left(T0 + 500 + 33 * i) for i in range(45)]
                    + [_hands_down(T0 + 2000 + 33 * i) for i in range(15)])
    gestures = recognize(observations, machine="K11")
    assert {g["label"] for g in gestures} == {"left_hand_raise"}
    assert [g["phase"] for g in gestures][0] == "start" and gestures[-1]["phase"] == "release"
    frames = bt.replay(observations, gestures)
    (d,) = _check(replay(gate(), gestures, frames))
    assert d.command == "d1_play_pause"


# ---------------------------------------------------------------- frames built from the contract
def test_held_left_hand_raise_on_contract_frames_gives_exactly_one_d1_play_pause():
    events = held("left_hand_raise", T0, 2000)
    frames = []
    for e in events:  # BodyTruth's own life cycle: still, then candidate, then confirmed
        t = e["timestamp_ms"] - T0
        mode = "present_still" if t < 100 else "gesture_candidate" if t < 450 else "gesture_confirmed"
        frames.append(frame(e["timestamp_ms"] - 3, mode))
    (d,) = _check(replay(gate(), events, frames))
    assert (d.command, d.deck) == ("d1_play_pause", 1)
    assert d.timestamp_ms - T0 >= 450


def test_leaving_frame_on_contract_frames_produces_no_command_spam():
    gestures = repeated_holds(T0, T0 + 6000)
    frames = []
    for t in range(T0 - 10, T0 + 6000, 33):  # confirmed, then lost at 2 s, then absent at 4 s
        mode = "gesture_confirmed" if t < T0 + 2000 else "tracking_lost" if t < T0 + 4000 else "absent"
        frames.append(frame(t, mode, intent="left_hand_raise" if mode == "gesture_confirmed" else None))
    decisions = replay(gate(), gestures, frames)
    sent = _check(decisions)
    assert len(sent) == 1 and sent[0].timestamp_ms < T0 + 2000
    assert {d.invariant for d in decisions if d.timestamp_ms >= T0 + 2000 and d.phase != "release"} \
        == {"SAFE-CMD-PRESENCE"}


def test_recognised_pose_stream_on_contract_frames():
    observations = [_raised_left(T0 + 33 * i) for i in range(40)]
    gestures = recognize(observations, machine="K11")
    frames = [frame(o["timestamp_ms"] - 2) for o in observations]
    (d,) = _check(replay(gate(), gestures, frames))
    assert d.command == "d1_play_pause"
    # the same recognised stream from a Mac4 detector never commands
    mac4 = recognize(observations, machine="Mac4")
    assert not _check(replay(gate(), mac4, frames))


def test_a_flicker_then_a_deliberate_hold():
    events = [event(T0, phase="start"), event(T0 + 33), event(T0 + 66, phase="release")]
    events += held("left_hand_raise", T0 + 1000, 600)
    frames = [frame(e["timestamp_ms"] - 2) for e in events]
    (d,) = _check(replay(gate(), events, frames))
    assert d.timestamp_ms >= T0 + 1000 + 400
