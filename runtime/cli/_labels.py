"""`lume labels`: the canonical label table (labels.v1): show it, map labels through it."""
from __future__ import annotations

import click
from rich.markup import escape

from lume.generated.constants import LANES
from lume.runtime.core import get

from ._output import BAD_INPUT, OK, console, emit_json, err_console


@click.group()
def labels() -> None:
    """The unified label vocabulary: Mac4 markers, Pose Coach and AirDeck labels (labels.v1)."""


def _command(m) -> str:
    if m.command is None:
        return "-"
    deck = f" deck {m.deck}" if m.deck else ""
    return f"{m.command} ({m.action}{deck})" if m.command != m.canonical else f"{m.action}{deck}"


def _print(rows, title: str) -> None:
    """One line per label (soft-wrapped: names stay whole however narrow the terminal)."""
    console.print(f"[bold]{escape(title)}[/]", highlight=False)
    console.print(f"  {'label':<26} {'category':<24} {'lane':<11} {'status':<12} {'command':<30} "
                  f"{'gate dispatches':<20} aliases", style="dim", highlight=False)
    for m in rows:
        shown = m.canonical if m.via == "name" else f"{m.label}->{m.canonical}"
        destructive = " [red]destructive[/]" if m.destructive else ""
        console.print(f"  {escape(shown):<26} {m.category:<24} {m.lane:<11} {m.promotion_status:<12} "
                      f"{escape(_command(m)):<30} {m.dispatch_label or '-':<20} "
                      f"{', '.join(m.aliases) or '-'}{destructive}", highlight=False)


@labels.command()
@click.option("--lane", type=click.Choice(LANES), default=None, help="Only the labels of one lane.")
@click.option("--json", "as_json", is_flag=True, help="Machine output.")
def show(lane: str | None, as_json: bool) -> None:
    """Every label with its category, lane, command and promotion status."""
    from lume.runtime.core import LabelIndex

    rows = LabelIndex.load().show(lane)
    if as_json:
        emit_json({"table": get("labels.v1").id, "lane": lane, "labels": [m.to_dict() for m in rows]})
    else:
        _print(rows, f"labels.v1{f' ({lane} lane)' if lane else ''}: {len(rows)} labels")
    raise SystemExit(OK)


@labels.command(name="map")
@click.argument("names", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine output.")
def map_(names: tuple[str, ...], as_json: bool) -> None:
    """Map labels (names or aliases) to their unified category and lane; exit 2 on unknown ones."""
    from lume.runtime.core import LabelIndex

    found, unknown = LabelIndex.load().map_all(names)
    if as_json:
        emit_json({"table": get("labels.v1").id, "labels": [m.to_dict() for m in found],
                   "unknown": [{"label": u.label, "suggestions": u.suggestions} for u in unknown]})
    else:
        if found:
            _print(found, f"{len(found)} label(s) mapped through labels.v1")
    for u in unknown:
        err_console.print(f"[bold red]error:[/] {escape(str(u))}", highlight=False)
    raise SystemExit(BAD_INPUT if unknown else OK)
