"""`lume verify [ROOT]`: run the verifiers over a storage root and write a signed readiness report."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click

from ._errors import BadInput, LumeCommand
from ._options import json_option, out_option
from ._output import FAILED, OK, console, emit_json, err_console, escape, progress, status_cell

if TYPE_CHECKING:
    from lume.runtime.core import SigningKey

STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "inconclusive": "[yellow]INCONCLUSIVE[/]"}
SHOWN_PER_CHECK = 25
DEFAULT_REPORT = Path("reports/readiness.json")


def signing_key(say: Callable[[str], None]) -> SigningKey:
    """This machine's key; created and trusted on first use (and said so)."""
    from lume.runtime.core import load_or_create_key, load_trust, trust, trust_file

    key = load_or_create_key()
    if key.created:
        trust(key.public_hex, name="local (trusted on first use)")
        say(f"[bold]created a signing key[/] {key.keyid} in {escape(str(key.path.parent))} and "
            f"trusted it on first use ({escape(str(trust_file()))}); other machines trust it with "
            f"`lume keys trust {key.public_hex}`")
    elif key.keyid not in {e["keyid"] for e in load_trust()}:
        say(f"[yellow]warning:[/] signing key {key.keyid} is not in the trust file "
            f"{escape(str(trust_file()))}; `lume report verify` will reject this report until you run "
            f"`lume keys trust {key.public_hex}`")
    return key


def write_failed(path: Path, exc: OSError) -> BadInput:
    return BadInput(f"{path}: cannot write the report: {exc.strerror or exc}")


@click.command(cls=LumeCommand)
@click.argument("root", required=False, type=click.Path(path_type=Path))
@out_option("Where to write the signed report (Markdown and HTML are written beside it).",
            default=DEFAULT_REPORT, old=("--report",))
@click.option("--only", multiple=True, metavar="ID",
              help="Run only this check (repeat, or separate ids with commas); the report is then "
                   "partial, never green, unless every other check is not applicable.")
@click.option("--rig", "rig_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="RIG.json",
              help="Also probe the running rig this rig.v1 file names (BodyTruth, director bus, LUMF "
                   "heartbeat, MIDI port, completion-gate report); without it those checks are not run.")
@click.option("--quick", is_flag=True,
              help="Trust digests and per-file results of files whose size, mtime, ctime and inode "
                   "are unchanged since the last run (and had settled when it read them), and reuse "
                   "a property check's signed proof from an earlier run of the same code, contracts "
                   "and dependencies within its maximum age (default: re-hash everything and run "
                   "every check).")
@click.option("--deep", is_flag=True,
              help="Decompress every archive again instead of trusting the member digests the "
                   "indexer recorded while extracting it (the archive's own digest is checked either way).")
@json_option
def verify(root: Path | None, out: Path, only: tuple[str, ...], rig_file: Path | None, quick: bool,
           deep: bool, as_json: bool) -> int:
    """Verify ROOT (default: the shipped route-smoke fixtures); exit 0 green, 1 red or partial
    (a check of the default set left out by --only), 2 bad input."""
    from lume.verifiers import PROFILE_ENV, default_root, load_rig, reduced_profile, report, run, select

    say = err_console if as_json else console
    root = root if root is not None else default_root()
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder (give a storage root, or nothing for the route-smoke fixtures)")
    ids = [i.strip() for group in only for i in group.split(",") if i.strip()]
    chosen = select(ids)  # UnknownCheck: exit 2
    rig = load_rig(rig_file) if rig_file is not None else None  # InputError: exit 2
    key = signing_key(lambda text: say.print(text, highlight=False))
    with progress(enabled=not as_json) as bar:
        task = bar.add_task("verifying", total=len(chosen))

        def on_check(v, result):
            if result is None:
                bar.update(task, description=v.id)
            else:
                bar.advance(task)

        result = run(root, only=ids, quick=quick, progress=on_check, deep=deep, rig=rig, key=key)
    try:
        report(result, key, out)
    except OSError as exc:
        raise write_failed(out, exc) from exc
    predicate = result.predicate
    verdicts = predicate["verdicts"]
    reduced = reduced_profile(c.id for c in result.checks)
    if as_json:
        emit_json({"overall": verdicts["overall"], "verdicts": verdicts, "root": str(result.root),
                   "report": str(out), "keyid": key.keyid, "quick": quick, "reduced_profile": reduced,
                   "rig": str(rig.path) if rig is not None else None,
                   "checks": [c.to_dict() for c in result.checks],
                   "not_run": predicate["not_run"], "causes": predicate["causes"],
                   "not_applicable": [{"id": i, "needs": needs} for i, needs in result.not_applicable]})
    else:
        _print(result, predicate, out, key.keyid)
        if reduced is not None:  # the report records each check's budget; the operator reads this line
            console.print(f"  [yellow]note:[/] the property checks ran at {PROFILE_ENV}={escape(reduced)}, "
                          f"not property_checks.v1's default budget: they tried fewer examples than "
                          f"`nox -s verify` does (it always runs the default)", highlight=False)
    return OK if verdicts["overall"] == "green" else FAILED


