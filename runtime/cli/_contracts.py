"""`lume contracts list | check | diff | codegen [--check]`."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option, out_option
from ._output import FAILED, OK, console, emit_json, err_console, escape, step


@click.group(cls=LumeGroup)
def contracts() -> None:
    """Inspect contracts and regenerate generated/ from them."""


@contracts.command("list")
@json_option
def list_(as_json: bool) -> int:
    """Show every contract with its version, kind and compatibility mode."""
    from rich import box
    from rich.table import Table

    from lume.runtime.core import load_all

    rows = [
        {"contract": c.stem, "id": c.id, "version": c.version, "kind": c.kind,
         "compatibility": None if c.is_meta else c.compatibility,
         "title": c.raw.get("title", "")}
        for c in load_all()
    ]
    if as_json:
        emit_json(rows)
        return OK
    # The stem carries the version (`body_truth.v0`) and is never cut; the title wraps.
    table = Table(title=f"{len(rows)} contracts (--json for ids and every field)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("contract", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("compat.", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=1)
    for r in rows:
        table.add_row(r["contract"], r["kind"], (r["compatibility"] or "-").lower(), escape(r["title"]))
    console.print(table, soft_wrap=False)
    return OK


@contracts.command()
@json_option
def check(as_json: bool) -> int:
    """Validate every contract: envelope, meta-schema, examples and rule tables."""
    from lume.runtime.core import check_all, load_all

    with step("checking every contract", enabled=not as_json):
        found = check_all()  # ContractError: exit 2
    if as_json:
        emit_json({"ok": not found, "contracts": len(load_all()),
                   "errors": [p.to_dict() for p in found]})
    else:
        for p in found:
            console.print(str(p), markup=False, highlight=False)
        colour = "red" if found else "green"
        console.print(f"[{colour}]{len(load_all())} contracts checked, {len(found)} problems[/]")
    return FAILED if found else OK


@contracts.command()
@click.argument("base")
@click.argument("head", required=False)
@out_option("Also write the Markdown review table here (`-` = stdout).", allow_dash=True,
            old=("--markdown",))
@click.option("--repo", type=click.Path(file_okay=False, exists=True, path_type=Path), default=Path("."),
              show_default=True, help="A folder inside the git repository.")
@json_option
def diff(base: str, head: str | None, out: Path | None, repo: Path, as_json: bool) -> int:
    """Classify every contract change from git ref BASE to HEAD (default: the working tree).

    Exit 1 when a change breaks its contract's compatibility mode without a new version.
    """
    from ._contract_diff_view import show_diff

    return show_diff(repo, base, head, as_json=as_json, markdown=out)


def _default_generated() -> Path:
    from importlib import resources

    return Path(str(resources.files("lume.generated")))


@contracts.command()
@click.option("--check", is_flag=True, help="Exit 1 with a diff when generated/ is stale.")
@out_option("The generated/ folder (default: the installed lume.generated package).", folder=True)
@json_option
def codegen(check: bool, out: Path | None, as_json: bool) -> int:
    """Regenerate generated/ (models, bundled schemas, registry, LUMF layout) from contracts/.

    Needs the codegen extra (pip install 'lume[codegen]').
    """
    from lume.runtime import tooling as cg

    target = out or _default_generated()
    try:
        if check:
            with step(f"rendering contracts/ to compare with {escape(str(target))}", enabled=not as_json):
                diff = cg.diff_against(target)
            if as_json:
                emit_json({"ok": not diff, "generated": str(target), "diff": "".join(diff)})
            elif diff:
                click.echo("".join(diff), nl=False)
                err_console.print(f"[red]generated/ is stale[/]: run `nox -s codegen` "
                                  f"({escape(str(target))})", highlight=False)
            else:
                console.print(f"[green]generated/ is in sync with contracts/[/] ({escape(str(target))})",
                              highlight=False)
            return FAILED if diff else OK
        with step(f"rendering contracts/ into {escape(str(target))}", enabled=not as_json):
            cg.write(target)
    except (RuntimeError, ValueError) as exc:  # the generator failed: its stderr is in the message
        raise BadInput(f"codegen failed: {exc}") from exc
    if as_json:
        emit_json({"ok": True, "generated": str(target)})
    else:
        console.print(f"generated/ rewritten from contracts/ ({escape(str(target))})", highlight=False)
    return OK
