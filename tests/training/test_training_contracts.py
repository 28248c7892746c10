"""The V6 contracts hold together: the layout generator, the protocol against the layout, the frame record."""
from __future__ import annotations

import copy

import pytest

from lume.runtime.core import get, problems
from lume.runtime.tooling._v6_codegen import check_layout
from lume.runtime.training import blocks, rules_data, width

LAYOUT = get("v6_conditioning.v1").table_data()


def broken(change) -> dict:
    data = copy.deepcopy(LAYOUT)
    change(data)
    return data


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d["blocks"][1].update(offset=129), "block mode_8 at 129, expected 128"),
    (lambda d: d.update(width=142), "blocks cover 141 elements, width says 142"),
    (lambda d: d["blocks"][1].update(reserved=[5, 6]), "values + reserved cover"),
    (lambda d: d["blocks"][2]["values"][4].update(index=7), "value indices"),
    (lambda d: d["encoder"].update(layers=[128, 256, 512, 768]), "encoder input 128 != width 141"),
])
def test_the_layout_generator_refuses_a_layout_that_does_not_tile(change, words):
    check_layout(LAYOUT)
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("+", r"\+")):
        check_layout(broken(change))


def test_the_protocol_matrix_and_pair_width_come_from_the_layout():
    rules = rules_data()
    matrix = rules["capture"]["matrix"]
    assert blocks()[matrix["rows"]].encoding == blocks()[matrix["columns"]].encoding == "one_hot"
    cond = next(a for a in rules["pairs"]["arrays"] if a["name"] == "conditioning")
    assert cond["shape"] == ["N", "C"] and width() == 141
    assert rules["pairs"]["split"]["codes"] == {"train": 0, "val": 1}


def test_a_frame_without_producer_or_with_127_values_is_refused_by_the_record_contract():
    record = get("san_dynamics128_record.v1")
    frame = copy.deepcopy(record.examples[0])
    assert problems(frame, record) == []
    del frame["producer"]
    assert problems(frame, record)
    frame = copy.deepcopy(record.examples[0])
    frame["dynamics_128"] = frame["dynamics_128"][:127]
    assert problems(frame, record)
