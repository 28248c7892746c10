"""Label status that tells the truth (issue 16.6): the label table says what a label MAY become
("promotable", "candidate"), and only a bundle's signed promoted manifest says that it IS
promoted. `lume labels show --bundle` shows both, read through the gate's own manifest reader."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from templates_helpers import KEY, copy_bundle, k11_config, rich_bundle

from lume.runtime.cli import main
from lume.runtime.core import LabelIndex, rule_data
from lume.runtime.templates import build_templates, manifest_standing, promote
from lume.runtime.templates._promotion import MANIFEST_FILE

STATUSES = {s["name"]: s for s in rule_data("labels.v1")["promotion_statuses"]}


def show(*args: str) -> tuple[int, dict]:
    r = CliRunner().invoke(main, ["labels", "show", "--lane", "command", "--json", *args])
    return r.exit_code, (json.loads(r.stdout) if r.exit_code == 0 else {"output": r.output})


def manifest_of(doc: dict) -> dict[str, str]:
    return {m["canonical"]: m["manifest"] for m in doc["labels"]}


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory) -> tuple[Path, Path]:
    """A bundle promoted by `lume promote --command` with this test's trusted key, and the trust file."""
    tmp = tmp_path_factory.mktemp("standing")
    bundle = rich_bundle(tmp)
    build_templates(bundle)
    trust_file = tmp / "trusted_keys.json"
    trust = [KEY.trust_entry("standing tests")]
    trust_file.write_text(json.dumps(trust))
    result = promote(bundle, command=True, config=k11_config(tmp), key=KEY, trust=trust)
    assert result.promoted, result.candidates
    return bundle, trust_file


def test_the_table_never_says_promoted():
    """The table's word for the `promoted` status is "promotable": it says what a label may become."""
    assert STATUSES["promoted"]["table_says"] == "promotable"
    for m in LabelIndex.load().show(None):
        assert m.table_says == STATUSES[m.promotion_status]["table_says"] != "promoted"
    r = CliRunner().invoke(main, ["labels", "show", "--lane", "command"])
    assert r.exit_code == 0
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.strip()}
    assert "promotable" in rows["d1_play_pause"] and "promoted" not in rows["d1_play_pause"]
    assert "--bundle BUNDLE" in " ".join(r.stdout.split())


def test_a_bundle_without_a_manifest_promotes_nothing(tmp_path):
    bundle = copy_bundle(tmp_path)
    code, doc = show("--bundle", str(bundle))
    assert code == 0 and doc["manifest"]["state"] == "no manifest"
    assert set(manifest_of(doc).values()) == {"not promoted"}
    text = CliRunner().invoke(main, ["labels", "show", "--bundle", str(bundle)]).stdout
    assert "no manifest" in text and "not promoted" in text


def test_a_signed_manifest_promotes_its_gestures_and_their_commands(signed_bundle):
    bundle, trust_file = signed_bundle
    code, doc = show("--bundle", str(bundle), "--trust-file", str(trust_file))
    assert code == 0 and doc["manifest"]["state"] == "trusted", doc
    said = manifest_of(doc)
    assert said["left_hand_raise"] == "promoted"
    assert said["d1_play_pause"] == "promoted (via left_hand_raise)"
    assert said["safe_stop_rehearsal"] == "promoted"
    assert said["loop_toggle"] == "not promoted"  # a candidate is never in a manifest


def test_an_untrusted_manifest_promotes_nothing(signed_bundle, tmp_path):
    bundle, _ = signed_bundle
    empty = tmp_path / "trusted_keys.json"
    empty.write_text("[]")
    code, doc = show("--bundle", str(bundle), "--trust-file", str(empty))
    assert code == 0 and doc["manifest"]["state"] == "untrusted"
    said = manifest_of(doc)
    assert said["left_hand_raise"] == "listed, manifest untrusted"
    assert not any(v.startswith("promoted") for v in said.values())


def test_a_manifest_whose_evidence_changed_is_stale(signed_bundle):
    """Evidence the signed statement names changed after promotion: the manifest no longer counts."""
    from lume.runtime.airdeck import load_manifest

    bundle, trust_file = signed_bundle
    subject = bundle / load_manifest(bundle / MANIFEST_FILE, trust=[]).subjects[0]["name"]
    before = subject.read_bytes()
    subject.write_bytes(before + b"\n")
    try:
        code, doc = show("--bundle", str(bundle), "--trust-file", str(trust_file))
    finally:
        subject.write_bytes(before)
    assert code == 0 and doc["manifest"]["state"] == "stale"
    assert "changed after promotion" in doc["manifest"]["detail"]
    assert manifest_of(doc)["left_hand_raise"] == "listed, manifest stale"
    assert manifest_standing(bundle, trust=json.loads(trust_file.read_text())).holds


def test_bad_bundle_and_bad_manifest_are_bad_input(tmp_path):
    code, doc = show("--bundle", str(tmp_path / "missing"))
    assert code == 2 and "not a bundle folder" in doc["output"]
    bundle = copy_bundle(tmp_path)
    (bundle / MANIFEST_FILE).parent.mkdir(parents=True, exist_ok=True)
    (bundle / MANIFEST_FILE).write_text("{not json")
    code, doc = show("--bundle", str(bundle))
    assert code == 2 and "promoted_gestures.json" in doc["output"] and "Traceback" not in doc["output"]


def test_promote_prints_what_satisfies_each_missing_proof_check(tmp_path):
    """The four proof-matrix checks' "satisfied by" texts are contract data (promotion_policy.v1
    `checks`), printed under a failing check like the live-safe criteria."""
    checks = {c["id"]: c["satisfied_by"] for c in rule_data("promotion_policy.v1")["checks"]}
    from lume.runtime.templates._criteria import CHECKS

    assert tuple(checks) == CHECKS
    bundle = copy_bundle(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["templates", "build", str(bundle)]).exit_code == 0
    r = runner.invoke(main, ["promote", str(bundle), "--command", "--config", str(k11_config(tmp_path))])
    assert r.exit_code == 1
    flat = " ".join(r.output.split())
    assert "min_physical_examples:" in flat
    assert f"satisfied by: {' '.join(checks['min_physical_examples'].split())}" in flat
