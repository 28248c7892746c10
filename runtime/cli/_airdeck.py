"""`lume airdeck`: the K11 AirDeck safety gate (replay / dry run, live run, re-arm, recognise)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from lume.generated.constants import MACHINES
from lume.runtime.core import InputError, get, write_json, write_jsonl

from ._output import BAD_INPUT, FAILED, OK, console, emit_json, err_console, fail_input

LIVE_HELP = "only K11 with can_command_rekordbox=true (SAFE-AUTHORITY-K11)"


@click.group()
def airdeck() -> None:
    """The AirDeck gate: gestures + BodyTruth in, guarded Rekordbox MIDI commands out (K11 only)."""


def _config(path: Path | None) -> dict[str, Any] | None:
    from lume.runtime.core import load_machine_config

    try:
        return load_machine_config(path)
    except InputError as exc:
        fail_input(escape(str(exc)))


def _manifest(path: Path | None):
    from lume.runtime.airdeck import load_manifest

    if path is None:
        return None
    try:
        return load_manifest(path)
    except InputError as exc:
        fail_input(escape(str(exc)))


def _print_decision(d: Any) -> None:
    colour = "green" if d.dispatched else "yellow" if d.invariant else "dim"
    what = f"{d.command or '-'}"
    why = d.invariant or ""
    console.print(f"[{colour}]{d.decision:<10}[/] {d.timestamp_ms} {d.label} -> {what} "
                  f"[dim]{why}[/] {escape(d.reason)}", highlight=False)


# ---------------------------------------------------------------------------- replay
@airdeck.command()
@click.argument("events", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--bodytruth", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="BodyTruth frames (body_truth.v0 JSONL), matched by time to each event.")
@click.option("--promoted", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Promoted-gesture manifest (airdeck_promoted_gestures.v1) to run against.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Machine config (machine_config.v1); default $LUME_CONFIG.")
@click.option("--dry-run", is_flag=True, help="Required: a replay never sends anything.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the dry-run report (airdeck_dry_run_report.v1).")
@click.option("--log", "log_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Decision log (airdeck_decision.v1 JSONL); default REPORT.decisions.jsonl.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def replay(events: Path, bodytruth: Path | None, promoted: Path | None, config_path: Path | None,
           dry_run: bool, report: Path, log_path: Path | None, as_json: bool) -> None:
    """Run a gesture chain through the gate with nothing sent; exit 0 green, 1 red, 2 bad input."""
    from lume.runtime.airdeck import (
        FRAME,
        GESTURE,
        Authority,
        DispatchGate,
        Rules,
        build_report,
        file_ref,
    )
    from lume.runtime.airdeck import replay as run_replay
    from lume.runtime.core import problems, read_records

    if not dry_run:
        fail_input("`lume airdeck replay` only runs dry: pass --dry-run "
                   "(the live path is `lume airdeck run --live`)")
    config = _config(config_path)
    manifest = _manifest(promoted)
    try:
        event_records = read_records(events, GESTURE)
        frames = read_records(bodytruth, FRAME) if bodytruth else []
    except InputError as exc:
        fail_input(escape(str(exc)))
    rules = Rules.from_contracts()
    gate = DispatchGate(Authority.simulated(rules), rules, manifest, dry_run=True)
    decisions = run_replay(gate, event_records, frames)
    log_path = log_path or report.with_name(report.name.removesuffix(".json") + ".decisions.jsonl")
    write_jsonl(log_path, [d.to_record() for d in decisions])
    doc = build_report(decisions, rules=rules, manifest=manifest,
                       events=file_ref(events, len(event_records)),
                       bodytruth=file_ref(bodytruth, len(frames)) if bodytruth else None,
                       decision_log=file_ref(log_path, len(decisions)),
                       machine=config["machine"] if config else None)
    found = problems(doc, get("airdeck_dry_run_report.v1"))
    if found:  # a bug of ours, never of the input: refuse to write a report that breaks its contract
        raise RuntimeError(f"dry-run report breaks its contract: {found[0]}")
    write_json(report, doc)
    if as_json:
        emit_json(doc)
    else:
        c = doc["counts"]
        colour = "green" if doc["verdict"] == "green" else "red"
        console.print(f"{c['events']} events: {c['dispatched']} dispatched, {c['refused']} refused",
                      highlight=False)
        for cmd, n in doc["commands"].items():
            console.print(f"  {cmd}: {n['dispatched']} dispatched, {n['refused']} refused",
                          highlight=False)
        for inv, n in doc["refusals_by_invariant"].items():
            console.print(f"  refused by {inv}: {n}", highlight=False)
        for chk in doc["checks"]:
            mark = "[green]pass[/]" if chk["status"] == "pass" else "[red]FAIL[/]"
            console.print(f"  {mark} {chk['id']}: {escape(chk['detail'])}", highlight=False)
        console.print(f"verdict [{colour}]{doc['verdict']}[/]: report {report}, log {log_path}",
                      highlight=False)
    raise SystemExit(OK if doc["verdict"] == "green" else FAILED)


# ---------------------------------------------------------------------------- run
@airdeck.command()
@click.option("--live", is_flag=True, help=f"Send MIDI to Rekordbox: {LIVE_HELP}.")
@click.option("--port", "port_spec", default=None,
              help="MIDI output: a port name (rtmidi, K11 loopMIDI) or tcp://HOST:PORT; "
                   "default the config's midi_output.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Machine config (machine_config.v1); default $LUME_CONFIG.")
@click.option("--promoted", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Promoted-gesture manifest; required with --live.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="The green dry-run report for that manifest; default "
                                 "airdeck_dry_run_report.json beside the manifest.")
@click.option("--events", "events_path", default="-", show_default=True,
              help="JSONL stream (file or - for stdin): gesture events and BodyTruth frames, or "
                   "with --from-pose body observations and BodyTruth frames.")
@click.option("--from-pose", is_flag=True,
              help="The stream holds k11_pose observations: recognise gestures and fuse BodyTruth.")
@click.option("--machine", type=click.Choice(MACHINES), default=None,
              help="With --from-pose in a dry run: the machine the pose detector runs on "
                   "(default the config's machine; live mode always uses the config's).")
@click.option("--log", "log_path", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("airdeck.decisions.jsonl"), show_default=True,
              help="Decision log, appended one line per decision.")
@click.option("--lock-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Safe-stop lock (kept across restarts); default beside the log.")
@click.option("--json", "as_json", is_flag=True, help="Print each decision as a JSON line.")
def run(live: bool, port_spec: str | None, config_path: Path | None, promoted: Path | None,
        report_path: Path | None, events_path: str, from_pose: bool, machine: str | None,
        log_path: Path, lock_file: Path | None, as_json: bool) -> None:
    """Run the gate over a live stream; with --live send MIDI (K11 only, after a green dry run)."""
    from lume.runtime.airdeck import (
        GESTURE,
        OBSERVATION,
        Authority,
        DispatchFailed,
        DispatchGate,
        MidiDispatcher,
        MidiOpenError,
        Rules,
        SafeStopLock,
        iter_stream,
        live_refusal,
        open_output,
        parse_tcp_spec,
        run_loop,
    )

    config = _config(config_path)
    rules = Rules.from_contracts()
    manifest = _manifest(promoted)
    if from_pose and (live or machine is None):
        if config is None:
            fail_input("--from-pose: which machine runs the pose detector? pass --machine or a "
                       "machine config")
        machine = config["machine"]
    dispatcher = lock = None
    if live:
        refusal = live_refusal(config, rules, manifest, report_path)
        if refusal is not None:
            err_console.print(f"[bold red]refusing live mode:[/] {escape(refusal)}", highlight=False)
            raise SystemExit(FAILED)
        spec = port_spec or config["midi_output"]
        if not spec:
            fail_input("no MIDI output: pass --port or set midi_output in the machine config")
        try:
            parse_tcp_spec(spec)
        except ValueError as exc:
            fail_input(escape(str(exc)))
        lock = SafeStopLock(lock_file or log_path.with_name("airdeck_safe_stop.lock.json"))
        authority = Authority.from_config(config)
    else:
        authority = Authority.simulated(rules)
    gate = DispatchGate(authority, rules, manifest, locked=lock is not None and lock.is_locked(),
                dry_run=not live)
    if gate.locked:
        err_console.print(escape(f"gate locked by a safe stop ({lock.path}); every command is "
                                 "refused until `lume airdeck rearm`"), style="yellow",
                          highlight=False)
    try:
        fh = sys.stdin.buffer if events_path == "-" else open(events_path, "rb")
    except OSError as exc:
        fail_input(escape(f"{events_path}: cannot read: {exc.strerror or exc}"))
    if live:
        try:
            dispatcher = MidiDispatcher(open_output(spec))
        except MidiOpenError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise SystemExit(FAILED) from exc

    errors: list[str] = []
    records = iter_stream(fh, "<stdin>" if events_path == "-" else events_path,
                          OBSERVATION if from_pose else GESTURE, errors)
    if from_pose:
        from lume.runtime.airdeck import pose_records

        records = pose_records(records, machine=machine)
    shown = 0

    def show(d: Any, record: dict[str, Any]) -> None:
        nonlocal shown
        for message in errors[shown:]:
            err_console.print(f"[red]bad input, skipped:[/] {escape(message)}", highlight=False)
        shown = len(errors)
        if as_json:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()
        else:
            _print_decision(d)

    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            counts = run_loop(gate, records, log=log, dispatcher=dispatcher, lock=lock,
                              on_decision=show,
                              on_rearm=lambda: err_console.print("[green]gate re-armed by the operator[/]"))
    except DispatchFailed as exc:
        err_console.print(f"[bold red]stopping:[/] {escape(str(exc))}", highlight=False)
        raise SystemExit(FAILED) from exc
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
        if dispatcher is not None:
            dispatcher.close()
    for message in errors[shown:]:
        err_console.print(f"[red]bad input, skipped:[/] {escape(message)}", highlight=False)
    if not as_json:
        console.print(f"{counts['dispatched']} dispatched, {counts['refused']} refused "
                      f"({'live' if live else 'dry run'}); log {log_path}", highlight=False)
    raise SystemExit(BAD_INPUT if errors else OK)


# ---------------------------------------------------------------------------- rearm
@airdeck.command()
@click.option("--lock-file", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("airdeck_safe_stop.lock.json"), show_default=True,
              help="The safe-stop lock file of the live gate.")
def rearm(lock_file: Path) -> None:
    """The operator's re-arm after a safe stop (no gesture can re-arm the gate)."""
    from lume.runtime.airdeck import SafeStopLock

    lock = SafeStopLock(lock_file)
    info = lock.read()
    if lock.release():
        console.print(f"gate re-armed: removed {lock_file} (locked since {info.get('since_ms')})",
                      highlight=False)
    else:
        console.print(f"gate was not locked ({lock_file} absent)", highlight=False)
    raise SystemExit(OK)


