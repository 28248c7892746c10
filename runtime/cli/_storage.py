"""`lume index ROOT` and `lume bundle create | add-pose-coach | export`: K11 storage."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import click

from ._errors import BadInput, LumeCommand, LumeGroup
from ._options import Duration, HiddenArgument, config_option, hidden_flag, json_option, out_option
from ._output import OK, console, emit_json, err_console, escape, progress, step


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[tuple[object, object]]:
    """(on_archive, on_bytes) callbacks driving a rich progress bar, or no-ops."""
    if not enabled:
        yield None, None
        return
    with progress(transfer=True) as bar:
        task = bar.add_task("indexing", total=None)  # bytes extracted: not known ahead
        seen = [0]

        def on_archive(name: str, _size: int) -> None:
            seen[0] += 1
            bar.update(task, description=f"archive {seen[0]}: {escape(name)}", completed=0)

        def on_bytes(_name: str, n: int) -> None:
            bar.advance(task, n)

        yield on_archive, on_bytes


def _warn(notes: list) -> None:
    """Warnings (unknown keys kept from other programs' files) on stderr, one line each."""
    for n in notes:
        err_console.print(f"[yellow]warning:[/] {escape(str(n))}", highlight=False)


@click.command(cls=LumeCommand)
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--max-bytes", type=click.IntRange(min=0), default=None,
              help="Refuse archives that expand to more bytes (default: SAFE-ARCHIVE-EXTRACT).")
@click.option("--max-members", type=click.IntRange(min=0), default=None,
              help="Refuse archives with more members (default: SAFE-ARCHIVE-EXTRACT).")
@click.option("--root-name", default=None,
              help="How documents name ROOT, e.g. 'C:\\lume\\dance-sessions' (default: as the "
                   "existing index.json names it, else the absolute path).")
@click.option("--wait", "wait_s", type=Duration(), default=0.0,
              help="When another indexer is working on ROOT, wait this long for it, e.g. 10m "
                   "(default: stop at once, exit 1).")
@json_option
def index(root: Path, max_bytes: int | None, max_members: int | None, root_name: str | None,
          wait_s: float, as_json: bool) -> int:
    """Index the K11 dance-sessions ROOT: verify, extract and record every archive in _incoming.

    Never changes _incoming. One indexer per ROOT at a time. Exit 0 every archive indexed, 1 any
    refused / corrupt / pending / missing its checksum (recorded in index.json with a reason and
    in _logs/indexer.log), something in _incoming or _processed to look at, or another indexer
    busy with ROOT; 2 bad ROOT.
    """
    from lume.runtime.storage import index_root

    with _progress(not as_json) as (on_archive, on_bytes):
        result = index_root(root, max_bytes=max_bytes, max_members=max_members, root_name=root_name,
                            on_archive=on_archive, progress=on_bytes, wait_s=wait_s)
    if as_json:
        emit_json(result.to_dict())
    else:
        for e in result.entries:
            if e["status"] == "indexed":
                console.print(f"[green]indexed[/]  {escape(e['archive_name'])} -> {escape(str(e['processed_path']))}",
                              highlight=False)
            else:
                console.print(f"[red]{e['status']}[/]  {escape(e['archive_name'])}: {escape(str(e['reason']))}",
                              highlight=False)
        for item in result.skipped:
            console.print(f"[red]skipped[/]  {escape(item['name'])}: {escape(item['reason'])}", highlight=False)
        for item in result.links:
            console.print(f"[red]link[/]     {escape(item['path'])}: {escape(item['reason'])}", highlight=False)
        for name in result.cleaned:
            console.print(f"[yellow]cleaned[/]  {escape(name)} (left by an interrupted run)", highlight=False)
        c = result.counts
        written = ", ".join(p.name for p in result.written) or "nothing (already current)"
        console.print(f"{c['indexed']}/{c['total']} indexed, {len(result.extracted)} extracted; wrote {written}",
                      highlight=False)
    return result.exit_code


@click.group(cls=LumeGroup)
def bundle() -> None:
    """Rehearsal bundles (lume.rehearsal_bundle.v1): create, add Pose Coach sessions, export."""


