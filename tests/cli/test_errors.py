"""The one error policy: bad input exits 2, a refusal or failed check exits 1, the message is
printed once, escaped once, with no traceback; under --json it is a JSON object on stdout."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.cli._errors import BadInput, LumeGroup, Refused
from lume.runtime.core import ContractError, InputError, get


@click.group(cls=LumeGroup)
def probe() -> None:
    """A throwaway group raising what verbs raise."""


RAISED = {
    "bad-input": BadInput("x.json: $.machine: 'K12' is not one of ['K11'] [machine_config.v1]"),
    "input-error": InputError("x.jsonl:3: $.confidence: 7 is greater than 1 [body_observation.v1]"),
    "contract-error": ContractError("unknown contract 'nope' (see `lume contracts list`)"),
    "os-error": FileNotFoundError(2, "No such file or directory", "missing.json"),
    "refused": Refused("refusing live mode: this machine is Mac5 [machine_config.v1]"),
    "bad-parameter": click.BadParameter("'24' has no unit"),
}


@probe.command()
@click.argument("kind")
@click.option("--json", "as_json", is_flag=True, help="JSON.")
def boom(kind: str, as_json: bool) -> int:
    if kind == "bug":
        raise KeyError("a bug of ours")
    if kind in ("ok", "failed"):
        return 0 if kind == "ok" else 1
    raise RAISED[kind]


def run(*args: str):
    return CliRunner().invoke(probe, ["boom", *args])


@pytest.mark.parametrize(("kind", "code"), [("bad-input", 2), ("input-error", 2), ("contract-error", 2),
                                            ("os-error", 2), ("refused", 1), ("bad-parameter", 2),
                                            ("ok", 0), ("failed", 1)])
def test_exit_codes(kind: str, code: int) -> None:
    result = run(kind)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_message_printed_once_escaped_once_on_stderr() -> None:
    result = run("bad-input")
    assert result.stdout == ""
    assert result.stderr.count("[machine_config.v1]") == 1
    assert "\\[" not in result.stderr and "error: x.json: $.machine" in result.stderr
    refused = run("refused")
    assert refused.stderr.startswith("refused: refusing live mode") and "\\[" not in refused.stderr


def test_os_error_names_the_file() -> None:
    assert "missing.json: No such file or directory" in run("os-error").stderr


def test_json_mode_reports_the_error_as_json_on_stdout() -> None:
    result = run("input-error", "--json")
    assert result.exit_code == 2 and result.stderr == ""
    assert json.loads(result.stdout) == {"ok": False, "error": str(RAISED["input-error"])}
    refused = run("refused", "--json")
    assert refused.exit_code == 1 and json.loads(refused.stdout)["refused"].startswith("refusing")


def test_a_bug_keeps_its_traceback() -> None:
    result = run("bug")
    assert isinstance(result.exception, KeyError)


# ------------------------------------------------------------------ through real verbs
def test_a_contract_named_in_brackets_is_printed_without_a_backslash(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"schema": "lume.machine_config.v1", "machine": "Mac5"}))
    result = CliRunner().invoke(main, ["airdeck", "recognize", str(tmp_path / "obs.jsonl"), "-o",
                                       str(tmp_path / "g.jsonl"), "--config", str(bad)])
    assert result.exit_code == 2
    assert "[machine_config.v1]" in result.output and "\\[" not in result.output
    assert "Traceback" not in result.output


def test_validate_a_file_no_contract_matches_exits_2(tmp_path: Path) -> None:
    doc = tmp_path / "other.json"
    doc.write_text(json.dumps({"hello": "world"}))
    result = CliRunner().invoke(main, ["validate", str(doc)])
    assert result.exit_code == 2 and "no contract matches" in result.output
    # inside a folder it is listed as skipped next to the documents that were checked
    (tmp_path / "bundle.json").write_text(json.dumps(get("rehearsal_bundle.v1").examples[0]))
    folder = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert folder.exit_code == 0, folder.output
    assert "skip" in folder.output
    (tmp_path / "bundle.json").unlink()
    assert CliRunner().invoke(main, ["validate", str(tmp_path)]).exit_code == 2  # nothing checked


def test_report_verify_refuses_a_max_age_without_a_unit(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("{}")
    result = CliRunner().invoke(main, ["report", "verify", str(tmp_path / "r.json"), "--max-age", "24"])
    assert result.exit_code == 2 and "no unit" in result.output and "24h" in result.output