# ---------------------------------------------------------------------------- recognize
@airdeck.command()
@click.argument("observations", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Gesture events (gesture_event.v1 JSONL) to write.")
@click.option("--machine", type=click.Choice(MACHINES), default=None,
              help="Machine the detector ran on; default the config's machine.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Machine config (machine_config.v1); default $LUME_CONFIG.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def recognize(observations: Path, out: Path, machine: str | None, config_path: Path | None,
              as_json: bool) -> None:
    """Turn k11_pose observations into AirDeck gesture events (start / hold / release)."""
    from lume.runtime.airdeck import OBSERVATION
    from lume.runtime.airdeck import recognize as run_recognize
    from lume.runtime.core import read_records

    if machine is None:
        config = _config(config_path)
        if config is None:
            fail_input("which machine ran the detector? pass --machine or a machine config")
        machine = config["machine"]
    try:
        records = read_records(observations, OBSERVATION)
    except InputError as exc:
        fail_input(escape(str(exc)))
    events = run_recognize(sorted(records, key=lambda o: o["timestamp_ms"]), machine=machine)
    write_jsonl(out, events)
    summary: dict[str, int] = {}
    for e in events:
        if e["phase"] == "start":
            summary[e["label"]] = summary.get(e["label"], 0) + 1
    if as_json:
        emit_json({"events": len(events), "gestures": summary, "out": str(out)})
    else:
        console.print(f"{len(events)} gesture events from {len(records)} observations -> {out}",
                      highlight=False)
        for label, n in summary.items():
            console.print(f"  {label}: {n} held", highlight=False)
    raise SystemExit(OK)
