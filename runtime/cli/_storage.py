"""`lume index ROOT` and `lume bundle create | add-pose-coach | export`: K11 storage (seed 000, Waves 1-3)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import click
from rich.markup import escape

from ._output import BAD_INPUT, OK, console, emit_json, err_console


def _bad_input(message: str, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": False, "error": message})
    else:
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise SystemExit(BAD_INPUT)


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[tuple[object, object]]:
    """(on_archive, on_bytes) callbacks driving a rich progress bar, or no-ops."""
    if not enabled:
        yield None, None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("indexing", total=None)  # bytes extracted: not known ahead
        seen = [0]

        def on_archive(name: str, _size: int) -> None:
            seen[0] += 1
            bar.update(task, description=f"archive {seen[0]}: {name}", completed=0)

        def on_bytes(_name: str, n: int) -> None:
            bar.advance(task, n)

        yield on_archive, on_bytes


@click.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--max-bytes", type=click.IntRange(min=0), default=None,
              help="Refuse archives that expand to more bytes (default: SAFE-ARCHIVE-EXTRACT).")
@click.option("--max-members", type=click.IntRange(min=0), default=None,
              help="Refuse archives with more members (default: SAFE-ARCHIVE-EXTRACT).")
@click.option("--root-name", default=None,
              help="How documents name ROOT, e.g. 'C:\\lume\\dance-sessions' (default: as the "
                   "existing index.json names it, else the absolute path).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def index(root: Path, max_bytes: int | None, max_members: int | None, root_name: str | None,
          as_json: bool) -> None:
    """Index the K11 dance-sessions ROOT: verify, extract and record every archive in _incoming.

    Never changes _incoming. Exit 0 every archive indexed, 1 any refused / corrupt / missing
    its checksum (recorded in index.json with a reason and in _logs/indexer.log), 2 bad ROOT.
    """
    from lume.runtime.core import InputError
    from lume.runtime.storage import index_root

    try:
        with _progress(not as_json) as (on_archive, on_bytes):
            result = index_root(root, max_bytes=max_bytes, max_members=max_members, root_name=root_name,
                                on_archive=on_archive, progress=on_bytes)
    except (InputError, OSError) as exc:
        _bad_input(str(exc), as_json)
        return
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
        for name in result.skipped:
            console.print(f"[red]skipped[/]  {escape(name)}: name cannot be indexed", highlight=False)
        for name in result.cleaned:
            console.print(f"[yellow]cleaned[/]  {escape(name)} (left by an interrupted run)", highlight=False)
        c = result.counts
        written = ", ".join(p.name for p in result.written) or "nothing (already current)"
        console.print(f"{c['indexed']}/{c['total']} indexed, {len(result.extracted)} extracted; wrote {written}",
                      highlight=False)
    raise SystemExit(result.exit_code)


@click.group()
def bundle() -> None:
    """Rehearsal bundles (lume.rehearsal_bundle.v1): create, add Pose Coach sessions, export."""


@bundle.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.argument("session_id")
@click.option("--bundle-id", default=None, help="Bundle id (default: the existing one, else SESSION_ID).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def create(root: Path, session_id: str, bundle_id: str | None, as_json: bool) -> None:
    """Write bundle.json, README.md and reports/ for the processed session ROOT/_processed/SESSION_ID.

    Safe to rerun: unchanged inputs leave every byte as it is. Exit 0 written, 2 bad input.
    """
    from lume.runtime.core import InputError
    from lume.runtime.storage import create_bundle, read_bundle

    try:
        folder = create_bundle(root, session_id, bundle_id)
        doc = read_bundle(folder)
    except (InputError, OSError) as exc:
        _bad_input(str(exc), as_json)
        return
    if as_json:
        emit_json({"ok": True, "bundle_dir": str(folder), "bundle": doc})
    else:
        console.print(f"[green]bundle[/] {escape(doc['bundle_id'])}: {len(doc['sources'])} source(s), "
                      f"{len(doc['labels'])} label window(s) -> {escape(str(folder / 'bundle.json'))}",
                      highlight=False)
    raise SystemExit(OK)


@bundle.command("add-pose-coach")
@click.argument("bundle_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("session_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--latest", "latest_root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Pose Coach root: add the session pose-coach-latest-session.json points at.")
@click.option("--copy", "copy_", is_flag=True,
              help="Copy the session into sources/k11_pose_coach/<id>/ (default: reference + checksums).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def add_pose_coach_cmd(bundle_dir: Path, session_dir: Path | None, latest_root: Path | None, copy_: bool,
                       as_json: bool) -> None:
    """Add a K11 Pose Coach session (SESSION_DIR, or the latest under --latest ROOT) to BUNDLE_DIR.

    The same session twice updates its entry. Exit 0 added, 2 bad input.
    """
    from lume.runtime.core import InputError
    from lume.runtime.storage import add_pose_coach, resolve_latest

    if (session_dir is None) == (latest_root is None):
        _bad_input("give exactly one of SESSION_DIR or --latest POSE_COACH_ROOT", as_json)
    try:
        session = session_dir if session_dir is not None else resolve_latest(latest_root)
        entry = add_pose_coach(bundle_dir, session, copy=copy_)
    except (InputError, OSError) as exc:
        _bad_input(str(exc), as_json)
        return
    if as_json:
        emit_json({"ok": True, "entry": entry})
    else:
        size = sum(f["byte_size"] for f in entry["files"])
        console.print(f"[green]{entry['source_id']}[/] Pose Coach session {escape(entry['session_id'])} "
                      f"({entry['storage']}, {len(entry['files'])} files, {size} bytes)", highlight=False)
    raise SystemExit(OK)


@bundle.command("export")
@click.option("--bagit", "bagit", is_flag=True, required=True, help="Write a BagIt bag (RFC 8493).")
@click.argument("bundle_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export(bagit: bool, bundle_dir: Path, out: Path, as_json: bool) -> None:
    """Export BUNDLE_DIR as a BagIt bag at OUT (sha256 + sha512 manifests). Exit 0 ok, 2 bad input."""
    from lume.runtime.core import InputError

    try:
        from lume.runtime.storage import export_bag
    except ImportError as exc:  # the BagIt module is not installed in this tree
        _bad_input(f"BagIt export is unavailable: {exc}", as_json)
        return
    try:
        bag = export_bag(bundle_dir, out)
    except (InputError, OSError, ValueError) as exc:
        _bad_input(str(exc), as_json)
        return
    if as_json:
        emit_json({"ok": True, "bag": str(bag)})
    else:
        console.print(f"[green]bag[/] {escape(str(bag))}", highlight=False)
    raise SystemExit(OK)


__all__ = ["bundle", "index"]
