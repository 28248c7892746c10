"""A readable timeline (issue 16.7): inputs from outside the session are warned about with their
offset and kept off the axis; the plot is checked through matplotlib's objects, not pixels."""
from __future__ import annotations

import copy
import csv
import json

from templates_helpers import copy_bundle

from lume.runtime.core import get
from lume.runtime.templates import build_templates
from lume.runtime.templates._analyzer import TIMELINE_CSV

T0 = 1779989201.0  # inside the committed route-smoke take
DAY = 16_000_000.0  # "a file from another day": ~185 days later


def body_truth_file(path, start: float, n: int = 6) -> None:
    frames = []
    for i in range(n):
        f = copy.deepcopy(get("body_truth.v0").examples[0])
        f["timestamp"] = int((start + 0.2 * i) * 1000)
        frames.append(f)
    path.write_text("".join(json.dumps(f) + "\n" for f in frames))


def test_a_file_from_another_day_is_warned_about_and_kept_off_the_axis(tmp_path):
    bundle = copy_bundle(tmp_path)
    body_truth_file(tmp_path / "bt.jsonl", T0 + DAY)
    result = build_templates(bundle, body_truth=tmp_path / "bt.jsonl")
    warning = next(n for n in result.notes if n.startswith("warning:"))
    assert "bt.jsonl" in warning and "after the session ends" in warning
    offset = float(warning.split("starts ")[1].split(" s after")[0])
    assert DAY - 86400 < offset < DAY + 1  # measured from the session's end
    assert all(u["kind"] != "body_truth" for u in result.document["inputs"])
    with open(bundle / TIMELINE_CSV) as f:
        rows = list(csv.DictReader(f))
    span = float(rows[-1][list(rows[-1])[1]]) - float(rows[0][list(rows[0])[1]])
    assert span < 24 * 3600, span  # the axis is not spread over months


def test_a_file_inside_the_session_is_used(tmp_path):
    bundle = copy_bundle(tmp_path)
    body_truth_file(tmp_path / "bt.jsonl", T0)
    result = build_templates(bundle, body_truth=tmp_path / "bt.jsonl")
    assert not any(n.startswith("warning:") for n in result.notes)
    assert any(u["kind"] == "body_truth" for u in result.document["inputs"])


def test_the_cli_prints_the_warning(tmp_path):
    from click.testing import CliRunner

    from lume.runtime.cli import main

    bundle = copy_bundle(tmp_path)
    body_truth_file(tmp_path / "bt.jsonl", T0 - DAY)
    r = CliRunner().invoke(main, ["templates", "build", str(bundle),
                                  "--body-truth", str(tmp_path / "bt.jsonl")])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "bt.jsonl" in flat and "before the session starts" in flat
