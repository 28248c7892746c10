"""Fusion rules of seed 003 section 6, read from body_truth_rules.v0 (no literals in these tests
either: every threshold is taken from the compiled rules)."""
from __future__ import annotations

import copy

import pytest
from bt_helpers import T0, Driver, gesture, obs

from lume.runtime import core as contracts
from lume.runtime.bodytruth import (
    Fusion,
    IllegalTransition,
    InputRejected,
    compile_rules,
    frame_problems,
    replay,
)

R = compile_rules()
MODES = Fusion().modes
SAFETY = contracts.get("safety_invariants.v1").table_data()["commands"]
D1 = R.gesture_command("left_hand_raise")


def tick(f: Fusion, t: int) -> dict:
    frame = f.tick(T0 + t)
    assert frame_problems(frame) == [], frame
    return frame


def test_before_any_observation_the_frame_is_valid_and_absent():
    frame = tick(Fusion(), 0)
    assert frame["mode"] == MODES.initial == "absent"
    assert frame["present"] is False and frame["center"] is None and frame["authority"] == "none"
    assert all(s == {"present": False, "confidence": 0.0, "fresh_ms": None} for s in frame["sources"].values())
    assert frame["raw_ref"] == {"fused_body_state": False, "motion_record_id": None}


@pytest.mark.parametrize("delta, present", [(0.0, True), (-0.001, False)])
def test_presence_threshold(delta, present):
    f = Fusion()
    f.observe(obs(0, confidence=R.model.presence.min_confidence + delta))
    assert tick(f, 0)["present"] is present


def test_depth_alone_is_never_a_person():
    f = Fusion()
    f.observe(obs(0, "depth", confidence=0.99, motion_energy=0.99))
    frame = tick(f, 0)
    assert frame["mode"] == "absent" and frame["present"] is False
    assert frame["sources"]["depth"] == {"present": True, "confidence": 0.99, "fresh_ms": 0}


def test_one_source_caps_confidence_below_the_high_threshold():
    f = Fusion()
    f.observe(obs(0, "rgb", confidence=0.97))
    frame = tick(f, 0)
    assert frame["confidence"] == R.model.output.presence_only_confidence_cap < R.model.high_confidence.min_confidence
    assert frame["authority"] == "rgb"


@pytest.mark.parametrize("joints, high", [(R.model.high_confidence.mocopi_skeleton.min_joint_count, True), (R.model.high_confidence.mocopi_skeleton.min_joint_count - 1, False)])
def test_mocopi_with_enough_joints_is_high_confidence(joints, high):
    f = Fusion()
    f.observe(obs(0, "mocopi", confidence=0.9, joint_count=joints))
    frame = tick(f, 0)
    assert (frame["confidence"] >= R.model.high_confidence.min_confidence) is high
    assert frame["authority"] == "mocopi"


def test_depth_plus_person_verifier_is_high_confidence():
    f = Fusion()
    f.observe(obs(0, "depth", confidence=0.8))
    f.observe(obs(0, "rgb", confidence=0.9))
    frame = tick(f, 0)
    assert frame["confidence"] == pytest.approx((0.8 + 0.9) / 2)
    assert frame["authority"] == "rgb_depth"


def test_two_independent_cameras_are_high_confidence_but_one_camera_twice_is_not():
    f = Fusion()
    f.observe(obs(0, "rgb", "mac4_mega_rgb", confidence=0.8))
    f.observe(obs(0, "k11_pose", "k11_webcam_pose", confidence=0.9))
    frame = tick(f, 0)
    assert frame["confidence"] == pytest.approx(0.85) and frame["authority"] == "rgb_k11_pose"

    g = Fusion()
    g.observe(obs(0, "rgb", "mac4_mega_rgb", confidence=0.9))
    g.observe(obs(10, "rgb", "mac4_mega_rgb", confidence=0.95))
    assert tick(g, 10)["confidence"] == R.model.output.presence_only_confidence_cap


def test_evidence_only_sources_never_count():
    assert "mac2_insta360_room_wide" in R.model.evidence_only_source_ids
    f = Fusion()
    f.observe(obs(0, "rgb", "mac2_insta360_room_wide", confidence=0.99, motion_energy=0.9))
    f.observe(obs(0, "k11_pose", "k11_webcam_pose", confidence=0.9))
    frame = tick(f, 0)
    assert frame["confidence"] == R.model.output.presence_only_confidence_cap and frame["authority"] == "k11_pose"
    assert frame["sources"]["rgb"]["fresh_ms"] is None


