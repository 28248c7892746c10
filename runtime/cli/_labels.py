"""`lume labels`: the canonical label table (labels.v1): show it, map labels through it."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import LazyChoice, json_option
from ._output import BAD_INPUT, OK, console, emit_json, err_console, escape

TABLE = "labels.v1"
WIDE = 120  # from this terminal width on, the dispatch label and the aliases get columns too


def _lanes() -> list[str]:
    from lume.generated.constants import LANES

    return list(LANES)


@click.group(cls=LumeGroup)
def labels() -> None:
    """The unified label vocabulary: Mac4 markers, Pose Coach and AirDeck labels (labels.v1)."""


def _print(rows, title: str, standing=None) -> None:
    """One table per lane. Label names are never cut; other columns wrap. A narrow terminal
    (80 columns) shows label, category, status and command; --json has every field. "table
    says" is what the label may become (labels.v1 `table_says`); with a bundle, "manifest" is
    whether its signed promoted manifest promotes it."""
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
        table.add_column("table says", overflow="fold")
        if standing is not None:
            table.add_column("manifest", overflow="fold")
        table.add_column("command", overflow="fold")
        if wide:
            table.add_column("gate dispatches", overflow="fold")
            table.add_column("aliases", overflow="fold")
        for m in (m for m in rows if m.lane == lane):
            shown = m.canonical if m.via == "name" else f"{m.label} → {m.canonical}"
            command = escape(m.command or "-") + (" [red](destructive)[/]" if m.destructive else "")
            cells = [escape(shown), m.category, m.table_says]
            if standing is not None:
                said = standing.of(m.canonical)
                colour = "green" if said.startswith("promoted") else "dim" if said == "not promoted" else "yellow"
                cells.append(f"[{colour}]{escape(said)}[/]")
            cells.append(command)
            if wide:
                cells += [m.dispatch_label or "-", escape(", ".join(m.aliases) or "-")]
            table.add_row(*cells)
        console.print(table, soft_wrap=False)


def _standing(bundle: Path, trust_path: Path | None):
    from lume.runtime.core import ReportRejected, load_trust, trust_file
    from lume.runtime.templates import manifest_standing

    if not bundle.is_dir():
        raise BadInput(f"{bundle}: not a bundle folder")
    try:
        return manifest_standing(bundle, trust=load_trust(trust_path or trust_file()))
    except ReportRejected as exc:  # raised only when the file cannot be read as a manifest at all
        raise BadInput(str(exc)) from exc


@labels.command()
@click.option("--lane", type=LazyChoice(_lanes), default=None, help="Only the labels of one lane.")
@click.option("--bundle", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Rehearsal bundle whose signed promoted manifest (derived/airdeck/"
                   "promoted_gestures.json) says which labels ARE promoted.")
@click.option("--trust-file", "trust_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Trust file the manifest's signature is checked against (default: LUME_TRUST_FILE, "
                   "the configuration, <key dir>/trusted_keys.json).")
@json_option
def show(lane: str | None, bundle: Path | None, trust_path: Path | None, as_json: bool) -> int:
    """Every label with its category, lane, command and what the table says it may become
    ("promotable", "candidate", ...). Whether a label IS promoted only a signed promoted
    manifest says: --bundle adds that column."""
    from lume.runtime.core import LabelIndex, get

    rows = LabelIndex.load().show(lane)
    standing = None if bundle is None else _standing(bundle, trust_path)
    if as_json:
        labels_ = [m.to_dict() | ({} if standing is None else {"manifest": standing.of(m.canonical)})
                   for m in rows]
        emit_json({"table": get(TABLE).id, "lane": lane, "labels": labels_,
                   "manifest": None if standing is None else standing.to_dict()})
        return OK
    _print(rows, f"{TABLE}{f' ({lane} lane)' if lane else ''}: {len(rows)} labels", standing)
    if standing is None:
        console.print("[dim]the table says what a label may become; whether it is promoted is what a "
                      "signed promoted manifest says: --bundle BUNDLE[/]", highlight=False, soft_wrap=False)
    else:
        colour = "green" if standing.holds else "yellow"
        console.print(f"manifest {escape(str(standing.path))}: [{colour}]{escape(standing.state)}[/] "
                      f"({escape(standing.detail)})", highlight=False, soft_wrap=False)
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
