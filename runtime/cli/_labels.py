"""`lume labels`: the canonical label table (labels.v1): show it, map labels through it."""
from __future__ import annotations

import click
from rich.markup import escape

from ._errors import LumeGroup
from ._options import LazyChoice, json_option
from ._output import BAD_INPUT, OK, console, emit_json, err_console

TABLE = "labels.v1"
WIDE = 120  # from this terminal width on, the dispatch label and the aliases get columns too


def _lanes() -> list[str]:
    from lume.generated.constants import LANES

    return list(LANES)


@click.group(cls=LumeGroup)
def labels() -> None:
    """The unified label vocabulary: Mac4 markers, Pose Coach and AirDeck labels (labels.v1)."""


def _print(rows, title: str) -> None:
    """One table per lane. Label names are never cut; other columns wrap. A narrow terminal
    (80 columns) shows label, category, status and command; --json has every field."""
    from rich import box
    from rich.table import Table

    wide = console.width >= WIDE
    console.print(f"[bold]{escape(title)}[/]", highlight=False, soft_wrap=False)
    if not wide:
        console.print("[dim]aliases and dispatch labels: --json, or a terminal of 120 columns[/]",
                      highlight=False, soft_wrap=False)
    for lane in dict.fromkeys(m.lane for m in rows):
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left",
                      title=f"{lane} lane", title_style="bold")
        table.add_column("label", no_wrap=True)
        table.add_column("category", overflow="fold")
        table.add_column("status", overflow="fold")
        table.add_column("command", overflow="fold")
        if wide:
            table.add_column("gate dispatches", overflow="fold")
            table.add_column("aliases", overflow="fold")
        for m in (m for m in rows if m.lane == lane):
            shown = m.canonical if m.via == "name" else f"{m.label} → {m.canonical}"
            command = escape(m.command or "-") + (" [red](destructive)[/]" if m.destructive else "")
            cells = [escape(shown), m.category, m.promotion_status, command]
            if wide:
                cells += [m.dispatch_label or "-", escape(", ".join(m.aliases) or "-")]
            table.add_row(*cells)
        console.print(table, soft_wrap=False)


@labels.command()
@click.option("--lane", type=LazyChoice(_lanes), default=None, help="Only the labels of one lane.")
@json_option
def show(lane: str | None, as_json: bool) -> int:
    """Every label with its category, lane, command and promotion status."""
    from lume.runtime.core import LabelIndex, get

    rows = LabelIndex.load().show(lane)
    if as_json:
        emit_json({"table": get(TABLE).id, "lane": lane, "labels": [m.to_dict() for m in rows]})
    else:
        _print(rows, f"{TABLE}{f' ({lane} lane)' if lane else ''}: {len(rows)} labels")
    return OK


@labels.command(name="map")
@click.argument("names", nargs=-1, required=True)
@json_option
def map_(names: tuple[str, ...], as_json: bool) -> int:
    """Map labels (names or aliases) to their unified category and lane; exit 2 on unknown ones."""
    from lume.runtime.core import LabelIndex, get

    found, unknown = LabelIndex.load().map_all(names)
    if as_json:
        emit_json({"table": get(TABLE).id, "labels": [m.to_dict() for m in found],
                   "unknown": [{"label": u.label, "suggestions": u.suggestions} for u in unknown]})
    elif found:
        _print(found, f"{len(found)} label(s) mapped through {TABLE}")
    for u in unknown:
        err_console.print(f"[bold red]error:[/] {escape(str(u))}", highlight=False)
    return BAD_INPUT if unknown else OK