def test_freshness_tracking_lost_then_absent_timeouts():
    f = Fusion()
    f.observe(obs(0, "rgb", confidence=0.9, center={"x": 0.1, "y": 0.9, "z": 1.8}))
    stale = R.fresh_ms["rgb"]
    assert tick(f, 0)["mode"] == "present_still"
    assert tick(f, stale)["mode"] == "present_still"
    lost = tick(f, stale + 1)
    assert lost["mode"] == "tracking_lost" and lost["tracking_lost"] is True and lost["present"] is False
    assert lost["center"] == {"x": 0.1, "y": 0.9, "z": 1.8}  # last safe state is held
    assert 0 < lost["confidence"] < R.model.output.presence_only_confidence_cap  # linear decay towards absent
    assert tick(f, R.model.timing.absent_after_ms)["mode"] == "tracking_lost"
    gone = tick(f, R.model.timing.absent_after_ms + 1)
    assert gone["mode"] == "absent" and gone["center"] is None and gone["confidence"] == R.model.output.absent_confidence
    g = Fusion()
    g.observe(obs(0, "rgb", confidence=0.9))
    assert tick(g, R.model.timing.source_slot_null_after_ms)["sources"]["rgb"] == {
        "present": False, "confidence": 0.9, "fresh_ms": R.model.timing.source_slot_null_after_ms}
    assert tick(g, R.model.timing.source_slot_null_after_ms + 1)["sources"]["rgb"]["fresh_ms"] is None


def test_a_far_future_timestamp_does_not_keep_a_body_present():
    f = Fusion()
    f.observe(obs(10_000_000, confidence=0.9))  # a producer clock hours ahead
    assert tick(f, 0)["present"] is False
    g = Fusion()
    g.observe(obs(R.fresh_ms["rgb"], confidence=0.9))  # small skew is tolerated
    frame = tick(g, 0)
    assert frame["present"] is True and frame["sources"]["rgb"]["fresh_ms"] == 0


