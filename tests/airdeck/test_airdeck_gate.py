"""The gate, one invariant at a time, on frames built from the body_truth.v0 contract."""
from __future__ import annotations

import pytest
from airdeck_helpers import T0, all_promoted_rules, event, frame, frames_for, gate, held, rules

from lume.runtime.airdeck import Authority, DispatchGate, PromotedManifest, audit, replay
from lume.runtime.core import get, problems

DECISION = get("airdeck_decision.v1")


def run(events, frames=None, g=None, **kw):
    g = g or gate(**kw)
    decisions = replay(g, events, frames_for(events) if frames is None else frames)
    for d in decisions:  # every decision is a valid log line
        assert problems(d.to_record(), DECISION) == [], d
    return decisions


def dispatched(decisions):
    return [d for d in decisions if d.dispatched]


def test_held_left_hand_raise_dispatches_exactly_one_d1_play_pause():
    decisions = run(held("left_hand_raise", T0, 2000))
    (d,) = dispatched(decisions)
    assert (d.command, d.deck, d.invariant) == ("d1_play_pause", 1, None)
    assert d.timestamp_ms - T0 >= rules().commands["d1_play_pause"]["hold_ms"]
    assert [m[1].hex() for m in d.midi] == ["900b7f", "900b00"]
    # the rest of the hold is refused as already dispatched, the release asks for nothing
    assert {x.invariant for x in decisions if not x.dispatched and x.phase != "release"} == {"SAFE-CMD-HOLD"}
    assert decisions[-1].phase == "release" and decisions[-1].invariant is None
    assert audit([x.to_record() for x in decisions], rules()) == []


def test_left_and_right_stay_distinct():
    decisions = run(held("left_hand_raise", T0, 600) + held("right_hand_raise", T0 + 1000, 600))
    assert [(d.command, d.deck) for d in dispatched(decisions)] == [("d1_play_pause", 1),
                                                                     ("d2_play_pause", 2)]
    assert [m[1].hex() for m in dispatched(decisions)[1].midi] == ["910b7f", "910b00"]


def test_a_flicker_of_one_or_two_frames_never_dispatches():
    for frames_seen in (1, 2):
        events = [event(T0 + 33 * i, phase="start" if i == 0 else "hold") for i in range(frames_seen)]
        events.append(event(T0 + 33 * frames_seen, phase="release"))
        assert dispatched(run(events)) == []


def test_hold_restarts_after_a_gap_longer_than_release_after_ms():
    gap = rules().release_after_ms + 1
    events = [event(T0, phase="start"), event(T0 + 200), event(T0 + 200 + gap),
              event(T0 + 200 + gap + 200)]
    decisions = run(events)
    assert dispatched(decisions) == []
    assert decisions[-1].reason.endswith("held 200 ms of 400 ms")


def test_repeated_events_without_phase_count_as_a_hold():
    events = [event(T0 + 50 * i, phase=None) for i in range(12)]
    assert len(dispatched(run(events))) == 1


def test_label_change_resets_the_hold():
    events = []
    for i in range(20):  # one source alternating left and right: never a deliberate hold
        events.append(event(T0 + 40 * i, "left_hand_raise" if i % 2 else "right_hand_raise"))
    assert dispatched(run(events)) == []


@pytest.mark.parametrize("mode", ["absent", "tracking_lost"])
def test_no_dispatch_while_absent_or_tracking_lost(mode):
    events = held("left_hand_raise", T0, 1500)
    decisions = run(events, frames_for(events, mode))
    assert dispatched(decisions) == []
    assert {d.invariant for d in decisions if d.phase != "release"} == {"SAFE-CMD-PRESENCE"}


def test_no_bodytruth_or_stale_bodytruth_refuses():
    events = held("left_hand_raise", T0, 1000)
    assert {d.invariant for d in run(events, []) if d.phase != "release"} == {"SAFE-CMD-PRESENCE"}
    stale = rules().max_body_truth_age_ms + 1
    old = [frame(T0 - stale)]
    decisions = run([event(T0, phase="start")], old)
    assert decisions[0].invariant == "SAFE-CMD-PRESENCE" and "ms old" in decisions[0].reason


