"""`lume sled constants`: the universal sled's constants, their relations, the lume-config.scad section."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option, out_option
from ._output import FAILED, OK, console, emit_json, err_console, escape


@click.group(cls=LumeGroup)
def sled() -> None:
    """The universal sled of seed 004 Q3 (sled_constants.v1)."""


def _read_set(path: Path) -> dict:
    from lume.runtime.core import get, problems, read_yaml

    doc = read_yaml(path)  # a bounded yaml_document input: InputError (exit 2) names the file
    bad = problems(doc, get("sled_constants_set.v1"), file=str(path))
    if bad:
        raise BadInput(f"{path}: not a valid sled_constants_set.v1: {bad[0].path}: {bad[0].message}")
    return doc


@sled.command()
@out_option("Write the lume-config.scad section into this file (created, or its section replaced).",
            old=("--scad",))
@click.option("--check", "check_file", type=click.Path(path_type=Path), default=None,
              help="Also check a sled_constants_set.v1 file (JSON or YAML), e.g. a CAD tree's numbers.")
@json_option
def constants(out: Path | None, check_file: Path | None, as_json: bool) -> int:
    """The constants and whether every relation holds; exit 0 all hold, 1 one is broken, 2 bad input."""
    from lume.runtime.sled import check, check_statements, number, shipped, write_section

    c = shipped()
    outcomes, _ = check(c.values)
    other = check_statements(_read_set(check_file)) if check_file else None
    written = None
    if out is not None:
        written = write_section(out, c)  # an OSError names the file: exit 2
    ok = all(o.ok for o in outcomes) and (other is None or other.ok)
    if as_json:
        doc = {"contract": c.contract_id, "ok": ok,
               "constants": {r["name"]: r["value"] for r in c.rows},
               "relations": [{"id": o.relation.id, "ok": o.ok, "message": o.message} for o in outcomes]}
        if other is not None:
            doc["check"] = {"file": str(check_file), "ok": other.ok, "conflicts": other.conflicts,
                            "unknown": other.unknown, "readings": [
                                {"reading": r.name, "relations": [{"id": o.relation.id, "ok": o.ok,
                                                                   "message": o.message}
                                                                  for o in outs],
                                 "not_stated": [s.id for s in skipped]} for r, outs,
                                 skipped in other.readings]}
        if written is not None:
            doc["scad"] = {"path": str(written.path), "action": written.action,
                           "clashes": list(written.clashes)}
        emit_json(doc)
        return OK if ok else FAILED
    console.print(f"[bold]{c.contract_id}[/]: {len(c.rows)} constants (mm)", highlight=False)
    for r in c.rows:
        console.print(f"  {r['name']:<28} {number(r['value']):>7}  {escape(r['description'])}",
                      highlight=False)
    console.print(f"[bold]relations[/]: {sum(o.ok for o in outcomes)} of {len(outcomes)} hold",
                  highlight=False)
    for o in outcomes:
        if not o.ok:
            console.print(f"  [red]FAIL[/] {escape(o.message)}", highlight=False)
    if other is not None:
        console.print(f"[bold]{escape(str(check_file))}[/]", highlight=False)
        for text in other.conflicts:
            console.print(f"  [red]FAIL[/] {escape(text)}", highlight=False)
        for name in other.unknown:
            console.print(f"  [red]FAIL[/] {escape(name)} is not a constant of the contract", highlight=False)
        for reading, outs, skipped in other.readings:
            label = f"{reading.name} reading" if reading.name else "as stated"
            console.print(f"  {label}: {sum(o.ok for o in outs)} of {len(outs)} stated relations hold "
                          f"({len(skipped)} not stated in full)", highlight=False)
            for o in outs:
                if not o.ok:
                    console.print(f"    [red]FAIL[/] {escape(o.message)}", highlight=False)
    if written is not None:
        console.print(f"{written.action} the {escape(c.scad['file'])} section in {escape(str(written.path))}",
                      highlight=False)
        if written.clashes:
            err_console.print(f"[yellow]warning:[/] the rest of {escape(str(written.path))} also assigns "
                              f"{', '.join(written.clashes)}; OpenSCAD keeps the last assignment",
                              highlight=False)
    return OK if ok else FAILED