def test_tracking_lost_confidence_decays_linearly():
    f = Fusion()
    f.observe(obs(0, "depth", confidence=0.8))
    f.observe(obs(0, "rgb", confidence=0.9))
    high = tick(f, 0)["confidence"]
    half = tick(f, R.model.timing.absent_after_ms // 2)
    assert half["mode"] == "tracking_lost"
    assert half["confidence"] == pytest.approx(high * 0.5, abs=1e-6)


def test_depth_shimmer_alone_never_makes_burst():
    d = Driver()
    for _ in range(20):
        d.f.observe(obs(d.t, "depth", confidence=0.9, motion_energy=1.0))
        d.step(energy=None) if d.frames else None
        d.f.observe(obs(d.t, "rgb", confidence=0.9))  # a person, but RGB reports no motion energy
        d.step(energy=None)
    assert set(d.modes()) == {"present_still"}
    assert all(fr["burst"] == 0.0 and fr["stillness"] == 1.0 for fr in d.frames)


def test_burst_needs_presence_and_counted_motion_energy_and_passes_through_active():
    d = Driver()
    d.step(0.05)
    d.step(R.model.motion.burst_min_motion_energy)  # present_still -> active first (no direct present_still -> burst)
    assert d.mode == "active"
    frame = d.step(R.model.motion.burst_min_motion_energy)
    assert frame["mode"] == "burst" and frame["present"] is True
    assert frame["burst"] == pytest.approx((R.model.motion.burst_min_motion_energy - R.model.output.burst_ramp_start) / (R.model.output.burst_ramp_end - R.model.output.burst_ramp_start))
    assert d.step((R.model.motion.burst_exit_motion_energy + R.model.motion.burst_min_motion_energy) / 2)["mode"] == "burst"  # hysteresis
    assert d.step(R.model.motion.burst_exit_motion_energy - 0.01)["mode"] == "active"


def test_seated_and_torso_only_bodies_are_present():
    for posture in ("seated", "torso_only"):
        f = Fusion()
        f.observe(obs(0, "k11_pose", confidence=0.7, posture=posture))
        frame = tick(f, 0)
        assert frame["present"] is True and frame["posture"] == posture
        assert frame["seated"] is (posture in R.model.posture.seated_when)


def test_velocity_from_the_moving_centre():
    f = Fusion()
    for i in range(8):  # 1 m/s along x, readings every 50 ms
        f.observe(obs(i * 50, "depth", confidence=0.9, center={"x": i * 0.05, "y": 1.0, "z": 2.0}))
        f.observe(obs(i * 50, "rgb", confidence=0.9))
    assert tick(f, 350)["velocity"] == pytest.approx(1.0, rel=1e-6)


# ---------------------------------------------------------------- gestures
def test_gesture_confirms_only_after_the_hold_with_the_command_of_the_label():
    assert D1.command == "d1_play_pause" and D1.deck == 1
    assert D1.threshold == max(R.model.gesture.confirm_min_confidence, SAFETY["d1_play_pause"]["threshold"])
    assert D1.hold_ms == max(R.model.gesture.hold_ms, SAFETY["d1_play_pause"]["hold_ms"])
    d = Driver(step_ms=10)
    d.step(0.05)
    d.hold(deck=1)
    start = d.t
    cand = d.step(0.05)
    assert cand["mode"] == "gesture_candidate"
    assert cand["gesture_intent"] == {"name": "left_hand_raise", "confidence": 0.9, "deck": 1,
                                      "command": "d1_play_pause"}
    while d.t - start < D1.hold_ms:
        assert d.step(0.05)["mode"] == "gesture_candidate"
    assert d.step(0.05)["mode"] == "gesture_confirmed"


def test_confidence_below_the_command_threshold_never_confirms():
    d = Driver()
    d.step(0.05)
    d.hold(confidence=(R.model.gesture.candidate_min_confidence + D1.threshold) / 2)
    d.step(0.05, n=40)
    assert set(d.modes()[1:]) == {"gesture_candidate"}


def test_flicker_and_release_before_the_hold_fall_back():
    d = Driver()
    d.step(0.05)
    d.hold()
    d.step(0.05, n=2)
    d.release()
    d.step(0.05)
    assert d.mode == "present_still"
    d.step(0.5)
    d.hold()
    d.step(0.5, n=2)
    d.release()
    assert d.step(0.5)["mode"] == "active"
    assert "gesture_confirmed" not in d.modes()


def test_silence_counts_as_release():
    d = Driver()
    d.step(0.05)
    d.f.gesture(gesture(d.t, phase="start"))
    d.step(0.05)
    assert d.mode == "gesture_candidate"
    d.step(0.05, n=R.model.gesture.release_after_ms // d.step_ms + 2)
    assert d.mode == "present_still" and "gesture_confirmed" not in d.modes()


def test_only_confirm_machines_confirm():
    assert "Mac4" not in R.model.gesture.confirm_machines
    d = Driver()
    d.step(0.05)
    d.hold(machine="Mac4", source_id="mac4_mega_rgb")
    d.step(0.05, n=60)
    assert "gesture_candidate" in d.modes() and "gesture_confirmed" not in d.modes()


def test_present_still_accepts_only_held_gestures_active_accepts_any():
    d = Driver()
    d.step(0.05)
    d.f.gesture(gesture(d.t))  # no phase: not a deliberate hold
    assert d.step(0.05)["mode"] == "present_still"
    d.step(0.5)
    d.f.gesture(gesture(d.t))
    assert d.step(0.5)["mode"] == "gesture_candidate"


def test_no_gesture_from_absent_or_burst():
    f = Fusion()
    f.gesture(gesture(0, phase="start"))
    assert tick(f, 0)["mode"] == "absent"
    d = Driver()
    d.step(0.5)
    d.step(0.95)
    assert d.mode == "burst"
    d.hold()
    d.step(0.95, n=30)
    assert set(d.modes()[2:]) == {"burst"}


def test_confirmed_ends_after_confirmed_max_and_needs_a_release_before_the_next_one():
    d = Driver()
    d.step(0.05)
    d.hold()
    d.step(0.05, n=(D1.hold_ms + R.model.gesture.confirmed_max_ms) // d.step_ms + 20)
    modes = d.modes()
    first = modes.index("gesture_confirmed")
    confirmed = modes.count("gesture_confirmed")
    assert confirmed * d.step_ms <= R.model.gesture.confirmed_max_ms + d.step_ms
    assert modes[-1] == "present_still" and modes[first:].count("gesture_candidate") == 0  # no spam
    d.release()
    d.step(0.05)
    d.hold()
    assert d.step(0.05)["mode"] == "gesture_candidate"  # a new hold may start after the release


def test_tracking_lost_drops_the_gesture_and_locks_it_out():
    d = Driver()
    d.step(0.05)
    d.hold()
    d.step(0.05, n=3)
    assert d.mode == "gesture_candidate"
    d.step(None, n=R.model.timing.tracking_lost_after_ms // d.step_ms + 2)  # body gone, gesture still "held"
    assert d.mode == "tracking_lost"
    assert all(fr["gesture_intent"]["command"] is None for fr in d.frames if fr["mode"] == "tracking_lost")
    d.step(0.05, n=40)  # back, still holding the same gesture: it must be released first
    assert "gesture_confirmed" not in d.modes()


# ---------------------------------------------------------------- the modes table
def test_every_allowed_transition_is_reachable_and_nothing_else_happens():
    d = Driver(step_ms=33)
    gone = R.model.timing.absent_after_ms // 33 + 2
    lost = R.model.timing.tracking_lost_after_ms // 33 + 2
    hold = D1.hold_ms // 33 + 2
    d.step(0.05)                                  # absent -> present_still
    d.step(0.5)                                   # -> active
    d.step(0.05)                                  # -> present_still
    d.step(None, n=lost)                          # -> tracking_lost
    d.step(0.05)                                  # tracking_lost -> present_still
    d.step(0.5)
    d.step(None, n=lost)                          # active -> tracking_lost
    d.step(0.5)                                   # tracking_lost -> active
    d.step(0.9)                                   # -> burst
    d.step(None, n=lost)                          # burst -> tracking_lost
    d.step(None, n=gone)                          # -> absent
    d.step(0.5)                                   # absent -> active
    d.step(0.9)
    d.step(0.3)                                   # burst -> active
    d.f.gesture(gesture(d.t))
    d.step(0.3)                                   # active -> gesture_candidate
    d.release()
    d.step(0.3)                                   # candidate -> active
    d.step(0.05)
    d.hold()
    d.step(0.05)                                  # present_still -> candidate
    d.release()
    d.step(0.05)                                  # candidate -> present_still
    d.hold()
    d.step(0.05, n=hold)                          # -> candidate -> confirmed
    d.release()
    d.step(0.05)                                  # confirmed -> present_still
    d.step(0.3)
    d.hold()
    d.step(0.3, n=hold)                           # active -> candidate -> confirmed
    d.release()
    d.step(0.3)                                   # confirmed -> active
    d.hold()
    d.step(0.3)
    d.step(None, n=lost)                          # candidate -> tracking_lost
    d.release()
    d.step(0.05)
    d.hold()
    d.step(0.05, n=hold)
    d.step(None, n=lost)                          # confirmed -> tracking_lost
    seen = d.transitions()
    assert seen == set(MODES.allowed), (set(MODES.allowed) - seen, seen - set(MODES.allowed))
    assert not seen & MODES.forbidden


def test_fusion_refuses_a_transition_the_table_does_not_allow():
    data = copy.deepcopy(contracts.get("body_truth_modes.v0").table_data())
    data["transitions"] = [t for t in data["transitions"] if (t["from"], t["to"]) != ("active", "burst")]
    d = Driver(Fusion(modes=data))
    d.step(0.5)
    with pytest.raises(IllegalTransition, match="active -> burst"):
        d.step(0.95)


def test_rules_are_data():
    rules = copy.deepcopy(contracts.get("body_truth_rules.v0").table_data())
    rules["presence"]["min_confidence"] = 0.95
    f = Fusion(rules=rules)
    f.observe(obs(0, confidence=0.9))
    assert tick(f, 0)["present"] is False


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad, field", [
    ({"confidence": 1.5}, "$.confidence"),
    ({"source": "lidar"}, "$.source"),
    ({"center": {"x": float("nan"), "y": 0.0, "z": 0.0}}, "$.center.x"),
    ({"unexpected": 1}, "$"),
])
def test_bad_observations_raise_naming_the_field_and_contract(bad, field):
    f = Fusion()
    f.observe(obs(0, confidence=0.9))
    before = tick(f, 10)
    with pytest.raises(ValueError) as err:
        f.observe({**obs(5, confidence=0.2), **bad})
    assert isinstance(err.value, InputRejected)
    assert field in str(err.value) and "body_observation.v1" in str(err.value)
    assert tick(f, 10) == before  # nothing changed


def test_bad_gesture_raises_naming_the_field_and_contract():
    with pytest.raises(ValueError, match=r"\$.machine: .*gesture_event.v1"):
        Fusion().gesture(gesture(0, machine="Mac9"))
    with pytest.raises(ValueError, match=r"gesture #0: .*gesture_event.v1"):
        replay([obs(0)], [{"label": "x"}])


def test_replay_is_deterministic_and_ends_absent():
    stream = [obs(i * 40, confidence=0.8, motion_energy=0.3) for i in range(30)]
    a, b = replay(stream), replay(list(stream))
    assert a == b and a[-1]["mode"] == "absent"
    assert a[0]["timestamp"] == T0 and a[1]["timestamp"] - a[0]["timestamp"] == 33
    assert replay([]) == []
