"""Two kinds of contract (issue 15): documents LUME writes stay closed; documents of programs LUME
does not own are read tolerantly (unknown keys accepted, kept, listed), and the seeds' own
examples validate as written."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import (
    ContractError,
    get,
    is_tolerant,
    load_all,
    parse,
    problems,
    tolerated,
    validate_file,
)
from lume.runtime.core._check import check_contract
from lume.runtime.core._contracts import Contract

SEED = Path(__file__).parent / "seed_examples"
# seed 000 (the rig's data) and seed 003 (BodyTruth, MotionMix) name these producers
EXTERNAL = {"mac4_session.v1", "mac4_label_record.v1", "motionmix_state_record.v1", "mocopi_skeleton_record.v1",
            "pose_coach_session.v1", "pose_coach_training_record.v1", "pose_coach_latest.v1",
            "sam3d_summary.v1", "sam3d_frame.v1", "mac4_live_output_state.v1", "mrt2_browser_proof.v1",
            "device_topology_mac4_first.v1", "device_topology_reconstruction.v1"}


def seed(name: str) -> dict:
    return json.loads((SEED / name).read_text())


# --------------------------------------------------------------------------- the seeds as written


def test_the_seed_minimum_bundle_validates_as_written() -> None:
    assert problems(seed("000_minimum_bundle.json"), get("rehearsal_bundle.v1")) == []


def test_the_seed_pose_coach_source_entry_validates_as_written() -> None:
    bundle = dict(seed("000_minimum_bundle.json"), sources=[seed("000_pose_coach_source_entry.json")])
    assert problems(bundle, get("rehearsal_bundle.v1")) == []


def test_the_seed_mac5_derived_entry_validates_as_written() -> None:
    bundle = dict(seed("000_minimum_bundle.json"), derived=[seed("000_mac5_derived_entry.json")])
    assert problems(bundle, get("rehearsal_bundle.v1")) == []


def test_the_seed_body_truth_frame_validates_as_written() -> None:
    assert problems(seed("003_body_truth.json"), get("body_truth.v0")) == []


def test_every_field_of_the_seed_source_entry_is_a_field_of_the_contract() -> None:
    """The seed's generic entry carries `"..."` placeholders; its field names must all exist."""
    from lume.runtime.core._validate import bundled_schema

    entry = bundled_schema(get("rehearsal_bundle.v1"))["$defs"]["GenericSourceEntry"]
    assert set(seed("000_source_entry.json")) <= set(entry["properties"])


def test_the_seed_minimal_pose_coach_manifest_validates() -> None:
    """Issue 15: a manifest with only the fields the seed lists failed as missing
    session_id / created_at / camera."""
    assert problems(seed("000_pose_coach_manifest_minimal.json"), get("pose_coach_session.v1")) == []


def test_a_bad_value_in_a_one_of_names_the_field_not_a_bare_one_of() -> None:
    entry = dict(seed("000_pose_coach_source_entry.json"), intended_use=["juggling"])
    bundle = dict(seed("000_minimum_bundle.json"), sources=[entry])
    found = problems(bundle, get("rehearsal_bundle.v1"))
    assert [p.path for p in found] == ["$.sources[0].intended_use[0]"]
    assert "oneOf" not in found[0].message and "juggling" in found[0].message


# --------------------------------------------------------------------------- the two kinds


def test_the_contracts_of_other_programs_are_declared_external() -> None:
    declared = {c.stem for c in load_all() if is_tolerant(c)}
    assert declared == EXTERNAL


def test_an_unknown_key_at_any_depth_is_accepted_listed_and_kept() -> None:
    c = get("pose_coach_session.v1")
    doc = copy.deepcopy(c.examples[0])
    doc["exposure_us"] = 8000  # top level
    doc["camera"]["driver"] = "uvcvideo"  # an object of the contract
    doc["deck_zones"]["deck1"]["rotation"] = 0  # a shared shape (common.v1 Box2) inside it
    doc["clips"][1]["operator"] = "kk"
    assert problems(doc, c) == []
    found = {(w.path, w.line) for w in tolerated(doc, c, file="manifest.json", line=None)}
    assert found == {("$.exposure_us", None), ("$.camera.driver", None),
                     ("$.deck_zones.deck1.rotation", None), ("$.clips[1].operator", None)}
    kept = parse(c, doc).model_dump()
    assert kept["exposure_us"] == 8000 and kept["camera"]["driver"] == "uvcvideo"


def test_tolerance_never_relaxes_types_or_required_fields() -> None:
    c = get("motionmix_state_record.v1")
    record = dict(c.examples[0], fps=30)
    assert problems(record, c) == []
    assert problems(dict(record, joint_count="many"), c)
    assert problems({k: v for k, v in record.items() if k != "timestamp_ms"}, c)


def test_our_own_documents_stay_closed() -> None:
    c = get("rehearsal_bundle.v1")
    assert not is_tolerant(c)
    assert problems(dict(c.examples[0], fps=30), c)
    assert tolerated(dict(c.examples[0], fps=30), c) == []


def test_only_documents_and_records_may_be_external() -> None:
    table = get("labels.v1")
    raw = copy.deepcopy(table.raw)
    raw["x-lume"]["producer"] = "external"
    bogus = Contract(table.stem, table.name, table.version, table.path, raw)
    assert [p.path for p in check_contract(bogus)] == ["$.x-lume.producer"]
    raw["x-lume"]["producer"] = "somebody"
    assert [p.path for p in check_contract(bogus)] == ["$.x-lume.producer"]


# --------------------------------------------------------------------------- reading files


def test_validate_lists_unknown_keys_with_file_line_and_key(tmp_path: Path) -> None:
    """Issue 15: one extra `fps` in motionmix_state.jsonl blocked everything."""
    c = get("motionmix_state_record.v1")
    path = tmp_path / "sources" / "motionmix" / "motionmix_state.jsonl"
    path.parent.mkdir(parents=True)
    lines = [dict(c.examples[0]), dict(c.examples[0], fps=30), dict(c.examples[0])]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = validate_file(path)
    assert result.ok and result.contract == "motionmix_state_record.v1"
    assert [(w.line, w.path) for w in result.warnings] == [(2, "$.fps")]

    out = CliRunner().invoke(main, ["validate", str(path), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["ok"] and report["files"][0]["warnings"][0]["path"] == "$.fps"
    assert report["files"][0]["warnings"][0]["line"] == 2
    text = CliRunner().invoke(main, ["validate", str(path)])
    assert text.exit_code == 0
    assert f"{path}:2: $.fps" in text.output and "unknown key 'fps'" in text.output


def test_a_closed_contract_still_refuses_the_same_key(tmp_path: Path) -> None:
    c = get("body_observation.v1")
    path = tmp_path / "obs.jsonl"
    path.write_text(json.dumps(dict(c.examples[0], fps=30)) + "\n")
    result = validate_file(path, c)
    assert not result.ok and result.warnings == []


@pytest.mark.parametrize("stem", sorted(EXTERNAL))
def test_external_models_keep_unknown_keys(stem: str) -> None:
    c = get(stem)
    example = c.examples[0]
    if not isinstance(example, dict):
        pytest.skip("example holds no object")
    try:
        dumped = parse(c, dict(example, vendor_note="x")).model_dump()
    except ContractError:  # pragma: no cover
        raise
    assert dumped["vendor_note"] == "x"
