"""sled.constraints: seed 004 Q3's constants, their relations, and the generated lume-config.scad."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import InputError, get
from lume.runtime.sled import check, check_statements, parse, section, shipped, write_section
from lume.verifiers._runner import run

REPO = Path(__file__).resolve().parents[2]
SEED = get("sled_constants_set.v1").examples[0]


def statements_of(values: dict[str, float]) -> dict:
    return {"schema": "lume.sled_constants_set.v1", "source": "test",
            "statements": [{"name": k, "value": v, "where": "test"} for k, v in values.items()]}


def broken(readings) -> dict[str, dict[str, str]]:
    return {r.name: {o.relation.id: o.message for o in outs if not o.ok} for r, outs, _ in readings}


def test_the_shipped_constants_hold_every_relation():
    outcomes, skipped = check(shipped().values)
    assert skipped == [] and len(outcomes) == len(shipped().relations) >= 25
    assert [o.message for o in outcomes if not o.ok] == []


def test_the_shipped_set_keeps_every_seed_number_it_does_not_have_to_change():
    """Where the seed is consistent its numbers are the contract's; the rest is in `decisions`."""
    mine = shipped().values
    changed = {s["name"] for s in SEED["statements"] if mine.get(s["name"]) != s["value"]}
    assert changed == {"POD_INNER_D", "POD_INNER_H", "SLED_DECK_D", "RACEWAY_K11_GAPS", "RACEWAY_K11_W",
                       "RACEWAY_MACMINI_GAPS", "RACEWAY_MACMINI_W", "RACEWAY_ZONE_W", "RACEWAY_SIDE_MARGIN"}
    decided = " ".join(d["seed"] + d["numbers"] + d["choice"] for d in shipped().decisions)
    for words in ("59", "46", "42", "48", "96", "52", "127", "120"):
        assert words in decided
    assert (mine["K11_W"], mine["K11_D"], mine["K11_H"], mine["MAC_MINI_W"], mine["MAC_MINI_FOOT_PITCH"],
            mine["SLED_DECK_VESA"], mine["K11_VESA"], mine["RACEWAY_USB_A_W"], mine["RACEWAY_HDMI_W"]) == (
        142.6, 113, 49.5, 127, 110, 100, 75, 7, 12)


def test_the_seed_as_written_is_reported_with_its_numbers():
    result = check_statements(SEED)
    assert not result.ok and result.unknown == []  # every name the seed uses is a declared constant
    assert [c.split(" is given")[0] for c in result.conflicts] == ["RACEWAY_MACMINI_GAPS",
                                                                   "RACEWAY_MACMINI_W"]
    assert "42 (prose)" in result.conflicts[1] and "48 (code)" in result.conflicts[1]
    found = broken(result.readings)
    assert set(found) == {"prose", "code"}
    for reading in found.values():
        assert "RACEWAY_K11_W = 46 ≠" in reading["k11_width"]
        assert "4×7 + 3×3 + 12 + 1×10 = 59" in reading["k11_width"]
        assert "max(127 - 200, 127 - 120) = 7, not ≤ 0" in reading["macmini_fits_deck"]
        assert "min(200, 120) = 120" in reading["adapter_fits_deck"]
    assert "(200 - 96) / 2 = 52" in found["prose"]["side_margin"]
    assert "zone_width" not in found["prose"]  # 46 + 8 + 42 = 96 holds in the prose
    assert "46 + 8 + 48 = 102" in found["code"]["zone_width"]  # and breaks with the code's 48
    assert "macmini_width" not in found["prose"] and "macmini_width" not in found["code"]


def test_a_constant_that_breaks_a_relation_is_red(tmp_path):
    values = dict(shipped().values, RACEWAY_HDMI_W=16)  # seed failure mode D, without updating the raceways
    (tmp_path / "cad_constants.json").write_text(json.dumps(statements_of(values)))
    result = {c.id: c for c in run(tmp_path, only=["sled.constraints"], cache_folder=tmp_path / ".c").checks}[
        "sled.constraints"]
    assert result.status == "fail"
    bad = {e.field: e.message for e in result.evidence if e.ok is False}
    assert set(bad) == {"k11_width", "macmini_width"}
    assert "RACEWAY_K11_W = 65 ≠" in bad["k11_width"] and "= 69" in bad["k11_width"]


def test_the_check_fails_when_the_shipped_constants_break_a_relation(monkeypatch, tmp_path):
    from lume.runtime import sled

    c = shipped()
    rows = tuple(dict(r, value=110) if r["name"] == "ADAPTER_MACMINI_UP_PITCH" else r for r in c.rows)
    monkeypatch.setattr("lume.verifiers._sled.shipped", lambda: sled.Constants(
        rows, c.relations, c.decisions, c.scad, c.contract_id, c.source))
    assert run(tmp_path, only=["sled.constraints"], cache_folder=tmp_path / ".c").checks[0].status == "pass"
    rows = tuple(dict(r, value=120) if r["name"] == "ADAPTER_MACMINI_UP_PITCH" else r for r in c.rows)
    monkeypatch.setattr("lume.verifiers._sled.shipped", lambda: sled.Constants(
        rows, c.relations, c.decisions, c.scad, c.contract_id, c.source))
    [res] = run(tmp_path, only=["sled.constraints"], cache_folder=tmp_path / ".c").checks
    assert res.status == "fail"
    assert {e.field for e in res.evidence if e.ok is False} >= {"relations.macmini_adapter_up"}


