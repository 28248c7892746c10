"""`nox -s verify` binds its report to the root the run verified (issue 18): the posargs are
parsed for ROOT and the report path wherever the options stand, without running nox. And it
proves at property_checks.v1's default budget whatever LUME_PROPERTY_PROFILE the shell holds."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("nox", reason="the noxfile imports nox (the test extra installs it)")


def _noxfile():
    path = Path(__file__).resolve().parents[1] / "noxfile.py"
    spec = importlib.util.spec_from_file_location("lume_noxfile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOXFILE = _noxfile()  # loaded once: nox registers each session as the file runs
verify_plan = NOXFILE.verify_plan
DEFAULT = "reports/readiness.json"


@pytest.mark.parametrize("posargs, root, report", [
    ([], None, DEFAULT),                                          # the README's first command
    (["ROOT"], "ROOT", DEFAULT),
    (["ROOT", "--rig", "rig.json"], "ROOT", DEFAULT),
    (["--rig", "rig.json", "ROOT"], "ROOT", DEFAULT),             # an option's value is not ROOT
    (["--only", "labels.table", "--quick", "ROOT"], "ROOT", DEFAULT),
    (["--only=labels.table", "ROOT", "--deep"], "ROOT", DEFAULT),
    (["-o", "out.json", "ROOT"], "ROOT", "out.json"),
    (["ROOT", "--out=out.json"], "ROOT", "out.json"),
    (["-oout.json", "ROOT"], "ROOT", "out.json"),
    (["--report", "old.json", "--json"], None, "old.json"),       # the old spelling of --out
    (["--quick", "--", "-odd-root"], "-odd-root", DEFAULT),       # after --, a ROOT may start with -
    (["--rig", "rig.json"], None, DEFAULT),
])
def test_verify_plan_finds_the_root_and_the_report(posargs, root, report):
    got_root, got_report, args = verify_plan(list(posargs), DEFAULT)
    assert (got_root, got_report) == (root, report)
    assert args[:len(posargs)] == posargs  # passed to `lume verify` as given
    assert args[len(posargs):] == ([] if report != DEFAULT else ["-o", DEFAULT])



class Recorder:
    """A stand-in nox session: records what the verify session runs, runs nothing."""

    posargs: list[str] = []

    def __init__(self) -> None:
        self.runs: list[tuple[tuple[str, ...], dict]] = []

    def install(self, *args, **kwargs) -> None:
        pass

    def run(self, *args, env=None, **kwargs) -> str:
        self.runs.append((args, env or {}))
        return "fixtures/route_smoke\n"


def test_the_rehearsal_run_proves_at_the_default_budget_whatever_the_shell_says(monkeypatch):
    from lume.verifiers import PROFILE_ENV, reduced_profile

    monkeypatch.setenv(PROFILE_ENV, "smoke")  # left over from running the tests
    session = Recorder()
    NOXFILE.verify(session)
    [env] = [env for args, env in session.runs if args[:2] == ("lume", "verify")]
    monkeypatch.setenv(PROFILE_ENV, env[PROFILE_ENV])  # what nox hands `lume verify`
    assert reduced_profile(["lumf.codec.properties"]) is None