def test_below_threshold_refuses_and_resets_the_hold():
    threshold = rules().commands["d1_play_pause"]["threshold"]
    events = held("left_hand_raise", T0, 1000, confidence=threshold - 0.01)
    decisions = run(events)
    assert dispatched(decisions) == []
    assert {d.invariant for d in decisions if d.phase != "release"} == {"SAFE-CMD-THRESHOLD"}
    # BodyTruth's own intent confidence counts too (the lower of the two)
    events = held("left_hand_raise", T0, 1000)
    assert dispatched(run(events, frames_for(events, intent_confidence=threshold - 0.01))) == []


def test_bodytruth_must_confirm_this_gesture():
    events = held("left_hand_raise", T0, 1000)
    decisions = run(events, frames_for(events, "active"))
    assert dispatched(decisions) == []
    assert any("does not allow commands" in d.reason for d in decisions)
    other = [frame(e["timestamp_ms"] - 5, intent="right_hand_raise") for e in events]
    decisions = run(events, other)
    assert dispatched(decisions) == []
    assert any("confirms right_hand_raise" in d.reason for d in decisions)


def test_cooldown_blocks_a_double_trigger_and_spends_the_hold():
    cooldown = rules().commands["d1_play_pause"]["cooldown_ms"]
    events = held("left_hand_raise", T0, 500) + held("left_hand_raise", T0 + 1000, cooldown + 1000)
    decisions = run(events)
    (d,) = dispatched(decisions)  # the second hold reaches its time inside the cooldown: spent
    assert d.timestamp_ms < T0 + 1000
    assert "SAFE-CMD-COOLDOWN" in {x.invariant for x in decisions}
    # after the cooldown a fresh hold dispatches again
    later = held("left_hand_raise", T0 + cooldown + 1000, 600)
    assert len(dispatched(run(events + later))) == 2


def test_safe_stop_locks_everything_until_the_operator_rearms():
    g = gate()
    stop = held("safe_stop_rehearsal", T0, 600)
    after = held("left_hand_raise", T0 + 2000, 800)
    decisions = replay(g, stop + after, frames_for(stop + after))
    assert [d.command for d in dispatched(decisions)] == ["safe_stop_rehearsal"]
    assert dispatched(decisions)[0].midi is None  # gate-internal: nothing sent
    assert g.locked and decisions[-1].locked
    assert {d.invariant for d in decisions if d.timestamp_ms >= T0 + 2000 and d.phase != "release"} \
        == {"SAFE-SAFE-STOP-LOCK"}
    # a second safe stop or any gesture cannot re-arm; only rearm() does
    more = held("left_hand_raise", T0 + 5000, 800)
    g.rearm()
    assert [d.command for d in dispatched(replay(g, more, frames_for(more)))] == ["d1_play_pause"]


def test_gate_can_start_locked():
    events = held("left_hand_raise", T0, 800)
    assert dispatched(run(events, g=gate(locked=True))) == []


@pytest.mark.parametrize("machine", ["Mac4", "Mac5", "Mac2", "MotionMix"])
def test_events_from_other_machines_are_refused(machine):
    decisions = run(held("left_hand_raise", T0, 800, machine=machine))
    assert dispatched(decisions) == []
    assert {d.invariant for d in decisions} <= {"SAFE-NEVER-COMMAND", "SAFE-LIVE-SOURCE-FILTER"}


@pytest.mark.parametrize(("source_id", "invariant"), [
    ("mac2_insta360_room_wide", "SAFE-LIVE-SOURCE-FILTER"),
    ("k11_room_wide", "SAFE-LIVE-SOURCE-FILTER"),
    ("k11_recorded_pose", "SAFE-LIVE-SOURCE-FILTER"),
    ("mac5_sam3d_pose", "SAFE-NEVER-COMMAND"),
    ("k11_mocopi", "SAFE-NEVER-COMMAND"),
    ("k11_unity_bridge", "SAFE-NEVER-COMMAND"),
    ("k11_webcam_raw", "SAFE-NEVER-COMMAND"),
    ("k11_motionmix", "SAFE-NEVER-COMMAND"),
    ("k11_webcam", "SAFE-LIVE-SOURCE-FILTER"),  # unknown kind: the filter fails closed
])
def test_live_source_filter(source_id, invariant):
    decisions = run(held("left_hand_raise", T0, 800, source_id=source_id))
    assert dispatched(decisions) == []
    assert {d.invariant for d in decisions} == {invariant}


