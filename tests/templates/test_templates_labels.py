"""Label alignment over labels.v1: lookups, dispatch labels, unknown labels, `lume labels`."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import LabelIndex, UnknownLabel, get

TABLE = get("labels.v1").table_data()


def index() -> LabelIndex:
    return LabelIndex.load()


def test_every_row_and_alias_maps_to_its_row():
    ix = index()
    for row in TABLE["labels"]:
        for spelling in (row["name"], *row["aliases"]):
            m = ix.map(spelling)
            assert m.canonical == row["name"]
            assert (m.category, m.lane, m.promotion_status) == (row["category"], row["lane"],
                                                                row["promotion_status"])
            assert m.via == ("name" if spelling == row["name"] else "alias")


def test_gesture_rows_resolve_through_their_command_label():
    m = index().map("left_raise")  # an alias of the gesture row
    assert (m.canonical, m.command, m.deck, m.action) == ("left_hand_raise", "d1_play_pause", 1, "play_pause")
    assert index().map("d2_play_pause").dispatch_label == "right_hand_raise"
    assert index().map("safe_stop").dispatch_label == "safe_stop_rehearsal"
    assert index().map("wave_color").dispatch_label is None  # visual labels never reach the gate


def test_dispatch_labels_cover_each_command_once():
    ix = index()
    commands = {r["name"] for r in TABLE["labels"] if r["command"]}
    dispatch = ix.dispatch_labels()
    assert len(dispatch) == len(set(dispatch)) == len(commands)
    assert {ix.map(d).command for d in dispatch} == commands
    assert {"left_hand_raise", "right_hand_raise", "safe_stop_rehearsal"} <= set(dispatch)


def test_lanes_filter_and_unknown_lane():
    for lane in ("visual", "command", "negative", "calibration"):
        rows = index().show(lane)
        assert rows and {m.lane for m in rows} == {lane}
    assert len(index().show()) == len(TABLE["labels"])
    with pytest.raises(ValueError, match="not a lane"):
        index().show("dance")


@pytest.mark.parametrize(("typo", "expected"), [("wave_colr", "wave_color"), ("d1_play_paus", "d1_play_pause"),
                                                ("leftt_hand_raise", "left_hand_raise"),
                                                ("safe_stp", "safe_stop")])
def test_unknown_label_suggests_the_closest(typo, expected):
    with pytest.raises(UnknownLabel) as exc:
        index().map(typo, where="labels.jsonl:3")
    assert expected in exc.value.suggestions
    assert "labels.jsonl:3" in str(exc.value) and "not in labels.v1" in str(exc.value)


def test_unknown_label_without_any_close_name():
    with pytest.raises(UnknownLabel) as exc:
        index().map("zzzzzzzz")
    assert exc.value.suggestions == []


# ------------------------------------------------------------------------------ CLI
def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_show_json_lane():
    r = run("labels", "show", "--lane", "command", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["lane"] == "command"
    assert {m["canonical"] for m in doc["labels"]} == {
        row["name"] for row in TABLE["labels"] if row["lane"] == "command"}


def test_cli_show_table_and_bad_lane():
    r = run("labels", "show")
    assert r.exit_code == 0 and "wave_color" in r.output
    assert run("labels", "show", "--lane", "dance").exit_code == 2


def test_cli_map_known_labels():
    r = run("labels", "map", "wave", "d1_play", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [m["canonical"] for m in doc["labels"]] == ["wave_color", "d1_play_pause"]
    assert doc["labels"][1]["dispatch_label"] == "left_hand_raise" and doc["unknown"] == []


def test_cli_map_unknown_label_exits_2_with_suggestions():
    r = CliRunner().invoke(main, ["labels", "map", "wave_color", "leftt_hand_raise"])
    assert r.exit_code == 2
    assert "leftt_hand_raise" in r.output and "did you mean left_hand_raise" in r.output
    r = CliRunner().invoke(main, ["labels", "map", "burts_high_energy", "--json"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["unknown"] == [{"label": "burts_high_energy",
                               "suggestions": index().suggestions("burts_high_energy")}]
    assert "burst_high_energy" in doc["unknown"][0]["suggestions"]


def test_cli_map_needs_a_label():
    assert CliRunner().invoke(main, ["labels", "map"]).exit_code == 2
