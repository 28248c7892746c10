"""promotion_policy.v1 against the other contracts (the cross-file rules its meta-schema names)."""
from __future__ import annotations

from lume.runtime.airdeck import Rules
from lume.runtime.core import LabelIndex, get, table
from lume.runtime.templates._criteria import CHECKS

POLICY = get("promotion_policy.v1").table_data()


def test_policy_parses_into_its_model():
    model = table("promotion_policy.v1")
    assert model.command.min_physical_examples >= 1


def test_visual_targets_are_visual_labels():
    ix = LabelIndex.load()
    for target in POLICY["visual"]["targets"]:
        m = ix.map(target["label"])
        assert m.canonical == target["label"] and m.lane == "visual" and not m.may_command


def test_command_first_targets_are_what_the_gate_dispatches():
    ix = LabelIndex.load()
    assert POLICY["command"]["first_targets"] == ["left_hand_raise", "right_hand_raise", "safe_stop_rehearsal"]
    for label in POLICY["command"]["first_targets"]:
        assert ix.map(label).lane == "command" and ix.dispatch_label(label) == label


def test_pose_coach_source_is_a_k11_command_source():
    rules = Rules.from_contracts()
    kind = rules.source_kind(POLICY["command"]["pose_coach_source_id"])
    assert kind in rules.command_source_kinds


def test_negative_lanes_and_clip_kinds_exist():
    lanes = {lane["name"] for lane in get("labels.v1").table_data()["lanes"]}
    assert set(POLICY["command"]["negative_lanes"]) <= lanes
    kinds = set(get("pose_coach_training_record.v1").raw["$defs"]["ClipKind"]["enum"])
    assert set(POLICY["command"]["negative_clip_kinds"]) <= kinds
    assert set(POLICY["command"]["example_clip_kinds"]) <= kinds
    assert not set(POLICY["command"]["example_clip_kinds"]) & set(POLICY["command"]["negative_clip_kinds"])


def test_eight_criteria_in_seed_order_and_the_report_names_them():
    crit = sorted(POLICY["criteria"], key=lambda c: c["order"])
    assert [c["order"] for c in crit] == list(range(1, 9))
    assert [c["sentence"] for c in crit] == [
        "source data is archived", "training or rule code is identified",
        "runtime artifact is identified", "on-device load is verified", "live output is non-flat",
        "behavior is observed", "fallback is tested", "report is written"]  # seed 002 wording
    report = get("promotion_candidates.v1").raw["$defs"]
    assert list(CHECKS) == report["CheckId"]["enum"]
