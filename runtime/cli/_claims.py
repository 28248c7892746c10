"""`lume claims check FILE`: a release note or claims YAML against seed 002's claims table."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option
from ._output import FAILED, OK, console, emit_json, escape


def _files(root: Path) -> list[str]:
    out = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        out += [(Path(folder) / n).relative_to(root).as_posix() for n in sorted(names)]
    return out


@click.group(cls=LumeGroup)
def claims() -> None:
    """Claims a release makes, held against claims.v1 ("What Not To Claim Yet", seed 002)."""


@claims.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="Where the evidence lives (default: the file's folder).")
@json_option
def check(file: Path, root: Path | None, as_json: bool) -> int:
    """Check the claims of FILE (Markdown front matter or claims YAML).

    Exit 0 when every claim rests on its evidence, 1 when one does not, 2 for bad input.
    """
    from lume.runtime.training import RootEvidence, evaluate, read_claims, sha256_file

    root = (root or file.parent).resolve()
    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    doc = read_claims(file)
    if doc is None:
        raise BadInput(f"{file}: no lume.release_claims.v1 front matter (a first line `---`, YAML, then `---`)")
    try:
        rel = file.resolve().relative_to(root).as_posix()
    except ValueError:
        rel = os.path.relpath(file.resolve(), root).replace(os.sep, "/")
    evidence = RootEvidence.scan(root, _files(root), lambda r: sha256_file(root / r))
    results = evaluate(doc, rel, evidence)
    bad = any(e.ok is False for e in results)
    if as_json:
        emit_json({"file": str(file), "root": str(root), "release": doc["release"], "ok": not bad,
                   "evidence": [dict(e.to_dict(), ok=e.ok) for e in results]})
    else:
        console.print(f"[bold]{escape(doc['release'])}[/] ({escape(str(file))}), "
                      f"evidence under {escape(str(root))}",
                      highlight=False)
        for e in results:
            mark = "[green]ok[/]  " if e.ok else "[red]FAIL[/]"
            console.print(f"  {mark} {escape(e.message)}", highlight=False)
            if e.ok is False:
                console.print(f"       needs: {escape(str(e.expected))}", highlight=False)
    return FAILED if bad else OK
