"""`lume models status [ROOT]`: each model artifact record under seed 002's eight live-safe criteria."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option
from ._output import FAILED, OK, console, emit_json, escape


def _records(root: Path) -> list[str]:
    from lume.runtime.core import InputError, read_json

    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".json"):
                path = Path(folder) / name
                try:
                    doc = read_json(path)
                except InputError:
                    continue
                if isinstance(doc, dict) and doc.get("schema") == "lume.model_artifact.v1":
                    found.append(path.relative_to(root).as_posix())
    return found


@click.group(cls=LumeGroup)
def models() -> None:
    """Model artifact records: digests and the eight live-safe criteria (live_safe_policy.v1)."""


@models.command()
@click.argument("root", required=False, type=click.Path(path_type=Path))
@json_option
def status(root: Path | None, as_json: bool) -> int:
    """Status of every model artifact record under ROOT (default: the route-smoke fixtures).

    Exit 0 when every record's files match their digests and no record claims live_safe without
    all eight criteria; 1 otherwise; 2 when ROOT holds no record or one is not a valid record.
    """
    from lume.runtime.training import assess, load_record

    if root is None:
        from lume.fixtures import route_smoke_root

        root = route_smoke_root()
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    rels = _records(root)
    if not rels:
        raise BadInput(f"{root}: no lume.model_artifact.v1 record below it")
    assessments = []
    for rel in rels:
        assessments.append(assess(load_record(root / rel), root, rel))
    bad = any(e.ok is False for a in assessments for e in a.evidence())
    if as_json:
        emit_json({"root": str(root), "ok": not bad, "records": [
            {"record": a.record, "run_id": a.run_id, "claimed": a.claimed, "status": a.status,
             "model": a.model, "criteria": a.criteria,
             "problems": [e.to_dict() for e in a.evidence() if e.ok is False]} for a in assessments]})
        return FAILED if bad else OK
    for a in assessments:
        colour = "green" if a.status == "live_safe" else "yellow"
        console.print(f"[bold]{escape(a.run_id)}[/] ({escape(a.record)}): "
                      f"{a.model['family']} {a.model['version']} "
                      f"- [{colour}]{a.status}[/] (claims {a.claimed})", highlight=False)
        for c in a.criteria:
            mark = "[green]met[/]    " if c["met"] else "[red]missing[/]"
            console.print(f"  {c['order']}. {mark} {escape(c['sentence'])}: {escape(c['detail'])}",
                          highlight=False)
        for e in a.evidence():
            if e.ok is False:
                console.print(f"  [red]FAIL[/] {escape(': '.join(x for x in (e.file, e.field) if x))}: "
                              f"{escape(e.message)} (expected {escape(repr(e.expected))}, found "
                              f"{escape(repr(e.found))})", highlight=False)
    return FAILED if bad else OK
