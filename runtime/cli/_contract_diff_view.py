"""Presentation of `lume contracts diff`: a rich table, JSON or Markdown, and the exit code."""
from __future__ import annotations

import sys
from pathlib import Path

from rich import box
from rich.table import Table

from ._output import FAILED, OK, console, emit_json, escape

_COLOURS = {"breaking": "bold red", "review": "yellow", "breaking, new version": "magenta",
            "new version": "cyan", "compatible": "green", "allowed": "green"}


def show_diff(repo: Path, base: str, head: str | None, *, as_json: bool, markdown: Path | None) -> int:
    from lume.runtime.core import write_text
    from lume.runtime.tooling import diff_refs, yes_no

    result = diff_refs(repo, base, head)  # DiffInputError: exit 2
    if markdown is not None:
        text = result.to_markdown()
        if str(markdown) == "-":
            sys.stdout.write(text)
        else:
            write_text(markdown, text)
    if as_json:
        emit_json(result.to_dict())
    elif markdown is None or str(markdown) != "-":
        # Contract names are never cut; paths and changes fold, so everything fits 80 columns.
        console.print(f"contracts {escape(result.base)} → {escape(result.head)}", highlight=False,
                      soft_wrap=False)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("contract (mode)", no_wrap=True)
        table.add_column("path", overflow="fold", ratio=2)
        table.add_column("change", overflow="fold", ratio=3)
        table.add_column("back/fwd", no_wrap=True)
        table.add_column("verdict", overflow="fold", ratio=1)
        for r in result.rows:
            colour = _COLOURS.get(r.verdict, "white")
            table.add_row(f"{r.contract}\n({r.mode})", escape(r.path), escape(r.change),
                          f"{yes_no(r.backward)}/{yes_no(r.forward)}", f"[{colour}]{r.verdict}[/]")
        if result.rows:
            console.print(table, soft_wrap=False)
        counts = ", ".join(f"{n} {v}" for v, n in sorted(result.counts().items())) or "no changes"
        colour = "red" if result.failed else "green"
        console.print(f"[{colour}]{result.compared} contracts compared: {counts}[/]"
                      + (" — breaking changes need a new contract version" if result.failed else ""),
                      soft_wrap=False)
        if markdown is not None:
            console.print(f"review table written to {escape(str(markdown))}", highlight=False)
    return FAILED if result.failed else OK
