"""Seed 003 section 10 success criteria, replayed on the shipped scenario fixtures."""
from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path

import pytest

from lume.fixtures import SCENARIOS, load_scenario, stale
from lume.runtime import core as contracts
from lume.runtime.bodytruth import compile_rules, frame_problems, replay, summarize

R = compile_rules()
TICK = 33
FOLDER = Path(str(resources.files("lume.fixtures"))) / "scenarios"


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name in SCENARIOS:
        obs, gestures = load_scenario(name)
        frames = replay(obs, gestures, tick_ms=TICK)
        out[name] = (obs, gestures, frames, summarize(frames, tick_ms=TICK))
    return out


def _during(frames, obs, start=0, stop=None):
    """Frames while the stream still has data (between `start` and `stop` ms after the first record)."""
    t0 = min(o["timestamp_ms"] for o in obs)
    last = max(o["timestamp_ms"] for o in obs)
    hi = t0 + stop if stop is not None else last
    return [f for f in frames if t0 + start <= f["timestamp"] <= hi]


def _runs_of(modes):
    return [m for m, _ in itertools.groupby(modes)]


def test_fixtures_are_current_and_valid():
    assert stale(FOLDER) == [], "run `lume bodytruth scenarios` and commit fixtures/scenarios"
    for path in sorted(FOLDER.glob("*.jsonl")):
        result = contracts.validate_file(path)
        assert result.ok and result.contract in ("body_observation.v1", "gesture_event.v1"), result
    assert sum(p.stat().st_size for p in FOLDER.glob("*.jsonl")) < 400_000  # kept small


def test_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        load_scenario("nope")


def test_every_frame_is_valid_and_every_change_is_allowed(runs):
    for name, (_, _, frames, summary) in runs.items():
        assert all(frame_problems(f) == [] for f in frames), name
        assert summary["illegal_transitions"] == [], name
        assert frames[-1]["mode"] == "absent", name  # every stream ends with nobody there


def test_still_performer_with_noisy_depth_never_bursts(runs):
    obs, _, frames, summary = runs["still_noisy_depth"]
    assert max(o["motion_energy"] for o in obs if o["source"] == "depth") > R.model.motion.burst_min_motion_energy  # the shimmer is real
    live = _during(frames, obs)
    assert {f["mode"] for f in live} == {"present_still"}
    assert all(f["burst"] == 0.0 for f in frames) and summary["time_in_mode_ms"]["burst"] == 0
    assert all(f["confidence"] >= R.model.high_confidence.min_confidence and f["authority"] == "rgb_depth" for f in live[3:])


def test_active_dancer_is_active_and_moving_without_burst(runs):
    obs, _, frames, _ = runs["active_dancer"]
    live = _during(frames, obs, start=200)
    assert sum(f["mode"] == "active" for f in live) / len(live) >= 0.9
    assert "burst" not in {f["mode"] for f in frames}
    assert all(f["velocity"] > 0 and f["confidence"] >= R.model.high_confidence.min_confidence for f in live)


def test_burst_is_entered_from_active_while_present_and_left_again(runs):
    _, _, frames, summary = runs["burst"]
    assert ["active", "burst", "active"] == _runs_of(f["mode"] for f in frames if f["present"])
    bursts = [f for f in frames if f["mode"] == "burst"]
    assert bursts and all(f["present"] and f["burst"] > 0.5 for f in bursts)
    assert summary["transition_counts"]["active->burst"] == 1
    assert summary["commands_allowed"] == []


def test_leaving_frame_goes_tracking_lost_then_absent_without_command_spam(runs):
    obs, _, frames, summary = runs["leaving_frame"]
    runs_ = _runs_of(f["mode"] for f in frames)
    assert runs_[-2:] == ["tracking_lost", "absent"] and runs_.count("tracking_lost") == 1
    lost_at = next(f["timestamp"] for f in frames if f["mode"] == "tracking_lost")
    absent_at = next(f["timestamp"] for f in frames if f["mode"] == "absent" and f["timestamp"] > lost_at)
    last_trusted = max(o["timestamp_ms"] for o in obs if o["present"] and o["confidence"] >= R.model.presence.min_confidence
                       and R.sources[o["source"]].human_source)
    # lost as soon as no source's newest reading is trusted, at the latest when the last one is stale
    assert last_trusted < lost_at <= last_trusted + R.model.timing.tracking_lost_after_ms + TICK
    assert last_trusted + R.model.timing.absent_after_ms < absent_at <= last_trusted + R.model.timing.absent_after_ms + TICK
    assert summary["commands_allowed"] == []
    assert all(f["gesture_intent"]["command"] is None for f in frames)


def test_seated_and_torso_only_stay_present(runs):
    obs, _, frames, _ = runs["seated_torso_only"]
    live = _during(frames, obs)
    assert all(f["present"] for f in live)
    seated = _during(frames, obs, start=100, stop=2900)
    torso = _during(frames, obs, start=3300)
    assert all(f["seated"] and f["posture"] == "seated" for f in seated)
    assert all(f["posture"] == "torso_only" and not f["seated"] for f in torso)


def test_mocopi_alone_is_a_trusted_body(runs):
    obs, _, frames, _ = runs["mocopi_only"]
    live = _during(frames, obs)
    assert all(f["present"] and f["confidence"] >= R.model.high_confidence.min_confidence and f["authority"] == "mocopi" for f in live)
    assert all(f["sources"][s]["fresh_ms"] is None for f in live for s in R.slots if s != "mocopi")


def test_two_cameras_make_high_confidence_and_room_wide_evidence_never_counts(runs):
    obs, _, frames, _ = runs["two_cameras"]
    assert any(o["source_id"] in R.model.evidence_only_source_ids for o in obs)
    both = _during(frames, obs, start=300, stop=3400)
    assert all(f["confidence"] >= R.model.high_confidence.min_confidence and f["authority"] == "rgb_k11_pose" for f in both)
    alone = _during(frames, obs, start=3500 + R.fresh_ms["rgb"] + TICK, stop=4900)
    assert alone and all(f["confidence"] <= R.model.output.presence_only_confidence_cap and f["authority"] == "k11_pose" for f in alone)


def test_gesture_hold_release_yields_exactly_one_command(runs):
    obs, gestures, frames, summary = runs["gesture_hold_release"]
    [cmd] = summary["commands_allowed"]
    assert (cmd["command"], cmd["label"], cmd["deck"]) == ("d1_play_pause", "left_hand_raise", 1)
    hold = R.gesture_command("left_hand_raise").hold_ms
    candidate_at = next(f["timestamp"] for f in frames if f["mode"] == "gesture_candidate")
    assert cmd["timestamp"] - candidate_at >= hold
    assert summary["transition_counts"]["present_still->gesture_candidate"] == 3  # hold, flicker, Mac4
    assert summary["transition_counts"]["gesture_candidate->gesture_confirmed"] == 1
    confirmed_ms = summary["time_in_mode_ms"]["gesture_confirmed"]
    assert confirmed_ms <= R.model.gesture.confirmed_max_ms + TICK
    mac4 = min(g["timestamp_ms"] for g in gestures if g["machine"] == "Mac4")
    assert all(f["mode"] != "gesture_confirmed" for f in frames if f["timestamp"] >= mac4)
