"""`lume validate PATH…`: validate JSON / JSONL files and folders against their contracts."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from lume.runtime.core import ContractError, get, iter_documents, validate_file

from ._output import BAD_INPUT, FAILED, OK, console, emit_json, err_console


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--contract", "contract_name", default=None,
              help="Validate against this contract instead of picking it from each document.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate(paths: tuple[Path, ...], contract_name: str | None, as_json: bool) -> None:
    """Validate documents; exit 0 all valid, 1 any invalid, 2 unreadable input or unknown contract."""
    try:
        forced = get(contract_name) if contract_name else None
    except ContractError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(BAD_INPUT) from exc
    results, unreadable = [], []
    for path in iter_documents(list(paths)):
        try:
            results.append(validate_file(path, forced))
        except ContractError as exc:  # Unreadable or UnknownContract
            unreadable.append(str(exc))
    invalid = [r for r in results if not r.ok]
    if as_json:
        emit_json({
            "ok": not invalid and not unreadable,
            "files": [{"file": r.file, "contract": r.contract, "documents": r.documents,
                       "valid": r.ok, "skipped": r.skipped,
                       "errors": [p.to_dict() for p in r.problems]} for r in results],
            "unreadable": unreadable,
        })
    else:
        for r in results:
            if r.skipped:
                console.print(f"[dim]skip[/]  {r.file}: {r.skipped}", highlight=False)
            elif r.ok:
                console.print(f"[green]ok[/]    {r.file} [dim]({r.contract}, {r.documents} doc)[/]",
                              highlight=False)
            else:
                console.print(f"[red]FAIL[/]  {r.file} [dim]({r.contract})[/]", highlight=False)
                for p in r.problems:
                    console.print(f"      {p}", highlight=False, markup=False)
        for message in unreadable:
            err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
        if not results and not unreadable:
            err_console.print("[red]error:[/] no JSON or JSONL files found")
    if unreadable or not (results or unreadable):
        raise SystemExit(BAD_INPUT)
    raise SystemExit(FAILED if invalid else OK)
