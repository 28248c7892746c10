"""`lume training`: V6 training data against its contracts (check pairs, capture coverage, build pairs)."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import json_option, out_option
from ._output import FAILED, OK, console, emit_json, escape


def _evidence(items) -> list[dict]:
    return [dict(e.to_dict(), ok=e.ok) for e in items]


def _print(items, heading: str) -> int:
    console.print(f"[bold]{escape(heading)}[/]", highlight=False)
    for e in items:
        mark = "[green]ok[/]  " if e.ok else ("[red]FAIL[/]" if e.ok is False else "[yellow]??[/]  ")
        where = f"{e.field}: " if e.field else ""
        console.print(f"  {mark} {escape(where + e.message)}", highlight=False)


@click.group(cls=LumeGroup)
def training() -> None:
    """V6 training data: pairs against the conditioning layout, capture coverage, pair building."""


@training.command()
@click.argument("pairs", type=click.Path(path_type=Path))
@json_option
def check(pairs: Path, as_json: bool) -> int:
    """Check PAIRS.npz against v6_conditioning.v1 and v6_training.v1 (exit 0 ok, 1 red, 2 unreadable)."""
    from lume.runtime.training import check_pairs

    if not pairs.is_file():
        raise BadInput(f"{pairs}: no such file (give a training pairs NPZ)")
    result = check_pairs(pairs)
    if as_json:
        emit_json({"file": str(pairs), "ok": result.ok, "pairs": result.pairs, "tracks": result.tracks,
                   "evidence": _evidence(result.evidence)})
    else:
        _print(result.evidence, f"{pairs}: {result.pairs} pairs")
    return OK if result.ok else FAILED


@training.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--captured-only", is_flag=True, help="Count only captured sessions toward the matrix.")
@json_option
def coverage(manifest: Path, captured_only: bool, as_json: bool) -> int:
    """Check a capture MANIFEST against the V6 capture protocol; lists the missing mode × emotion cells."""
    from lume.runtime.training import coverage as cover
    from lume.runtime.training import load_manifest

    doc = load_manifest(manifest)
    result = cover(doc, file=str(manifest), base=manifest.parent, captured_only=captured_only)
    if as_json:
        emit_json({"file": str(manifest), "ok": result.ok, "rows": list(result.rows),
                   "columns": list(result.columns),
                   "cells": {f"{m}|{e}": ids for (m, e), ids in result.cells.items()},
                   "missing": [[m, e] for m, e in result.missing], "captured": result.captured,
                   "evidence": _evidence(result.evidence)})
        return OK if result.ok else FAILED
    console.print(f"[bold]{escape(str(manifest))}[/]: sessions per cell "
                  f"({'captured' if captured_only else 'planned + captured'})", highlight=False)
    width = max(len(c) for c in result.columns) + 1
    console.print(f"  {'':<28}" + "".join(f"{c:>{width}}" for c in result.columns), highlight=False)
    for m in result.rows:
        cells = "".join(f"{len(result.cells[(m, e)]) or '-':>{width}}" for e in result.columns)
        console.print(f"  {m:<28}{cells}", highlight=False)
    _print(result.evidence, "checks")
    return OK if result.ok else FAILED


@training.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@out_option("The pairs NPZ to write.", required=True)
@json_option
def build(manifest: Path, out: Path, as_json: bool) -> int:
    """Build V6 training pairs from the captured sessions of MANIFEST (seed 001 "JSONL + NPZ -> pairs")."""
    from lume.runtime.training import build_pairs

    built = build_pairs(manifest, out)
    summary = {"out": str(built.path), "pairs": built.pairs, "sessions": built.sessions,
               "train_tracks": built.train_tracks, "val_tracks": built.val_tracks,
               "dropped_frames": built.dropped,
               "sha256": built.sha256, "byte_size": built.byte_size}
    if as_json:
        emit_json(summary)
    else:
        console.print(f"wrote {escape(str(built.path))}: {built.pairs} pairs from {len(built.sessions)} "
                      f"session(s); train tracks {', '.join(built.train_tracks)}; "
                      f"val tracks {', '.join(built.val_tracks)}; "
                      f"{built.dropped} frame(s) without audio dropped; sha256 {built.sha256}",
                      highlight=False)
    return OK