def test_expressions_are_arithmetic_only():
    assert parse("max(A, B) + 2*sqrt(C)").names == ("A", "B", "C")
    for bad in ("__import__('os')", "A if B else C", "A ** 2", "open(A)", "A.real"):
        with pytest.raises(ValueError):
            parse(bad)


def test_the_scad_section_has_every_constant_and_asserts_every_relation():
    text = section()
    c = shipped()
    assert text.startswith(c.scad["begin"] + "\n") and text.endswith(c.scad["end"] + "\n")
    for r in c.rows:
        assert f"\n{r['name']} = " in text
    assert text.count("\nassert(") == len(c.relations)
    assert (REPO / "generated" / "scad" / "lume-config.scad").read_text() == text


def test_write_section_creates_replaces_and_appends(tmp_path):
    target = tmp_path / "lume-config.scad"
    assert write_section(target).action == "created"
    assert write_section(target).action == "unchanged"
    master = "// master plan §7.5\nPOD_W = 200;\nLED_COUNT = 60;\n"
    other = tmp_path / "other.scad"
    other.write_text(master)
    done = write_section(other)
    assert done.action == "appended" and done.clashes == ("POD_W",)
    text = other.read_text()
    assert text.startswith(master) and text.endswith(section())
    other.write_text(text.replace("RACEWAY_K11_W = 65;", "RACEWAY_K11_W = 46;") + "TAIL = 1;\n")
    assert write_section(other).action == "replaced"
    assert other.read_text() == master + "\n" + section() + "TAIL = 1;\n"
    half = tmp_path / "half.scad"
    half.write_text(shipped().scad["begin"] + "\nX = 1;\n")
    with pytest.raises(InputError, match="unbalanced"):
        write_section(half)


def test_sled_constants_cli(tmp_path):
    runner = CliRunner()
    out = runner.invoke(main, ["sled", "constants", "--scad", str(tmp_path / "lume-config.scad"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["ok"] and doc["constants"]["RACEWAY_K11_W"] == 65 and doc["scad"]["action"] == "created"
    assert runner.invoke(main, ["sled", "constants", "-o", str(tmp_path / "lume-config.scad")]).exit_code == 0
    seed = tmp_path / "seed.yaml"
    seed.write_text(json.dumps(SEED))
    red = runner.invoke(main, ["sled", "constants", "--check", str(seed)])
    assert red.exit_code == 1 and "RACEWAY_MACMINI_W is given 2 values" in red.output
    assert "4×7 + 3×3 + 12 + 1×10 = 59" in red.output
    junk = tmp_path / "junk.yaml"
    junk.write_text("statements: 3\n")
    refused = runner.invoke(main, ["sled", "constants", "--check", str(junk)])
    assert refused.exit_code == 2 and "junk.yaml" in refused.output


OPENSCAD = shutil.which("openscad")
PART = """include <lume-config.scad>;
difference() {
  cube([SLED_DECK_W, SLED_DECK_D, SLED_THICKNESS]);
  translate([(SLED_DECK_W - SLED_DECK_VESA) / 2, (SLED_DECK_D - SLED_DECK_VESA) / 2, -1])
    for (x = [0, SLED_DECK_VESA]) for (y = [0, SLED_DECK_VESA])
      translate([x, y, 0]) cylinder(d = VESA_HOLE_D, h = SLED_THICKNESS + 2, $fn = 24);
}
"""


@pytest.mark.skipif(OPENSCAD is None,
                    reason="openscad is not on PATH (Debian/Ubuntu: apt-get install -y openscad)")
def test_openscad_renders_a_part_from_the_generated_constants_and_refuses_a_broken_one(tmp_path):
    shutil.copyfile(REPO / "generated" / "scad" / "lume-config.scad", tmp_path / "lume-config.scad")
    (tmp_path / "part.scad").write_text(PART)
    done = subprocess.run([OPENSCAD, "-o", "part.stl", "part.scad"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    stl = (tmp_path / "part.stl").read_text()
    assert stl.startswith("solid") and stl.count("facet normal") > 50
    config = tmp_path / "lume-config.scad"
    config.write_text(config.read_text().replace("RACEWAY_K11_W = 65;", "RACEWAY_K11_W = 46;"))
    refused = subprocess.run([OPENSCAD, "-o", "broken.stl", "part.scad"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and "k11_width" in refused.stderr
    assert not (tmp_path / "broken.stl").exists()
