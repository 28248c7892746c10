"""`lume templates build` (the template analyzer) and `lume promote` (visual / command)."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeCommand, LumeGroup
from ._options import config_option, json_option
from ._output import FAILED, OK, console, emit_json, err_console, escape, progress, quiet_native_stderr, step

BUNDLE = click.Path(path_type=Path, file_okay=False)
STREAM = click.Path(path_type=Path, dir_okay=False)


@click.group(cls=LumeGroup)
def templates() -> None:
    """The template analyzer: labelled windows, gesture templates, timeline, session summary."""


@templates.command()
@click.argument("bundle_dir", type=BUNDLE)
@click.option("--body-truth", type=STREAM, default=None,
              help="Recorded BodyTruth frames (body_truth.v0 JSONL) to read motion features from.")
@click.option("--pose", type=STREAM, default=None,
              help="Recorded pose observations (body_observation.v1 JSONL, `lume pose extract`).")
@json_option
def build(bundle_dir: Path, body_truth: Path | None, pose: Path | None, as_json: bool) -> int:
    """Write derived/templates/ of a rehearsal bundle (exit 2 on bad input, nothing written)."""
    from lume.runtime.templates import build_templates

    with step(f"analyzing {escape(str(bundle_dir))}", enabled=not as_json), quiet_native_stderr():
        result = build_templates(bundle_dir, body_truth=body_truth, pose=pose)
    if as_json:
        emit_json(result.summary())
        return OK
    console.print(f"{result.bundle_id}: {len(result.windows)} labelled windows, "
                  f"{len(result.templates)} templates", highlight=False)
    for t in result.templates:
        energy = t["features"].get("motion_energy")
        console.print(f"  {t['label']:<26} {t['lane']:<11} {t['count']:>3} window(s)"
                      + (f"  motion energy {energy['mean']:.3f}" if energy else ""), highlight=False)
    for rel, changed in result.written.items():
        console.print(f"  {'wrote    ' if changed else 'unchanged'} {escape(rel)}", highlight=False)
    for note in result.notes:
        console.print(f"  [yellow]note:[/] {escape(note)}", highlight=False)
    return OK


@click.command(cls=LumeCommand)
@click.argument("bundle_dir", type=BUNDLE)
@click.option("--visual", is_flag=True, help="Visual templates -> derived/templates/visual_templates.json.")
@click.option("--command", "command_", is_flag=True,
              help="Command templates -> derived/airdeck/ (promotion report, proof matrix, gate dry "
                   "run, and promoted_gestures.json only when everything holds).")
@config_option
@json_option
def promote(bundle_dir: Path, visual: bool, command_: bool, config_path: Path | None,
            as_json: bool) -> int:
    """Promote a bundle's templates: exit 0 when something was promoted, 1 when nothing was.

    --command signs the gate's dry-run report and the promoted manifest with this machine's
    key (created and trusted on first use, like `lume verify`)."""
    from lume.runtime.templates import promote as run

    if visual == command_:
        raise BadInput("pass exactly one of --visual or --command")
    if command_:
        from ._verify import signing_key

        say = err_console if as_json else console
        key = signing_key(lambda text: say.print(text, highlight=False))  # signs report and manifest
        with progress(enabled=not as_json) as bar, quiet_native_stderr():
            task = bar.add_task("replaying windows on the gate", total=None)
            result = run(bundle_dir, command=True, config=config_path, key=key,
                         progress=lambda n, total: bar.update(task, completed=n, total=total))
    else:
        result = run(bundle_dir, visual=True, config=config_path)
    ok = bool(result.exported) if visual else bool(result.promoted)
    if as_json:
        emit_json(result.summary())
        return OK if ok else FAILED
    if visual:
        for t in result.visual["templates"]:
            r = t["response"]
            console.print(f"[green]exported[/] {t['label']} -> {t['effect']} ({t['windows']} window(s), "
                          f"motion energy {r['low']:.3f}..{r['high']:.3f})", highlight=False)
        for s in result.visual["not_exported"]:
            console.print(f"[dim]not exported[/] {s['label']}: {escape(s['reason'])}", highlight=False)
    else:
        doc = result.candidates
        for c in doc["candidates"]:
            if c["status"] == "promoted":
                console.print(f"[green]promoted[/]  {c['label']} -> {c['command']} ({c['examples']} examples, "
                              f"{c['dispatched_examples']} dispatched, {c['false_triggers']} false triggers)",
                              highlight=False)
            else:
                console.print(f"[yellow]candidate[/] {c['label']} -> {c['command']}: missing "
                              f"{', '.join(c['missing'])}", highlight=False)
                _print_missing(c)
        dry = doc["dry_run"]
        if dry:
            console.print(f"gate dry run: {dry['verdict']} ({escape(str(dry['report']))})", highlight=False)
        if doc["promoted_manifest"]:
            console.print(f"[bold green]wrote {escape(str(doc['promoted_manifest']['path']))}[/] "
                          f"(signed by {key.keyid})", highlight=False)
        elif doc["withdrawn"]:
            console.print("[bold yellow]withdrew the earlier promoted_gestures.json[/]")
        else:
            console.print("nothing promoted: no promoted_gestures.json written")
    for rel, changed in result.written.items():
        console.print(f"  {'wrote    ' if changed else 'unchanged'} {escape(rel)}", highlight=False)
    return OK if ok else FAILED


def _print_missing(candidate: dict) -> None:
    """Per missing check or criterion: what was found (the candidate's own detail) and the
    evidence that satisfies it (promotion_policy.v1 `checks[].satisfied_by` for the four
    proof-matrix checks, live_safe_policy.v1 `criteria[].gesture` for seed 002's criteria)."""
    from lume.runtime.templates import criteria, proof_checks

    satisfied_by = {c["id"]: c["satisfied_by"] for c in proof_checks()}
    satisfied_by |= {c["id"]: c["check"] for c in criteria()}
    found = {x["id"]: x for x in (*candidate["checks"], *candidate["criteria"])}
    for cid in candidate["missing"]:
        detail = found.get(cid, {}).get("detail") or "not decided"
        console.print(f"    [bold]{cid}[/]: {escape(detail)}", highlight=False)
        if cid in satisfied_by:
            console.print(f"      [dim]satisfied by:[/] {escape(' '.join(satisfied_by[cid].split()))}",
                          highlight=False)
