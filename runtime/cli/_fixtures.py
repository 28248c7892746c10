"""`lume fixtures build`: regenerate the route-smoke fixtures (runs the real storage pipeline)."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import LumeGroup
from ._options import json_option, out_option
from ._output import OK, console, emit_json, escape, quiet_native_stderr, step


def default_out() -> Path:
    """The `fixtures/` folder of this checkout (the lume.fixtures package)."""
    import lume.fixtures

    return Path(lume.fixtures.__file__).resolve().parent


@click.group(cls=LumeGroup)
def fixtures() -> None:
    """Route-smoke fixtures: K11 sessions as they arrive, replayed through the pipeline."""


@fixtures.command()
@out_option("Folder that receives route_smoke/ and pose_coach/ (default: the repository's fixtures/).",
            folder=True)
@click.option("--reuse-media", is_flag=True,
              help="Keep the videos already in OUT instead of encoding them again (OpenCV builds "
                   "encode different bytes; this keeps every checksum stable).")
@json_option
def build(out: Path | None, reuse_media: bool, as_json: bool) -> int:
    """Build route_smoke/ (a K11 root after index, bundle create, add-pose-coach) and pose_coach/.

    Deterministic: timestamps come from SOURCE_DATE_EPOCH (default 1780000000), the RNG is seeded.
    """
    from lume.fixtures import build as run

    target = out or default_out()
    with step("building route-smoke fixtures", enabled=not as_json), quiet_native_stderr():
        folders = run(target, reuse_media=reuse_media)
    files = sorted(p for f in folders for p in f.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    if as_json:
        emit_json({"ok": True, "folders": [str(f) for f in folders], "files": len(files), "bytes": size})
    else:
        for f in folders:
            console.print(f"[green]built[/] {escape(str(f))}", highlight=False)
        console.print(f"{len(files)} files, {size} bytes", highlight=False)
    return OK
