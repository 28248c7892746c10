"""Cross-file rules of the AirDeck contracts that JSON Schema cannot express, and the gate's
reading of them (labels.v1, safety_invariants.v1, airdeck_midi_map.v1, airdeck_gestures.v1,
airdeck_deck_zones.v1, airdeck_promoted_gestures.v1)."""
from __future__ import annotations

import pytest
from airdeck_helpers import table_data

from lume.runtime.airdeck import PromotedManifest, Rules, RulesError, consistency_problems, gesture_entry
from lume.runtime.core import get, problems

RULES = Rules.from_contracts()
LABELS = {r["name"]: r for r in get("labels.v1").table_data()["labels"]}
SAFETY = get("safety_invariants.v1").table_data()
FILTER = next(i for i in SAFETY["invariants"] if i["id"] == "SAFE-LIVE-SOURCE-FILTER")["parameters"]
NEVER = next(i for i in SAFETY["invariants"] if i["id"] == "SAFE-NEVER-COMMAND")["parameters"]


def test_first_targets_resolve_as_seed_000_says():
    for label, command, deck in (("left_hand_raise", "d1_play_pause", 1),
                                 ("right_hand_raise", "d2_play_pause", 2)):
        t = RULES.resolve(label, None).target
        assert (t.command, t.deck, t.internal, t.destructive) == (command, deck, False, False)
    stop = RULES.resolve("safe_stop_rehearsal", None).target
    assert stop.internal and stop.midi == ()
    for candidate in ("scratch", "loop_toggle", "sync", "next_track", "cue"):
        for deck in (None, 1, 2):
            assert RULES.resolve(candidate, deck).target is None


def test_gate_parameters_come_from_the_contract_with_its_floors():
    params = {i["id"]: i["parameters"] for i in SAFETY["invariants"]}
    for label, rule in SAFETY["commands"].items():
        assert rule["destructive"] == LABELS[label]["destructive"], label
        if RULES.resolve(label, 1).target is None:
            continue
        t = RULES.resolve(label, 1).target
        assert t.threshold == max(rule["threshold"], params["SAFE-CMD-THRESHOLD"]["min_threshold"])
        assert t.hold_ms == max(rule["hold_ms"], params["SAFE-CMD-HOLD"]["min_hold_ms"])
        floor = params["SAFE-CMD-COOLDOWN"]["min_cooldown_ms_by_action"].get(t.action, 0)
        assert t.cooldown_ms == max(rule["cooldown_ms"], floor)


def test_every_command_label_has_midi_or_is_gate_internal():
    internal = {g["label"] for g in get("airdeck_midi_map.v1").table_data()["gate_internal"]}
    rows = {(r["label"], r["deck"]) for r in get("airdeck_midi_map.v1").table_data()["rows"]}
    for name, row in LABELS.items():
        if row["command"] is None:
            continue
        if name in internal:
            assert row["command"]["action"] == "safe_stop"
            continue
        decks = [row["command"]["deck"]] if row["command"]["deck"] is not None else [1, 2]
        if name == "next_track":
            decks = [None]
        for deck in decks:
            assert (name, deck) in rows, (name, deck)


def test_recognised_gestures_are_promoted_labels_with_their_deck():
    gestures = get("airdeck_gestures.v1").table_data()
    zones = get("airdeck_deck_zones.v1").table_data()["zones"]
    for g in gestures["gestures"]:
        t = RULES.resolve(g["label"], g["deck"]).target
        assert t is not None, g["label"]
        assert t.deck == g["deck"]
        for zone in g["zones"].values():
            assert zone in zones and zones[zone]["deck"] == g["deck"]


@pytest.mark.parametrize(("source_id", "kind"), [
    ("k11_webcam_pose", "k11_pose"), ("k11_arducam_pose", "k11_pose"),
    ("k11_insta360_uvc_pose", "k11_pose"), ("mac2_insta360_room_wide", "room_wide_evidence"),
    ("mac4_mocopi", "mocopi"), ("k11_mocopi_pose", "mocopi"), ("mac4_unity", "unity"),
    ("motionmix_hub", "motionmix"), ("iphone_left", "iphone"), ("watch_right", "watch"),
    ("mac5_sam3d", "sam3d_reconstruction"), ("k11_recorded_pose", "recorded_replay"),
    ("mac4_output_bridge", "mac4_output_bridge"), ("k11_webcam_raw", "raw_camera"),
    ("k11_webcam", "unknown"), ("mac4_mega_rgb", "unknown"), ("k11_pose", "k11_pose"), ("mac4_pose", "unknown"),
])
def test_source_ids_classify_by_the_contract_patterns(source_id, kind):
    assert RULES.source_kind(source_id) == kind


def test_every_source_kind_is_placed():
    kinds = {row["kind"] for row in FILTER["source_id_kinds"]}
    placed = set(FILTER["command_source_kinds"]) | set(NEVER["source_kinds"]) \
        | set(FILTER["rejected_source_kinds"])
    assert kinds <= placed
    # every kind the invariants refuse can be recognised from a source id
    assert (set(NEVER["source_kinds"]) | set(FILTER["rejected_source_kinds"])) <= kinds
    # and nothing is both a command source and refused
    assert not set(FILTER["command_source_kinds"]) & (set(NEVER["source_kinds"])
                                                      | set(FILTER["rejected_source_kinds"]))


def test_the_manifest_examples_are_consistent_with_the_contracts():
    for example in get("airdeck_promoted_gestures.v1").examples:
        assert consistency_problems(PromotedManifest.from_data(example), RULES) == []


def test_a_renamed_invariant_fails_loudly():
    data = table_data()
    data["safety_invariants"]["invariants"] = [
        i for i in data["safety_invariants"]["invariants"] if i["id"] != "SAFE-CMD-HOLD"]
    with pytest.raises(RulesError, match="SAFE-CMD-HOLD"):
        Rules.from_data(**data)


def test_only_gesture_confirmed_allows_a_dispatch():
    modes = get("body_truth_modes.v0").table_data()["modes"]
    assert RULES.command_modes == {m for m, row in modes.items() if row["commands_allowed"]}


def test_gesture_entry_builds_a_valid_consistent_manifest():
    evidence = [{"kind": "proof_matrix", "path": "derived/airdeck/physical_proof_matrix.json",
                 "sha256": None}]
    doc = dict(get("airdeck_promoted_gestures.v1").examples[0])
    doc["gestures"] = [gesture_entry(label, evidence, RULES) for label in
                       ("left_hand_raise", "right_hand_raise", "safe_stop_rehearsal")]
    assert problems(doc, get("airdeck_promoted_gestures.v1")) == []
    assert consistency_problems(PromotedManifest.from_data(doc), RULES) == []
    assert doc["gestures"][0]["command"] == "d1_play_pause"
    with pytest.raises(ValueError, match="candidate"):
        gesture_entry("scratch", evidence, RULES)