@bundle.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.argument("session_id")
@click.option("--bundle-id", default=None, help="Bundle id (default: the existing one, else SESSION_ID).")
@json_option
def create(root: Path, session_id: str, bundle_id: str | None, as_json: bool) -> int:
    """Write bundle.json, README.md and reports/ for the processed session ROOT/_processed/SESSION_ID.

    Safe to rerun: unchanged inputs leave every byte as it is. Exit 0 written, 2 bad input.
    """
    from lume.runtime.storage import create_bundle, read_bundle

    notes: list = []
    with step(f"bundling {escape(session_id)}", enabled=not as_json):
        folder = create_bundle(root, session_id, bundle_id, notes=notes)
        doc = read_bundle(folder)
    if as_json:
        emit_json({"ok": True, "bundle_dir": str(folder), "bundle": doc,
                   "warnings": [n.to_dict() for n in notes]})
    else:
        _warn(notes)
        console.print(f"[green]bundle[/] {escape(doc['bundle_id'])}: {len(doc['sources'])} source(s), "
                      f"{len(doc['labels'])} label window(s) -> {escape(str(folder / 'bundle.json'))}",
                      highlight=False)
    return OK


@bundle.command("add-pose-coach")
@click.argument("bundle_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("session_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--latest", "latest_root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Pose Coach root: add the session pose-coach-latest-session.json points at.")
@click.option("--copy", "copy_", is_flag=True,
              help="Copy the session into sources/k11_pose_coach/<id>/ (default: reference + checksums).")
@json_option
def add_pose_coach_cmd(bundle_dir: Path, session_dir: Path | None, latest_root: Path | None, copy_: bool,
                       as_json: bool) -> int:
    """Add a K11 Pose Coach session (SESSION_DIR, or the latest under --latest ROOT) to BUNDLE_DIR.

    The same session twice updates its entry. Exit 0 added, 2 bad input.
    """
    from lume.runtime.storage import add_pose_coach, resolve_latest

    if (session_dir is None) == (latest_root is None):
        raise BadInput("give exactly one of SESSION_DIR or --latest POSE_COACH_ROOT")
    session = session_dir if session_dir is not None else resolve_latest(latest_root)
    notes: list = []
    with step(f"adding {escape(str(session))}", enabled=not as_json):
        entry = add_pose_coach(bundle_dir, session, copy=copy_, notes=notes)
    if as_json:
        emit_json({"ok": True, "entry": entry, "warnings": [n.to_dict() for n in notes]})
    else:
        _warn(notes)
        size = sum(f["byte_size"] for f in entry["files"])
        console.print(f"[green]{entry['source_id']}[/] Pose Coach session {escape(entry['session_id'])} "
                      f"({entry['storage']}, {len(entry['files'])} files, {size} bytes)", highlight=False)
    return OK


@bundle.command("export")
@hidden_flag("--bagit")
@click.argument("bundle_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("out_arg", required=False, cls=HiddenArgument, type=click.Path(path_type=Path))
@out_option("Where to write the BagIt bag (a new folder).")
@click.option("--include-referenced", is_flag=True,
              help="Copy the files the bundle keeps by reference into the bag (default: list them in "
                   "fetch.txt, with their checksums in the manifests).")
@config_option
@json_option
def export(bundle_dir: Path, out_arg: Path | None, out: Path | None, include_referenced: bool,
           config_path: Path | None, as_json: bool) -> int:
    """Export BUNDLE_DIR as a BagIt bag (RFC 8493, sha256 + sha512 manifests) at --out.

    Files kept by reference (a Pose Coach session on K11's Pose Coach root) are hashed where they
    live, through the reference roots the machine configuration mounts, and listed in fetch.txt
    or, with --include-referenced, copied into the bag; the output says which. Exit 0 written,
    2 bad input (OUT exists or is inside the bundle, a referenced file not reachable or changed).
    """
    from lume.runtime.core import load_machine_config
    from lume.runtime.storage import export_bundle

    if out is not None and out_arg is not None:
        raise BadInput("give the bag folder once (-o/--out)")
    target = out if out is not None else out_arg
    if target is None:
        raise click.UsageError("missing option '-o' / '--out': where to write the bag")
    machine = load_machine_config(config_path)
    try:
        with step(f"writing the bag {escape(str(target))}", enabled=not as_json):
            done = export_bundle(bundle_dir, target, include_referenced=include_referenced, config=machine)
    except ValueError as exc:  # bagit-python's own refusals
        raise BadInput(str(exc)) from exc
    if as_json:
        emit_json({"ok": True, **done.to_dict()})
    else:
        how = {"fetch": f"; {done.referenced} referenced file(s) listed in fetch.txt "
                        "(fetch them to complete the bag)",
               "included": f"; {done.referenced} referenced file(s) included in the bag",
               "none": ""}[done.mode]
        console.print(f"[green]bag[/] {escape(str(done.path))}{how}", highlight=False)
    return OK


__all__ = ["bundle", "index"]
