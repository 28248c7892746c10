"""Properties of fusion over arbitrary observation and gesture streams (hypothesis); the
strategies are lume.verifiers._strategies, the ones `lume verify` draws from."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.bodytruth import compile_rules, frame_problems, mode_table, replay

# One definition of the streams, shared with the safety.bodytruth.properties verifier.
from lume.verifiers._strategies import T0, dense, gestures_of, observation, ticks

R = compile_rules()
MODES = mode_table()
GESTURE_MODES = {"gesture_candidate", "gesture_confirmed"}


def check_frames(frames):
    prev = MODES.initial
    for f in frames:
        assert frame_problems(f) == [], f
        assert MODES.is_allowed(prev, f["mode"]), (prev, f["mode"])
        prev = f["mode"]
        if not f["present"]:
            assert f["mode"] not in GESTURE_MODES
            assert f["burst"] == 0.0
        if f["mode"] == "burst":
            assert f["present"]
        if f["mode"] in ("tracking_lost", "absent"):
            assert f["gesture_intent"] == {"name": "none", "confidence": 0.0, "deck": None, "command": None}
        if f["confidence"] > R.model.output.presence_only_confidence_cap:
            assert f["present"] or f["mode"] == "tracking_lost"


@given(dense(observation()), gestures_of(), ticks)
def test_any_stream_gives_valid_frames_and_allowed_transitions(observations, gestures, tick_ms):
    check_frames(replay(observations, gestures, tick_ms=tick_ms))


@given(dense(observation(max_energy=R.model.motion.still_max_motion_energy * 0.999), R.model.motion.still_max_motion_energy * 0.999), gestures_of(), ticks,
       st.lists(st.floats(0, 1, allow_nan=False), max_size=40))
def test_a_still_stream_never_bursts(observations, gestures, tick_ms, depth_shimmer):
    # depth shimmer may be anything: depth motion energy never counts
    shimmer = [{"timestamp_ms": T0 + 100 * i, "source": "depth", "source_id": "mac4_mega_depth",
                "present": True, "confidence": 0.9, "motion_energy": e} for i, e in enumerate(depth_shimmer)]
    frames = replay(observations + shimmer, gestures, tick_ms=tick_ms)
    check_frames(frames)
    assert all(f["mode"] != "burst" and f["burst"] == 0.0 for f in frames)


@given(dense(observation()), gestures_of(("Mac4", "MotionMix")), ticks)
def test_only_confirm_machines_reach_gesture_confirmed(observations, gestures, tick_ms):
    assert not set(R.model.gesture.confirm_machines) & {"Mac4", "MotionMix"}
    frames = replay(observations, gestures, tick_ms=tick_ms)
    check_frames(frames)
    assert all(f["mode"] != "gesture_confirmed" for f in frames)


@given(gestures_of(), ticks)
def test_gestures_without_a_body_never_leave_absent(gestures, tick_ms):
    nobody = [{"timestamp_ms": T0, "source": "rgb", "source_id": "cam_a", "present": False, "confidence": 0.1}]
    frames = replay(nobody, gestures, tick_ms=tick_ms)
    assert {f["mode"] for f in frames} == {"absent"}
