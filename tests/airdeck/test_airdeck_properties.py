"""Hypothesis properties of the gate over arbitrary event and BodyTruth streams.

The streams (lume.verifiers._strategies, the same the `safety.airdeck.properties` verifier
draws) are biased towards what could dispatch (K11 pose source, promoted labels, confirming
frames, timings at the contract's limits) so the properties are exercised, not vacuous; the
rules the properties check against are read from the contracts, independently of the gate's
own flattening.
"""
from __future__ import annotations

from airdeck_helpers import T0, all_promoted_rules, gate, rules
from hypothesis import example, given, note, target
from hypothesis import strategies as st

from lume.runtime.airdeck import Authority, DispatchGate, audit
from lume.runtime.core import get
from lume.verifiers._prop_airdeck import decide_all as replay_decisions
from lume.verifiers._prop_airdeck import known_streams
from lume.verifiers._strategies import gate_streams

LABELS = get("labels.v1").table_data()["labels"]
ROWS = {row["name"]: row for row in LABELS}
COMMANDS = get("safety_invariants.v1").table_data()["commands"]
INVARIANTS = {i["id"]: i["parameters"] for i in get("safety_invariants.v1").table_data()["invariants"]}
MACHINES = get("common.v1").raw["$defs"]["Machine"]["enum"]
SAFE_STOP = INVARIANTS["SAFE-SAFE-STOP-LOCK"]["label"]


def streams(labels=None, max_size=None, common=None):
    """(events, frames) made of gesture attempts (the strategy the verifier draws from)."""
    return gate_streams(labels=labels, common=common, max_segments=max_size)


# Streams known to dispatch, so no property can pass vacuously (the verifier's explicit examples).
KNOWN = known_streams()
DISPATCHING, SAFE_STOP_STREAM, BURSTING = KNOWN["double"], KNOWN["safe_stop"], KNOWN["burst"]


def decide_all(g, events, frames, *, steer=True):
    """The verifier's replay (frames interleaved by time, each event after the frames before it),
    steering generation towards streams that dispatch (targeted property-based testing)."""
    out = replay_decisions(g, events, frames)
    if steer:
        target(float(sum(d.dispatched for d in out)), label="dispatches")
    return out


def command_of(label):
    row = ROWS[label] if label in ROWS else ROWS[next(r["name"] for r in LABELS if label in r["aliases"])]
    return ROWS[row["gesture"]] if row["gesture"] else row


@given(streams())
@example(DISPATCHING)
def test_no_dispatch_while_absent_tracking_lost_stale_or_below_threshold(stream):
    events, frames = stream
    presence = INVARIANTS["SAFE-CMD-PRESENCE"]
    for d in decide_all(gate(), events, frames):
        if not d.dispatched:
            continue
        f = d.frame
        assert f is not None and f["present"] is presence["present"]
        assert f["tracking_lost"] is presence["tracking_lost"]
        assert f["mode"] not in presence["lockout_modes"]
        assert d.timestamp_ms - f["timestamp"] <= presence["max_body_truth_age_ms"]
        threshold = COMMANDS[d.command]["threshold"]
        assert d.confidence >= threshold
        if f["gesture_intent"]["name"] == d.label:
            assert f["gesture_intent"]["confidence"] >= threshold


@given(streams())
@example(DISPATCHING)
def test_never_two_dispatches_of_one_command_inside_its_cooldown(stream):
    last: dict = {}
    for d in decide_all(gate(), *stream):
        if d.dispatched:
            key = (d.command, d.deck)
            if key in last:
                assert d.timestamp_ms - last[key] >= COMMANDS[d.command]["cooldown_ms"]
            last[key] = d.timestamp_ms


@given(streams(labels=[r["name"] for r in LABELS if r["lane"] == "command"],
               common=[r["name"] for r in LABELS if r["destructive"]]))
