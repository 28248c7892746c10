"""A check whose inputs a root does not hold is left out of a full run (listed), never passed on nothing."""
from __future__ import annotations

import json

from click.testing import CliRunner
from verify_roots import build_root

from lume.runtime.cli import main
from lume.verifiers import all_verifiers
from lume.verifiers._runner import default_root, run

TRAINING_CHECKS = {"training.pairs", "training.capture_coverage", "models.live_safe", "claims"}
RIG_PROBES = {"rig.bodytruth", "rig.director", "rig.lumf_heartbeat", "rig.midi_port", "rig.completion_report"}
NOT_HERE = TRAINING_CHECKS | {"replay.route_smoke"}  # a built root has no gesture sessions


def test_a_root_without_training_inputs_runs_the_other_checks(tmp_path):
    root = build_root(tmp_path / "built")
    result = run(root, cache_folder=tmp_path / "cache")
    assert {i for i, _ in result.not_applicable} == NOT_HERE
    assert {n.id for n in result.not_run if n.kind == "no_rig"} == RIG_PROBES  # no --rig given
    assert {c.id for c in result.checks} == set(all_verifiers()) - NOT_HERE - RIG_PROBES
    assert all(c.status == "pass" for c in result.checks)


def test_a_check_asked_for_by_id_runs_and_is_inconclusive_on_nothing(tmp_path):
    root = build_root(tmp_path / "built")
    [only] = run(root, only=["training.pairs"], cache_folder=tmp_path / "cache").checks
    assert only.status == "inconclusive"


def test_the_shipped_fixtures_run_every_check_but_the_live_rig_probes(tmp_path):
    result = run(default_root(), cache_folder=tmp_path / "cache")
    assert not result.not_applicable
    assert {n.id for n in result.not_run if n.kind == "no_rig"} == RIG_PROBES  # no --rig given
    assert {c.id for c in result.checks} == set(all_verifiers()) - RIG_PROBES


def test_the_cli_lists_what_was_not_applicable(tmp_path):
    root = build_root(tmp_path / "built")
    out = CliRunner().invoke(main, ["verify", str(root), "--report", str(tmp_path / "r.json"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output[out.output.index("{"):])  # stderr may say a key was created
    assert doc["overall"] == "green"
    assert {n["id"] for n in doc["not_applicable"]} == NOT_HERE
    text = CliRunner().invoke(main, ["verify", str(root), "--report", str(tmp_path / "r.json")])
    assert "not applicable: no training pairs NPZ" in text.output
