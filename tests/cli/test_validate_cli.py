"""`lume validate`: exit 0 valid, 1 invalid, 2 unreadable or unknown; errors name everything."""
from __future__ import annotations

import json

from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import get


def run(*args):
    return CliRunner().invoke(main, ["validate", *args])


def example(stem):
    return get(stem).examples[0]


def test_valid_document_exits_0(tmp_path):
    doc = tmp_path / "bundle.json"
    doc.write_text(json.dumps(example("rehearsal_bundle.v1")))
    result = run(str(doc))
    assert result.exit_code == 0, result.output


def test_invalid_jsonl_names_file_line_path_and_contract(tmp_path):
    good = example("body_observation.v1")
    bad = dict(good, confidence=1.5)
    obs = tmp_path / "session.obs.jsonl"
    obs.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = run("--contract", "body_observation.v1", "--json", str(obs))
    assert result.exit_code == 1
    errors = json.loads(result.output)["files"][0]["errors"]
    assert errors and errors[0]["line"] == 2 and errors[0]["path"] == "$.confidence"
    assert errors[0]["contract"] == "body_observation.v1" and errors[0]["file"] == str(obs)


def test_document_picks_its_contract_from_schema_field(tmp_path):
    bad = dict(example("rehearsal_bundle.v1"))
    bad["safety"] = dict(bad["safety"], mac4_can_command_rekordbox=True)
    doc = tmp_path / "bundle.json"
    doc.write_text(json.dumps(bad))
    result = run(str(doc))
    assert result.exit_code == 1
    assert "mac4_can_command_rekordbox" in result.output and "rehearsal_bundle.v1" in result.output


def test_malformed_json_exits_2_naming_the_line(tmp_path):
    obs = tmp_path / "x.obs.jsonl"
    obs.write_text(json.dumps(example("body_observation.v1")) + "\n{not json\n")
    result = run(str(obs))
    assert result.exit_code == 2
    assert f"{obs}:2" in result.output


def test_missing_file_exits_2(tmp_path):
    assert run(str(tmp_path / "nope.json")).exit_code == 2


def test_unknown_contract_exits_2(tmp_path):
    doc = tmp_path / "a.json"
    doc.write_text("{}")
    assert run("--contract", "no_such_contract", str(doc)).exit_code == 2
    doc.write_text(json.dumps({"schema": "lume.no_such.v9"}))
    result = run(str(doc))
    assert result.exit_code == 2 and "lume.no_such.v9" in result.output


def test_folder_is_walked(tmp_path):
    (tmp_path / "raw" / "labels").mkdir(parents=True)
    (tmp_path / "bundle.json").write_text(json.dumps(example("rehearsal_bundle.v1")))
    lines = [json.dumps(r) for r in get("mac4_label_record.v1").examples]
    (tmp_path / "raw" / "labels" / "labels.jsonl").write_text("\n".join(lines) + "\n")
    result = run("--json", str(tmp_path))
    assert result.exit_code == 0, result.output
    contracts = {f["contract"] for f in json.loads(result.output)["files"]}
    assert {"rehearsal_bundle.v1", "mac4_label_record.v1"} <= contracts


def test_the_report_reads_like_the_spec_and_no_name_can_restyle_it(tmp_path):
    good = tmp_path / "manifest.json"
    good.write_text(json.dumps(example("transport_manifest.v1")))
    # a file name that would move the cursor back and print a fake verdict over the real one
    spoof = tmp_path / "x\rok    all.json"
    spoof.write_text(json.dumps(dict(example("transport_manifest.v1"), x=1)))
    result = run(str(good), str(spoof))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"ok    {good} (transport_manifest.v1, 1 doc)" in lines
    assert f"FAIL  {tmp_path}/x\\x0dok    all.json (transport_manifest.v1)" in lines
    assert "\r" not in result.output and "\x1b" not in result.output  # no styles off a terminal


def test_the_verdict_is_coloured_on_a_terminal_unless_no_color_is_set(tmp_path):
    doc = tmp_path / "manifest.json"
    doc.write_text(json.dumps(example("transport_manifest.v1")))
    coloured = CliRunner().invoke(main, ["validate", str(doc)], color=True)
    assert coloured.exit_code == 0 and "\x1b[32mok\x1b[0m" in coloured.output
    plain = CliRunner(env={"NO_COLOR": "1"}).invoke(main, ["validate", str(doc)], color=True)
    assert plain.exit_code == 0 and "\x1b" not in plain.output and plain.output.startswith("ok    ")