def print_next(check, bad, root: str) -> None:
    """The check_remediation.v1 next step of a failing or inconclusive check."""
    from lume.runtime.core import next_step

    text = next_step(check.id, check.status, bad[0].to_dict() if bad else None, root=root)
    if text:
        console.print(f"      [bold]next:[/] {escape(text)}", highlight=False)


VERDICT_STYLE = {"green": "green", "partial": "yellow", "red": "red"}
NOT_RUN_STYLE = {"not_selected": "[yellow]not run[/]", "not_applicable": "[dim]n/a[/]",
                 "no_rig": "[dim]no rig[/]"}


def _print(result, predicate, report_path: Path, keyid: str) -> None:
    verdicts = predicate["verdicts"]
    console.print(f"root: {escape(str(result.root))}", highlight=False)
    for c in result.checks:
        console.print(f"{status_cell(STATUS_STYLE[c.status])}  {c.id} [dim]({len(c.evidence)} evidence, "
                      f"{c.duration_ms:.0f} ms)[/]", highlight=False)
        bad = [e for e in c.evidence if e.ok is not True]
        for e in bad[:SHOWN_PER_CHECK]:
            where = ": ".join(x for x in (e.file, e.field) if x)
            console.print(f"      {where}: {e.message} (expected {e.expected!r}, found {e.found!r})",
                          markup=False, highlight=False)
        if len(bad) > SHOWN_PER_CHECK:
            console.print(f"      … {len(bad) - SHOWN_PER_CHECK} more in the report", highlight=False)
        print_next(c, bad, str(result.root))
        warnings = c.warnings
        for e in warnings[:SHOWN_PER_CHECK]:
            where = ": ".join(x for x in (e.file, e.field) if x)
            console.print(f"      [yellow]warning[/] {escape(where)}: {escape(e.message)}", highlight=False)
        if len(warnings) > SHOWN_PER_CHECK:
            console.print(f"      … {len(warnings) - SHOWN_PER_CHECK} more warnings in the report", highlight=False)
    for n in predicate["not_run"]:
        style = NOT_RUN_STYLE.get(n["kind"], "[dim]" + n["kind"] + "[/]")  # a kind newer than this CLI
        console.print(f"{status_cell(style)}  {n['id']} [dim]({escape(n['reason'])})[/]",
                      highlight=False)
    colour = VERDICT_STYLE.get(verdicts["overall"], "red")
    rests = verdicts.get("rests_on") or {}
    console.print(f"[bold {colour}]{verdicts['overall'].upper()}[/]  "
                  f"rig_safe={verdicts['rig_safe']} [dim](rests on {len(rests.get('rig_safe', []))} "
                  f"check(s))[/] data_sound={verdicts['data_sound']} [dim](rests on "
                  f"{len(rests.get('data_sound', []))} check(s))[/]", highlight=False)
    for cause in predicate["causes"]:
        console.print(f"  why: {escape(cause)}", highlight=False)
    console.print(f"signed report: {escape(str(report_path))} (+ .md, .html), key {keyid}", highlight=False)