@example(BURSTING)
def test_never_a_destructive_command_in_burst(stream):
    # every candidate promoted, so destructive commands can be dispatched at all
    blocked = INVARIANTS["SAFE-BURST-NONDESTRUCTIVE"]["blocked_modes"]
    decisions = decide_all(gate(rules=all_promoted_rules()), *stream)
    for d in decisions:
        if d.dispatched and COMMANDS[d.command]["destructive"]:
            assert d.frame["mode"] not in blocked
    note(f"dispatched: {[d.command for d in decisions if d.dispatched]}")


@given(streams(), st.sampled_from([m for m in MACHINES]), st.booleans())
@example(DISPATCHING, "Mac5", True)
def test_never_a_dispatch_from_a_non_k11_configuration(stream, machine, can_command):
    authority = INVARIANTS["SAFE-AUTHORITY-K11"]["authority_machine"]
    if machine == authority:
        can_command = False  # K11 configured without command rights
    g = DispatchGate(Authority(machine, can_command), rules())
    decisions = decide_all(g, *stream)
    assert not any(d.dispatched for d in decisions)
    assert {d.invariant for d in decisions} == {"SAFE-AUTHORITY-K11"}


@given(streams())
@example(DISPATCHING)
def test_never_a_dispatch_of_a_non_promoted_label(stream):
    promoted = INVARIANTS["SAFE-CMD-PROMOTED"]["required_promotion_status"]
    for d in decide_all(gate(), *stream):
        if d.dispatched:
            row = ROWS.get(d.label) or next(r for r in LABELS if d.label in r["aliases"])
            assert row["promotion_status"] == promoted
            assert command_of(d.label)["promotion_status"] == promoted
            assert d.machine == "K11"
            assert d.source_id.endswith("_pose") and d.source_id.startswith("k11_")


@given(streams(max_size=4), streams(max_size=4))
@example(SAFE_STOP_STREAM, DISPATCHING)
def test_after_safe_stop_nothing_until_rearmed(first, second):
    g = gate()
    decisions = decide_all(g, *first)
    stops = [i for i, d in enumerate(decisions) if d.dispatched and d.command == SAFE_STOP]
    stopped = bool(stops)
    if stopped:
        assert not any(d.dispatched for d in decisions[stops[0] + 1:])
        assert all(d.locked for d in decisions[stops[0]:])
        assert g.locked
    # shift the second stream after the first; still locked: nothing at all
    shift = (max(e["timestamp_ms"] for e in first[0]) - T0) + 10_000
    events = [{**e, "timestamp_ms": e["timestamp_ms"] + shift} for e in second[0]]
    frames = [{**f, "timestamp": f["timestamp"] + shift} for f in second[1]]
    later = decide_all(g, events, frames, steer=False)
    if stopped:
        assert not any(d.dispatched for d in later)
        assert all(d.locked for d in later)
        g.rearm()  # the operator's re-arm opens the gate again
        assert not g.locked


@given(streams())
@example(SAFE_STOP_STREAM)
def test_the_independent_audit_agrees_with_the_gate(stream):
    records = [d.to_record() for d in decide_all(gate(), *stream)]
    assert audit(records, rules()) == []


def test_the_explicit_examples_exercise_each_property():
    d = decide_all(gate(), *DISPATCHING, steer=False)
    assert [x.command for x in d if x.dispatched] == ["d1_play_pause"]
    assert "SAFE-CMD-COOLDOWN" in {x.invariant for x in d}
    d = decide_all(gate(rules=all_promoted_rules()), *BURSTING, steer=False)
    assert [x.command for x in d if x.dispatched] == ["loop_toggle"]
    assert "SAFE-BURST-NONDESTRUCTIVE" in {x.invariant for x in d}
    d = decide_all(gate(), *SAFE_STOP_STREAM, steer=False)
    assert [x.command for x in d if x.dispatched] == ["safe_stop_rehearsal"]
    assert "SAFE-SAFE-STOP-LOCK" in {x.invariant for x in d}
