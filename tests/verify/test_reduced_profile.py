"""A property budget other than property_checks.v1's default proves less. The report records each
check's budget; `lume verify` also says so beside its verdict (and in --json), so an operator
with LUME_PROPERTY_PROFILE left set in a shell is not handed a bare GREEN."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import table
from lume.verifiers import PROFILE_ENV, reduced_profile

PROPERTY_CHECK, FILE_CHECK = "lumf.codec.properties", "labels.table"
DEFAULT = table("property_checks.v1").default_profile


def lume(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize(("profile", "checks", "reduced"), [
    ("smoke", [PROPERTY_CHECK, FILE_CHECK], "smoke"),
    ("smoke", [FILE_CHECK], None),  # no property check ran: no budget to speak of
    (DEFAULT, [PROPERTY_CHECK], None),
    ("", [PROPERTY_CHECK], None),  # empty is the default (what `nox -s verify` sets)
])
def test_a_profile_other_than_the_default_is_named(monkeypatch, profile, checks, reduced):
    monkeypatch.setenv(PROFILE_ENV, profile)
    assert reduced_profile(checks) == reduced


def test_a_green_run_at_the_test_suites_budget_says_so_beside_its_verdict(monkeypatch, tmp_path):
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    r = lume("verify", "-o", tmp_path / "r.json")
    assert r.exit_code == 0 and "GREEN" in r.output, r.output
    note = r.output[r.output.index("GREEN"):]
    assert f"note: the property checks ran at {PROFILE_ENV}=smoke" in note
    assert "`nox -s verify`" in note
    r = lume("verify", "-o", tmp_path / "r.json", "--json")
    assert json.loads(r.output)["reduced_profile"] == "smoke"


def test_a_run_of_file_checks_alone_says_nothing_of_a_budget(monkeypatch, tmp_path):
    monkeypatch.setenv(PROFILE_ENV, "smoke")
    r = lume("verify", "-o", tmp_path / "r.json", "--only", FILE_CHECK)
    assert "note:" not in r.output and "PARTIAL" in r.output