@pytest.mark.parametrize("label", ["scratch", "loop_toggle", "sync", "next_track", "cue",
                                   "wave_color", "present_still", "bad_false_reactive", "no_such_label"])
def test_candidates_and_non_command_labels_are_never_dispatched(label):
    decisions = run(held(label, T0, 1500, deck=1))
    assert dispatched(decisions) == []
    assert {d.invariant for d in decisions} == {"SAFE-CMD-PROMOTED"}


def test_deck_mismatch_is_refused():
    decisions = run(held("left_hand_raise", T0, 800, deck=2))
    assert dispatched(decisions) == [] and "deck 1" in decisions[0].reason


def test_non_k11_authority_never_dispatches():
    r = rules()
    for authority in (Authority("Mac5", False), Authority("Mac4", True), Authority("K11", False),
                      Authority(None, False), Authority.from_config(None)):
        g = DispatchGate(authority, r)
        decisions = run(held("left_hand_raise", T0, 800), g=g)
        assert dispatched(decisions) == []
        assert {d.invariant for d in decisions} == {"SAFE-AUTHORITY-K11"}


def test_destructive_commands_never_in_burst():
    r = all_promoted_rules()
    events = held("loop_toggle", T0, 1000, deck=1)
    burst = run(events, frames_for(events, "burst"), g=gate(rules=r))
    assert dispatched(burst) == []
    assert "SAFE-BURST-NONDESTRUCTIVE" in {d.invariant for d in burst}
    calm = run(events, g=gate(rules=r))
    assert [d.command for d in dispatched(calm)] == ["loop_toggle"]
    # a burst window reported by a burst_high_energy event blocks too
    window = [event(T0 - 10, "burst_high_energy", "start", machine="Mac4",
                    source_id="mac4_mega_rgb")] + events
    assert dispatched(run(window, frames_for(events), g=gate(rules=r))) == []


def test_non_destructive_play_pause_is_allowed_in_burst_once_confirmed():
    # burst is a mode BodyTruth never confirms commands in, so even play/pause waits
    events = held("left_hand_raise", T0, 800)
    assert dispatched(run(events, frames_for(events, "burst"))) == []


def test_manifest_restricts_and_tightens():
    data = get("airdeck_promoted_gestures.v1").examples[0]
    manifest = PromotedManifest.from_data(data)
    # right_hand_raise: manifest threshold 0.85 > contract 0.8, hold 450 > 400
    decisions = run(held("right_hand_raise", T0, 1000, confidence=0.82), g=gate(manifest))
    assert dispatched(decisions) == []
    assert "SAFE-CMD-THRESHOLD" in {d.invariant for d in decisions}
    decisions = run(held("right_hand_raise", T0, 1000, confidence=0.9), g=gate(manifest))
    (d,) = dispatched(decisions)
    assert d.timestamp_ms - T0 >= 450
    only_left = PromotedManifest.from_data({**data, "gestures": data["gestures"][:1]})
    decisions = run(held("right_hand_raise", T0, 1000), g=gate(only_left))
    assert dispatched(decisions) == [] and "not in the promoted manifest" in decisions[0].reason
    # the safe stop is honoured even when a manifest does not list it: it only ever locks
    stop = held("safe_stop_rehearsal", T0, 600)
    assert [d.command for d in dispatched(run(stop, g=gate(only_left)))] == ["safe_stop_rehearsal"]


def test_decisions_are_pure_functions_of_the_stream():
    events = held("left_hand_raise", T0, 900) + held("right_hand_raise", T0 + 1200, 900)
    a = [d.to_record() for d in run(events)]
    b = [d.to_record() for d in run(events)]
    assert a == b
