"""Properties of fusion over arbitrary observation and gesture streams (hypothesis)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.bodytruth import compile_rules, frame_problems, mode_table, replay

R = compile_rules()
MODES = mode_table()
GESTURE_MODES = {"gesture_candidate", "gesture_confirmed"}
KINDS = sorted(R.sources)
SOURCE_IDS = ["cam_a", "cam_b", "k11_webcam_pose", "mac4_mocopi", *sorted(R.model.evidence_only_source_ids)]
LABELS = ["left_hand_raise", "right_hand_raise", "wave_color", "loop_toggle", "made_up_label"]
T0 = 1_779_639_000_000

unit = st.floats(0, 1, allow_nan=False)
vec = st.fixed_dictionaries({k: st.floats(-5, 5, allow_nan=False) for k in "xyz"})


@st.composite
def observation(draw, max_energy: float = 1.0):
    o = {
        "timestamp_ms": T0 + draw(st.integers(0, 4000)),
        "source": draw(st.sampled_from(KINDS)),
        "source_id": draw(st.sampled_from(SOURCE_IDS)),
        "present": draw(st.booleans()),
        "confidence": draw(unit),
    }
    if draw(st.booleans()):
        o["motion_energy"] = draw(st.floats(0, max_energy, allow_nan=False))
    if draw(st.booleans()):
        o["posture"] = draw(st.sampled_from(["upright", "seated", "torso_only", "unknown"]))
    if draw(st.booleans()):
        o["joint_count"] = draw(st.integers(0, 40))
    if draw(st.booleans()):
        o["center"] = draw(vec)
    if draw(st.booleans()):
        o["bounds"] = draw(vec)
    return o


@st.composite
def gesture_event(draw, machines=("K11", "Mac4", "MotionMix")):
    g = {
        "timestamp_ms": T0 + draw(st.integers(0, 4000)),
        "source_id": draw(st.sampled_from(SOURCE_IDS)),
        "machine": draw(st.sampled_from(machines)),
        "label": draw(st.sampled_from(LABELS)),
        "confidence": draw(unit),
    }
    if draw(st.booleans()):
        g["phase"] = draw(st.sampled_from(["start", "hold", "release"]))
    if draw(st.booleans()):
        g["deck"] = draw(st.sampled_from([1, 2]))
    return g


@st.composite
def performer(draw, max_energy: float = 1.0):
    """A steady K11-pose track with energy segments, so presence, burst and gestures are reached."""
    out, t = [], draw(st.integers(0, 500))
    for _ in range(draw(st.integers(1, 4))):
        energy = draw(st.floats(0, max_energy, allow_nan=False))
        for _ in range(draw(st.integers(1, 15))):
            out.append({"timestamp_ms": T0 + t, "source": "k11_pose", "source_id": "k11_webcam_pose",
                        "present": True, "confidence": draw(st.floats(0.5, 1, allow_nan=False)),
                        "motion_energy": energy})
            t += draw(st.integers(20, 150))
    return out


@st.composite
def held_gestures(draw, machines=("K11", "Mac4", "MotionMix")):
    """A few held gestures: start, holds every 20-200 ms, maybe a release."""
    out = []
    for _ in range(draw(st.integers(0, 3))):
        t = draw(st.integers(0, 2000))
        g = {"source_id": "k11_webcam_pose", "machine": draw(st.sampled_from(machines)),
             "label": draw(st.sampled_from(LABELS))}
        conf = draw(st.floats(0.5, 1, allow_nan=False))  # a deliberate hold keeps its confidence
        for i in range(draw(st.integers(1, 20))):
            out.append({**g, "timestamp_ms": T0 + t, "confidence": conf,
                        "phase": "start" if i == 0 else "hold"})
            t += draw(st.integers(20, 200))
        if draw(st.booleans()):
            out.append({**g, "timestamp_ms": T0 + t, "confidence": 0.2, "phase": "release"})
    return out


def dense(draw_obs, max_energy: float = 1.0):
    """Random readings plus a steady performer track (so the gesture and burst paths are exercised)."""
    return st.builds(lambda a, b: a + b, st.lists(draw_obs, max_size=60), performer(max_energy))


def gestures_of(machines=("K11", "Mac4", "MotionMix")):
    return st.builds(lambda a, b: a + b, st.lists(gesture_event(machines), max_size=20), held_gestures(machines))


ticks = st.sampled_from([17, 33, 100])


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
