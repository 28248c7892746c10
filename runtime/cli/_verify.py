"""`lume verify [ROOT]`: run the verifiers over a storage root and write a signed readiness report."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click

from ._output import FAILED, OK, console, emit_json, err_console, fail_input

if TYPE_CHECKING:
    from lume.runtime.core import SigningKey

STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "inconclusive": "[yellow]INCONCLUSIVE[/]"}
SHOWN_PER_CHECK = 25


def signing_key(say: Callable[[str], None]) -> SigningKey:
    """This machine's key; created and trusted on first use (and said so)."""
    from lume.runtime.core import load_or_create_key, load_trust, trust, trust_file

    key = load_or_create_key()
    if key.created:
        trust(key.public_hex, name="local (trusted on first use)")
        say(f"[bold]created a signing key[/] {key.keyid} in {key.path.parent} and trusted it on "
            f"first use ({trust_file()}); other machines trust it with "
            f"`lume keys trust {key.public_hex}`")
    elif key.keyid not in {e["keyid"] for e in load_trust()}:
        say(f"[yellow]warning:[/] signing key {key.keyid} is not in the trust file {trust_file()}; "
            f"`lume report verify` will reject this report until you run "
            f"`lume keys trust {key.public_hex}`")
    return key


@click.command()
@click.argument("root", required=False, type=click.Path(path_type=Path))
@click.option("--report", "report_path", type=click.Path(path_type=Path),
              default=Path("reports/readiness.json"), show_default=True,
              help="Where to write the signed report (Markdown and HTML are written beside it).")
@click.option("--only", multiple=True, metavar="ID",
              help="Run only this check (repeat, or separate ids with commas).")
@click.option("--quick", is_flag=True,
              help="Trust digests and per-file results of files whose size, mtime, ctime and inode "
                   "are unchanged since the last run (default: re-hash everything).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(root: Path | None, report_path: Path, only: tuple[str, ...], quick: bool, as_json: bool) -> None:
    """Verify ROOT (default: the shipped route-smoke fixtures); exit 0 green, 1 red, 2 bad input."""
    from rich.progress import Progress

    from lume.runtime.core import InputError
    from lume.verifiers import UnknownCheck, default_root, report, run, select

    out = err_console if as_json else console
    root = root if root is not None else default_root()
    if not root.is_dir():
        fail_input(f"{root}: not a folder (give a storage root, or nothing for the route-smoke fixtures)")
    ids = [i.strip() for group in only for i in group.split(",") if i.strip()]
    try:
        chosen = select(ids)
        key = signing_key(lambda text: out.print(text, highlight=False))
    except UnknownCheck as exc:
        fail_input(str(exc))
    except InputError as exc:
        fail_input(str(exc))
    with Progress(console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("verifying", total=len(chosen))

        def progress(v, result):
            if result is None:
                bar.update(task, description=f"{v.id}")
            else:
                bar.advance(task)

        result = run(root, only=ids, quick=quick, progress=progress)
    try:
        envelope = report(result, key, report_path)
    except OSError as exc:
        fail_input(f"{report_path}: cannot write the report: {exc.strerror or exc}")
    from lume.runtime.core import decode_statement

    verdicts = decode_statement(envelope)["predicate"]["verdicts"]
    if as_json:
        emit_json({"overall": verdicts["overall"], "verdicts": verdicts, "root": str(result.root),
                   "report": str(report_path), "keyid": key.keyid, "quick": quick,
                   "checks": [c.to_dict() for c in result.checks],
                   "not_applicable": [{"id": i, "needs": needs} for i, needs in result.not_applicable]})
    else:
        _print(result, verdicts, report_path, key.keyid)
    raise SystemExit(OK if verdicts["overall"] == "green" else FAILED)


def _print(result, verdicts, report_path: Path, keyid: str) -> None:
    console.print(f"root: {result.root}", highlight=False)
    for c in result.checks:
        console.print(f"{STATUS_STYLE[c.status]:>28}  {c.id} [dim]({len(c.evidence)} evidence, "
                      f"{c.duration_ms:.0f} ms)[/]", highlight=False)
        bad = [e for e in c.evidence if e.ok is not True]
        for e in bad[:SHOWN_PER_CHECK]:
            where = ": ".join(x for x in (e.file, e.field) if x)
            console.print(f"      {where}: {e.message} (expected {e.expected!r}, found {e.found!r})",
                          markup=False, highlight=False)
        if len(bad) > SHOWN_PER_CHECK:
            console.print(f"      … {len(bad) - SHOWN_PER_CHECK} more in the report", highlight=False)
    for check_id, needs in result.not_applicable:
        console.print(f"{'[dim]n/a[/]':>28}  {check_id} [dim](not applicable: no {needs} in this root)[/]", highlight=False)
    colour = "green" if verdicts["overall"] == "green" else "red"
    console.print(f"[bold {colour}]{verdicts['overall'].upper()}[/]  rig_safe={verdicts['rig_safe']} "
                  f"data_sound={verdicts['data_sound']}", highlight=False)
    console.print(f"signed report: {report_path} (+ .md, .html), key {keyid}", highlight=False)

