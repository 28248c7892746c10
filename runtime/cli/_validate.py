"""`lume validate PATH…`: validate JSON / JSONL files and folders against their contracts."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ._errors import LumeCommand
from ._options import json_option
from ._output import BAD_INPUT, FAILED, OK, emit_json, progress

# The report is styled with click (loaded anyway), not rich: a `lume validate` that passes
# never imports rich (start-up, issue 19). click.echo drops the styles off a terminal, and
# `_echo` under NO_COLOR (https://no-color.org), as rich does for every other verb.
_SKIP, _OK, _WARN = click.style("skip", dim=True), click.style("ok", fg="green"), click.style("warn", fg="yellow")
_FAIL, _ERROR = click.style("FAIL", fg="red"), click.style("error:", fg="red", bold=True)


def _echo(text: str, *, err: bool = False) -> None:
    click.echo(text, err=err, color=False if os.environ.get("NO_COLOR") else None)


@click.command(cls=LumeCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--contract", "contract_name", default=None, metavar="NAME",
              help="Validate against this contract instead of picking it from each document.")
@json_option
def validate(paths: tuple[Path, ...], contract_name: str | None, as_json: bool) -> int:
    """Validate documents against their contracts.

    Each document's contract comes from its `schema` / `type` field or its file name. Documents
    other programs write (Pose Coach, MotionMix, the Mac4 recorder, …) are read tolerantly:
    their unknown keys are listed as warnings, not errors. Exit 0 all valid, 1 any invalid, 2 unreadable input, an unknown --contract, or a file named on the
    command line that no contract matches (files no contract matches inside a folder are
    listed as skipped).
    """
    from lume.runtime.core import ContractError, get, iter_documents, printable, validate_file

    forced = get(contract_name) if contract_name else None  # ContractError: exit 2
    named = {p for p in paths if not p.is_dir()}
    files = list(iter_documents(list(paths)))
    results, unreadable = [], []
    with progress(enabled=not as_json and len(files) > 1) as bar:
        task = bar.add_task("validating", total=len(files))
        for path in files:
            bar.advance(task)
            try:
                result = validate_file(path, forced)
            except ContractError as exc:  # Unreadable or UnknownContract
                unreadable.append(str(exc))
                continue
            if result.skipped and path in named:
                unreadable.append(f"{path}: {result.skipped} (name one with --contract; "
                                  "see `lume contracts list`)")
            results.append(result)
    invalid = [r for r in results if not r.ok]
    checked = [r for r in results if not r.skipped]
    if as_json:
        emit_json({
            "ok": not invalid and not unreadable,
            "files": [{"file": r.file, "contract": r.contract, "documents": r.documents,
                       "valid": r.ok, "skipped": r.skipped,
                       "errors": [p.to_dict() for p in r.problems],
                       "warnings": [w.to_dict() for w in r.warnings]} for r in results],
            "unreadable": unreadable,
        })
    else:
        # every value printable: a file name or message cannot move the cursor or restyle a line
        for r in results:
            file = printable(r.file)
            if r.skipped:
                _echo(f"{_SKIP}  {file}: {printable(r.skipped)}")
            elif r.ok:
                _echo(f"{_OK}    {file} " + click.style(f"({r.contract}, {r.documents} doc)", dim=True))
            else:
                _echo(f"{_FAIL}  {file} " + click.style(f"({r.contract})", dim=True))
                for p in r.problems:
                    _echo(f"      {printable(str(p))}")
            for w in [] if r.skipped else r.warnings:
                _echo(f"{_WARN}  {printable(str(w))}")
        for message in unreadable:
            _echo(f"{_ERROR} {printable(message)}", err=True)
        if not checked and not unreadable:
            _echo(f"{_ERROR} no JSON or JSONL file that a contract matches", err=True)
    if unreadable or not checked:
        return BAD_INPUT
    return FAILED if invalid else OK
