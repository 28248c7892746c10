"""`lume contracts list | codegen [--check]`."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from lume.runtime.core import ContractError, load_all

from ._output import BAD_INPUT, FAILED, OK, console, emit_json


@click.group()
def contracts() -> None:
    """Inspect contracts and regenerate generated/ from them."""


@contracts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """Show every contract with its version, kind and compatibility mode."""
    rows = [
        {"contract": c.stem, "id": c.id, "version": c.version, "kind": c.kind,
         "compatibility": None if c.is_meta else c.compatibility,
         "title": c.raw.get("title", "")}
        for c in load_all()
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("contract", "version", "kind", "compatibility", "title")
    for r in rows:
        table.add_row(r["contract"], f"v{r['version']}", r["kind"], r["compatibility"] or "-", r["title"])
    console.print(table)


@contracts.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check(as_json: bool) -> None:
    """Validate every contract: envelope, meta-schema, examples and rule tables."""
    from lume.runtime.core import check_all

    try:
        found = check_all()
    except ContractError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(BAD_INPUT) from exc
    if as_json:
        emit_json({"ok": not found, "contracts": len(load_all()),
                   "errors": [p.to_dict() for p in found]})
    else:
        for p in found:
            console.print(str(p), markup=False, highlight=False)
        colour = "red" if found else "green"
        console.print(f"[{colour}]{len(load_all())} contracts checked, {len(found)} problems[/]")
    raise SystemExit(FAILED if found else OK)


@contracts.command()
@click.argument("base")
@click.argument("head", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", "markdown", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default=None, help="Also write the Markdown review table here (`-` = stdout).")
@click.option("--repo", type=click.Path(file_okay=False, exists=True, path_type=Path), default=Path("."),
              show_default=True, help="A folder inside the git repository.")
def diff(base: str, head: str | None, as_json: bool, markdown: Path | None, repo: Path) -> None:
    """Classify every contract change from git ref BASE to HEAD (default: the working tree).

    Exit 1 when a change breaks its contract's compatibility mode without a new version.
    """
    from ._contract_diff_view import show_diff

    show_diff(repo, base, head, as_json=as_json, markdown=markdown)


def _default_out() -> Path:
    return Path(str(resources.files("lume.generated")))


@contracts.command()
@click.option("--check", is_flag=True, help="Exit 1 with a diff when generated/ is stale.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The generated/ folder (default: the installed lume.generated package).")
def codegen(check: bool, out: Path | None) -> None:
    """Regenerate generated/ (models, bundled schemas, registry, LUMF layout) from contracts/."""
    from lume.runtime import tooling as cg

    target = out or _default_out()
    try:
        if check:
            diff = cg.diff_against(target)
            if diff:
                click.echo("".join(diff), nl=False)
                console.print(f"[red]generated/ is stale[/]: run `nox -s codegen` ({target})")
                raise SystemExit(FAILED)
            console.print(f"[green]generated/ is in sync with contracts/[/] ({target})")
            raise SystemExit(OK)
        cg.write(target)
    except (ContractError, RuntimeError, ValueError) as exc:
        console.print(f"[red]codegen failed:[/] {escape(str(exc))}")
        raise SystemExit(BAD_INPUT) from exc
    console.print(f"generated/ rewritten from contracts/ ({target})")
