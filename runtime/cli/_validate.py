"""`lume validate PATH…`: validate JSON / JSONL files and folders against their contracts."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ._errors import LumeCommand
from ._options import json_option
from ._output import BAD_INPUT, FAILED, OK, console, emit_json, err_console, progress


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
    from lume.runtime.core import ContractError, get, iter_documents, validate_file

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
        for r in results:
            if r.skipped:
                console.print(f"[dim]skip[/]  {escape(r.file)}: {escape(r.skipped)}", highlight=False)
            elif r.ok:
                console.print(f"[green]ok[/]    {escape(r.file)} [dim]({r.contract}, {r.documents} doc)[/]",
                              highlight=False)
                for w in r.warnings:
                    console.print(f"[yellow]warn[/]  {escape(str(w))}", highlight=False)
            else:
                console.print(f"[red]FAIL[/]  {escape(r.file)} [dim]({r.contract})[/]", highlight=False)
                for p in r.problems:
                    console.print(f"      {p}", highlight=False, markup=False)
                for w in r.warnings:
                    console.print(f"[yellow]warn[/]  {escape(str(w))}", highlight=False)
        for message in unreadable:
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        if not checked and not unreadable:
            err_console.print("[bold red]error:[/] no JSON or JSONL file that a contract matches",
                              highlight=False)
    if unreadable or not checked:
        return BAD_INPUT
    return FAILED if invalid else OK
