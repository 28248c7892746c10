"""`lume mac5 process ROOT BUNDLE_ID --worker CMD`: the Mac5 pull / process / return handoff."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import LumeGroup
from ._options import Duration, json_option
from ._output import OK, console, emit_json, escape, step

SHIPPED_WORKER = "python -m lume.runtime.workers.sam3d"


@click.group(cls=LumeGroup)
def mac5() -> None:
    """Mac5 offline reconstruction: pull a K11 session, run a worker, return derived/sam3d."""


@mac5.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.argument("bundle_id")
@click.option("--worker", "worker_cmd", required=True, metavar="'CMD …'",
              help="Worker command; gets --session DIR --fps N [--label-windows-only] unless it "
                   "uses the placeholders {session} {out} {fps}. The shipped worker is "
                   f"'{SHIPPED_WORKER}'.")
@click.option("--label-windows-only", is_flag=True, help="Sample only inside label windows.")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Frames per second to sample.")
@click.option("--gate-report", type=click.Path(path_type=Path), default=None,
              help="Mac4-first completion-gate report: a readiness report in a DSSE envelope "
                   "signed by a trusted key, fresh and green (SAFE-MAC5-GATE).")
@click.option("--timeout", "timeout_s", type=Duration(positive=True), default=None,
              help="Stop the worker after this long, e.g. 30m (default: no limit).")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the temporary working copy goes (default: the system temp folder).")
@json_option
def process(root: Path, bundle_id: str, worker_cmd: str, label_windows_only: bool, fps: float,
            gate_report: Path | None, timeout_s: float | None, workdir: Path | None,
            as_json: bool) -> int:
    """Run WORKER on a local copy of BUNDLE_ID's long take and write derived/sam3d into the bundle.

    Exit 0 done, 1 refused (no green completion gate, worker failed, invalid outputs, sources
    changed; the bundle is then unchanged), 2 bad input.
    """
    from lume.runtime.storage import mac5_process as run

    with step("Mac5 worker running", enabled=not as_json):
        result = run(root, bundle_id, worker_cmd, label_windows_only=label_windows_only,
                     fps=fps, gate_report=gate_report, timeout_s=timeout_s, workdir=workdir)
    if as_json:
        emit_json({"ok": True, **result.to_dict()})
    else:
        console.print(f"[green]ok[/] {result.derived_id} ({result.status}, {result.sampling_policy}): "
                      f"{result.frames_sampled} frames sampled, {result.frames_with_body} with a body",
                      highlight=False)
        for out in result.outputs:
            console.print(f"      {escape(out['path'])} [dim]{out['byte_size']} B sha256 {out['sha256'][:16]}…[/]",
                          highlight=False)
        console.print(f"      sources unchanged: {len(result.sources)} files verified by sha256 and size",
                      highlight=False)
    return OK
