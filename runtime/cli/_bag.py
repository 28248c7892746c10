"""`lume bag validate BAG`: check any BagIt bag (RFC 8493) with bagit-python, every error listed."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option
from ._output import FAILED, OK, console, emit_json, err_console, escape, step


@click.group(cls=LumeGroup)
def bag() -> None:
    """BagIt bags: validate archives with tools that know nothing of LUME."""


@bag.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--fast", is_flag=True, help="Check only Payload-Oxum (file count and bytes).")
@click.option("--completeness-only", is_flag=True,
              help="Check that manifests and payload list the same files, without hashing.")
@json_option
def validate(path: Path, fast: bool, completeness_only: bool, as_json: bool) -> int:
    """Validate the bag at PATH; exit 0 valid (warnings printed), 1 invalid, 2 not a bag."""
    from lume.runtime.storage import check_bag

    if fast and completeness_only:
        raise BadInput("--fast and --completeness-only are exclusive")
    with step(f"validating {escape(str(path))}", enabled=not as_json):
        check = check_bag(path, fast=fast, completeness_only=completeness_only)  # NotABag: exit 2
    if as_json:
        emit_json({**check.to_dict(), "is_bag": True})
    else:
        for message in check.warnings:
            err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
        for message in check.errors:
            console.print(f"[red]error[/]   {escape(message)}", highlight=False)
        verdict = "[green]valid[/]" if check.valid else f"[red]INVALID[/] ({len(check.errors)} errors)"
        console.print(f"{verdict} {escape(str(path))} [dim]({check.mode} validation, "
                      f"{len(check.warnings)} warnings)[/]", highlight=False)
    return OK if check.valid else FAILED
