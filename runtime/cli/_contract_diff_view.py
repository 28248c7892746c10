"""Presentation of `lume contracts diff`: a rich table, JSON or Markdown, and the exit code."""
from __future__ import annotations

import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from lume.runtime.core import write_text

from ._output import FAILED, OK, console, emit_json, fail_input

_COLOURS = {"breaking": "bold red", "review": "yellow", "breaking, new version": "magenta",
            "new version": "cyan", "compatible": "green", "allowed": "green"}


def show_diff(repo: Path, base: str, head: str | None, *, as_json: bool, markdown: Path | None) -> None:
    from lume.runtime.tooling import DiffInputError, diff_refs, yes_no

    try:
        result = diff_refs(repo, base, head)
    except DiffInputError as exc:
        fail_input(escape(str(exc)))
    if markdown is not None:
        text = result.to_markdown()
        if str(markdown) == "-":
            sys.stdout.write(text)
        else:
            write_text(markdown, text)
    if as_json:
        emit_json(result.to_dict())
    elif markdown is None or str(markdown) != "-":
        table = Table("contract", "path", "change", "backward", "forward", "verdict",
                      title=f"contracts {result.base} → {result.head}")
        for r in result.rows:
            colour = _COLOURS.get(r.verdict, "white")
            table.add_row(f"{r.contract} ({r.mode})", r.path, r.change, yes_no(r.backward),
                          yes_no(r.forward), f"[{colour}]{r.verdict}[/]")
        if result.rows:
            console.print(table)
        counts = ", ".join(f"{n} {v}" for v, n in sorted(result.counts().items())) or "no changes"
        colour = "red" if result.failed else "green"
        console.print(f"[{colour}]{result.compared} contracts compared: {counts}[/]"
                      + (" — breaking changes need a new contract version" if result.failed else ""))
        if markdown is not None:
            console.print(f"review table written to {markdown}")
    raise SystemExit(FAILED if result.failed else OK)
