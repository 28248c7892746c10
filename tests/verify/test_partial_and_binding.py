"""Complete or partial, never silently GREEN (issue 13 item 4, issue 14 item 4), and a report
bound to its root (issue 18): `--only` runs, reasons in every rendering, what each verdict rests
on, not-applicable and no-rig checks in the signed predicate, `report verify --root`."""
from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from verify_roots import build_root

from lume.runtime.cli import main
from lume.runtime.core import InputError, ReportRejected, get, sign_report, verify_report
from lume.runtime.core._keys import SigningKey
from lume.runtime.core._signing import InvalidPredicate
from lume.verifiers import Verifier, all_verifiers, run, verdicts
from lume.verifiers._framework import held

TRAINING = {"training.pairs", "training.capture_coverage", "models.live_safe", "claims"}
RIG = {i for i in all_verifiers() if i.startswith("rig.")}  # live probes: not run without --rig
NOT_HERE = TRAINING | {"replay.route_smoke"}  # a built root holds no training data, no gesture sessions


def lume(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def statement_of(report: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(report.read_text())["payload"]))


def predicate_of(report: Path) -> dict:
    return statement_of(report)["predicate"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_root(tmp_path / "root")


# ---------------------------------------------------------------------------- partial runs
def test_only_two_checks_is_partial_never_green(root, tmp_path, isolated_keys):
    """The attack of issue 13: `--only storage.integrity,labels.table` signed GREEN rig_safe=true."""
    report = tmp_path / "r.json"
    r = lume("verify", root, "-o", report, "--only", "storage.integrity,labels.table")
    assert r.exit_code == 1, r.output
    assert "PARTIAL" in r.output and "GREEN" not in r.output
    not_selected = sorted(set(all_verifiers()) - NOT_HERE - RIG - {"storage.integrity", "labels.table"})
    assert f"why: partial: {len(not_selected)} check(s) of the default set did not run" in r.output
    assert "not run" in r.output and "authority.k11_only.static" in r.output
    p = predicate_of(report)
    assert p["verdicts"]["overall"] == "partial"
    assert p["verdicts"]["rig_safe"] is None and p["verdicts"]["data_sound"] is None
    by_kind = {}
    for n in p["not_run"]:
        by_kind.setdefault(n["kind"], set()).add(n["id"])
    assert by_kind["not_selected"] == set(not_selected) >= {"authority.k11_only.static", "bundle.layout",
                                                             "safety.airdeck.properties"}
    assert by_kind["not_applicable"] == NOT_HERE and by_kind["no_rig"] == RIG
    assert p["causes"] == [f"partial: {len(not_selected)} check(s) of the default set did not run "
                           f"(not selected with --only): {', '.join(not_selected)}"]
    # authentic, but --require-green refuses it
    assert lume("report", "verify", report).exit_code == 0
    refused = lume("report", "verify", report, "--require-green")
    assert refused.exit_code == 1 and "verdict is partial" in refused.output
    md, html = report.with_suffix(".md").read_text(), report.with_suffix(".html").read_text()
    for text in (md, html):
        assert "PARTIAL" in text and "did not run (not selected with --only)" in text
        assert "not_applicable" in text and "no training pairs NPZ" in text


def test_one_passing_check_is_partial_with_a_reason_not_red(root, tmp_path):
    r = lume("verify", root, "-o", tmp_path / "r.json", "--only", "labels.table", "--json")
    out = json.loads(r.output[r.output.index("{"):])
    assert r.exit_code == 1 and out["overall"] == "partial"
    assert [c["status"] for c in out["checks"]] == ["pass"] and out["causes"][0].startswith(
        f"partial: {len(set(all_verifiers()) - NOT_HERE - RIG) - 1} check(s)")


def test_only_every_applicable_check_is_complete(root, tmp_path):
    ids = ",".join(sorted(set(all_verifiers()) - NOT_HERE - RIG))
    r = lume("verify", root, "-o", tmp_path / "r.json", "--only", ids, "--json")
    out = json.loads(r.output[r.output.index("{"):])
    assert r.exit_code == 0 and out["overall"] == "green", out["causes"]
    assert {n["kind"] for n in out["not_run"]} == {"not_applicable", "no_rig"}


def test_a_red_report_says_why_in_one_line_per_cause(root, tmp_path):
    (root / "_processed" / "orphan").mkdir()
    report = tmp_path / "r.json"
    r = lume("verify", root, "-o", report)
    assert r.exit_code == 1
    p = predicate_of(report)
    assert p["verdicts"]["overall"] == "red" and p["verdicts"]["data_sound"] is False
    (cause,) = p["causes"]
    assert cause.startswith("storage.integrity failed: ") and "orphan" in cause and "\n" not in cause
    assert "why: storage.integrity failed: " in r.output
    for text in (report.with_suffix(".md").read_text(), report.with_suffix(".html").read_text()):
        # the cause is the "What to do" line of its check (what, where, next), not repeated under "Why"
        assert "What to do" in text and "storage.integrity" in text and "orphan" in text


def test_green_lists_what_each_verdict_rests_on(root, tmp_path):
    report = tmp_path / "r.json"
    assert lume("verify", root, "-o", report).exit_code == 0
    p = predicate_of(report)
    rests = p["verdicts"]["rests_on"]
    domain = {c["id"]: all_verifiers()[c["id"]].domain for c in p["checks"]}
    assert rests["rig_safe"] == [i for i, d in domain.items() if d == "rig"] != []
    assert rests["data_sound"] == [i for i, d in domain.items() if d == "data"] != []
    assert p["causes"] == [] and {n["kind"] for n in p["not_run"]} == {"not_applicable", "no_rig"}
    for text in (report.with_suffix(".md").read_text(), report.with_suffix(".html").read_text()):
        assert "rests on: " + ", ".join(rests["rig_safe"]) in text
        assert "rests on: " + ", ".join(rests["data_sound"]) in text


def test_a_rig_probe_without_a_rig_is_recorded_not_partial(root, tmp_path, monkeypatch):
    from lume.verifiers import _runner

    probe = Verifier("rig.probe.example", "A live probe of the rig", (), "rig",
                     lambda ctx: [held("answered", expected=True, found=True)], needs_rig=True)
    catalog = {**all_verifiers(), probe.id: probe}
    monkeypatch.setattr(_runner, "all_verifiers", lambda: catalog)
    result = run(root, cache_folder=tmp_path / "c")
    (n,) = [n for n in result.not_run if n.id == probe.id]
    assert (n.kind, n.reason) == ("no_rig", "no --rig given") and result.green
    assert probe.id in {c.id for c in run(root, cache_folder=tmp_path / "c", rig={"name": "rehearsal"}).checks}


def test_the_partial_rules_are_enforced_by_signer_and_reader():
    key = SigningKey.generate()
    p = json.loads(json.dumps(get("readiness_report.v2").examples[0]))
    p["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    p["not_run"] = [{"id": "labels.table", "kind": "not_selected", "reason": "not selected (--only)"}]
    with pytest.raises(InvalidPredicate, match="did not run"):
        sign_report(p, [], key)
    p["verdicts"]["overall"] = "partial"
    with pytest.raises(InvalidPredicate, match="null"):
        sign_report(p, [], key)
    p["verdicts"].update(rig_safe=None, data_sound=None)
    assert verify_report(sign_report(p, [], key), [key.trust_entry()])


def test_verdicts_function_domain_rules():
    from lume.runtime.core import CheckResult
    from lume.verifiers._predicate import NotRun

    rig = CheckResult("a.rig", "rig check", "pass", [], [], 1.0, "rig")
    data = CheckResult("a.data", "data check", "fail", [], [], 1.0, "data")
    v = verdicts([rig, data], not_run=[NotRun("b", "not_selected", "x", "data")])
    assert (v["overall"], v["rig_safe"], v["data_sound"]) == ("red", None, False)
    v = verdicts([rig])
    assert (v["overall"], v["rig_safe"], v["data_sound"]) == ("red", True, False)  # nothing vouches for data


# ---------------------------------------------------------------------------- bound to a root
def test_report_verify_root_binds_the_report_to_its_root(root, tmp_path):
    report = tmp_path / "r.json"
    assert lume("verify", root, "-o", report).exit_code == 0
    ok = lume("report", "verify", report, "--root", root)
    assert ok.exit_code == 0, ok.output
    assert "subject digest(s) match" in ok.output
    # the same bytes somewhere else: another root
    elsewhere = tmp_path / "copy"
    shutil.copytree(root, elsewhere)
    r = lume("report", "verify", report, "--root", elsewhere)
    assert r.exit_code == 1 and "vouches for root" in r.output
    # the same root, one file changed after the report
    target = next(p for p in sorted(root.rglob("*.json")) if p.is_file())
    target.write_text(target.read_text() + " ")
    r = lume("report", "verify", report, "--root", root, "--json")
    assert r.exit_code == 1
    assert json.loads(r.output)["refused"].count(target.relative_to(root).as_posix()) == 1
    # bad input: not a folder
    assert lume("report", "verify", report, "--root", tmp_path / "nope").exit_code == 2


def test_a_report_lists_each_file_and_its_digest_once(root, tmp_path):
    """readiness_report.v2: the files are the signed Statement's subjects, never repeated in the
    predicate (v1 listed every digest twice)."""
    from lume.runtime.core import canonical_json

    report = tmp_path / "r.json"
    assert lume("verify", root, "-o", report).exit_code == 0
    stmt = statement_of(report)
    assert stmt["predicate"]["schema"] == "lume.readiness_report.v2" and "subjects" not in stmt["predicate"]
    payload = base64.b64decode(json.loads(report.read_text())["payload"])
    assert stmt["subject"] and all(payload.count(canonical_json(s)) == 1 for s in stmt["subject"])
    assert f"- subjects: {len(stmt['subject'])} files" in report.with_suffix(".md").read_text()


def test_bind_counts_missing_subjects_and_refuses_an_empty_folder(root, tmp_path):
    from lume.verifiers import bind

    report = tmp_path / "r.json"
    assert lume("verify", root, "-o", report).exit_code == 0
    stmt = statement_of(report)
    first = root / stmt["subject"][0]["name"]
    first.unlink()
    b = bind(stmt, root)
    assert b.ok and b.unreachable == 1 and b.checked == len(stmt["subject"]) - 1
    empty = tmp_path / "empty"
    empty.mkdir()
    b = bind({**stmt, "predicate": {**stmt["predicate"], "root": str(empty)}}, empty)
    assert not b.ok and "none of the report's" in b.problems[0]


def test_malformed_report_is_input_error():
    from lume.runtime.core import MalformedEnvelope

    assert issubclass(MalformedEnvelope, InputError) and issubclass(MalformedEnvelope, ReportRejected)
