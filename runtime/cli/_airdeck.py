"""`lume airdeck`: the K11 AirDeck safety gate (replay / dry run, live run, re-arm, recognise)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._errors import LumeGroup
from ._options import (
    AddressType,
    AliasOption,
    LazyChoice,
    address_option,
    config_option,
    hidden_flag,
    json_option,
    out_option,
)
from ._output import BAD_INPUT, FAILED, OK, console, emit_json, emit_jsonl, err_console, escape

LIVE_HELP = "only K11 with can_command_rekordbox=true (SAFE-AUTHORITY-K11)"
FILE = click.Path(path_type=Path, dir_okay=False)


def _machines() -> list[str]:
    """The rig's machines (common.v1), read when a --machine value is checked or help is shown."""
    from lume.generated.constants import MACHINES

    return list(MACHINES)


MACHINE = LazyChoice(_machines)


@click.group(cls=LumeGroup)
def airdeck() -> None:
    """The AirDeck gate: gestures + BodyTruth in, guarded Rekordbox MIDI commands out (K11 only)."""


def _config(path: Path | None) -> dict[str, Any] | None:
    from lume.runtime.core import load_machine_config

    return load_machine_config(path)


def _trust(path: Path | None) -> list[dict[str, Any]]:
    from lume.runtime.core import load_trust, trust_file

    return load_trust(path or trust_file())


def _manifest(path: Path | None, trust: list[dict[str, Any]]):
    from lume.runtime.airdeck import load_manifest

    return None if path is None else load_manifest(path, trust=trust)


def trust_file_option(fn):
    return click.option("--trust-file", "trust_path", type=FILE, default=None,
                        help="Trust file for the signed manifest and dry-run report (default: "
                             "LUME_TRUST_FILE, the configuration, <key dir>/trusted_keys.json).")(fn)


def _print_decision(d: Any) -> None:
    colour = "green" if d.dispatched else "yellow" if d.invariant else "dim"
    console.print(f"[{colour}]{d.decision:<10}[/] {d.timestamp_ms} {d.label} -> {d.command or '-'} "
                  f"[dim]{d.invariant or ''}[/] {escape(d.reason)}", highlight=False)


# ---------------------------------------------------------------------------- replay
@airdeck.command()
@click.argument("events", type=FILE)
@click.option("--bodytruth", type=FILE, default=None,
              help="BodyTruth frames (body_truth.v0 JSONL), matched by time to each event.")
@click.option("--promoted", type=FILE, default=None,
              help="Promoted-gesture manifest (airdeck_promoted_gestures.v1) to run against.")
@config_option
@hidden_flag("--dry-run")
@out_option("Where to write the signed dry-run report (airdeck_dry_run_report.v2).", required=True,
            old=("--report",))
@click.option("--log", "log_path", type=FILE, default=None,
              help="Decision log (airdeck_decision.v1 JSONL); default OUT.decisions.jsonl.")
@trust_file_option
@json_option
def replay(events: Path, bodytruth: Path | None, promoted: Path | None, config_path: Path | None,
           out: Path, log_path: Path | None, trust_path: Path | None, as_json: bool) -> int:
    """Run a gesture chain through the gate with nothing ever sent (the dry run), and sign the
    report with this machine's key (live mode accepts only a signed report).

    Exit 0 green, 1 red, 2 bad input. The live path is `lume airdeck run --live`.
    """
    from lume.runtime.airdeck import dry_run

    from ._verify import signing_key

    say = err_console if as_json else console
    # the trust file matters only for a promoted manifest: a plain replay never reads it
    manifest = _manifest(promoted, _trust(trust_path) if promoted is not None else [])
    key = signing_key(lambda text: say.print(text, highlight=False))
    run = dry_run(events, report=out, bodytruth=bodytruth, manifest=manifest,
                  config=_config(config_path), log=log_path, key=key)
    doc = run.report
    if as_json:
        emit_json(doc)
        return OK if run.green else FAILED
    if manifest is not None:
        sig = manifest.signature
        colour = "green" if sig["status"] == "trusted" else "yellow"
        console.print(f"manifest {escape(str(manifest.path))}: [{colour}]{sig['status']}[/] "
                      f"({escape(sig['detail'])}), digest {manifest.sha256}", highlight=False)
    c = doc["counts"]
    console.print(f"{c['events']} events: {c['dispatched']} dispatched, {c['refused']} refused",
                  highlight=False)
    for cmd, n in doc["commands"].items():
        console.print(f"  {cmd}: {n['dispatched']} dispatched, {n['refused']} refused", highlight=False)
    for inv, n in doc["refusals_by_invariant"].items():
        console.print(f"  refused by {inv}: {n}", highlight=False)
    for chk in doc["checks"]:
        mark = "[green]pass[/]" if chk["status"] == "pass" else "[red]FAIL[/]"
        console.print(f"  {mark} {chk['id']}: {escape(chk['detail'])}", highlight=False)
    colour = "green" if run.green else "red"
    console.print(f"verdict [{colour}]{doc['verdict']}[/]: signed report {escape(str(out))} "
                  f"(key {key.keyid}), log {escape(str(run.log_path))}", highlight=False)
    return OK if run.green else FAILED


# ---------------------------------------------------------------------------- run
@airdeck.command()
@click.option("--live", is_flag=True, help=f"Send MIDI to Rekordbox: {LIVE_HELP}.")
@address_option("--midi", metavar="NAME|tcp://HOST:PORT", old=("--port",),
                type=AddressType(schemes=("tcp",), port_names=True),
                help="MIDI output: a port name (rtmidi, K11 loopMIDI) or a mido socket port "
                     "tcp://HOST:PORT; default the config's midi_output.")
@config_option
@click.option("--promoted", type=FILE, default=None,
              help="Promoted-gesture manifest; required with --live.")
@click.option("--dry-run-report", "report_path", cls=AliasOption, hidden_aliases=("--report",),
              type=FILE, default=None,
              help="The green dry-run report for that manifest; default "
                   "airdeck_dry_run_report.json beside the manifest.")
@click.option("--events", "events_path", default="-", show_default=True, metavar="FILE|-",
              help="JSONL stream (file or - for stdin): gesture events and BodyTruth frames, or "
                   "with --from-pose body observations and BodyTruth frames.")
@click.option("--from-pose", is_flag=True,
              help="The stream holds k11_pose observations: recognise gestures and fuse BodyTruth.")
@click.option("--machine", type=MACHINE, default=None,
              help="With --from-pose in a dry run: the machine the pose detector runs on "
                   "(default the config's machine; live mode always uses the config's).")
@click.option("--log", "log_path", type=FILE, default=Path("airdeck.decisions.jsonl"), show_default=True,
              help="Decision log, appended one line per decision.")
@click.option("--lock-file", type=FILE, default=None,
              help="Safe-stop lock (kept across restarts); default beside the log.")
@trust_file_option
@json_option
def run(live: bool, midi, config_path: Path | None, promoted: Path | None, report_path: Path | None,
        events_path: str, from_pose: bool, machine: str | None, log_path: Path, lock_file: Path | None,
        trust_path: Path | None, as_json: bool) -> int:
    """Run the gate over a live stream; with --live send MIDI (K11 only, with a signed manifest
    and a signed, green, fresh dry run for it; events and frames older than their live limit
    are refused, so a recording never drives a live port).

    With --json each decision is printed as one JSON line. Exit 0 done, 1 live mode refused or
    the MIDI output failed, 2 bad input (bad lines are skipped, reported, and exit 2 at the end).
    """
    from lume.generated.constants import INPUT_EVENT_STREAM
    from lume.runtime.airdeck import start_dry, start_live
    from lume.runtime.core import open_input

    config = _config(config_path)
    trust = _trust(trust_path)
    manifest = _manifest(promoted, trust)
    midi_spec = midi.url if midi is not None and not isinstance(midi, str) else midi
    where = "<stdin>" if events_path == "-" else events_path
    # an event_stream input: a regular file or a FIFO a live producer writes (waited on like
    # stdin); a device, a folder or a socket is refused (InputError, exit 2)
    stream = sys.stdin.buffer if events_path == "-" else open_input(events_path, INPUT_EVENT_STREAM)
    try:
        session = (start_live(config, manifest=manifest, dry_run_report=report_path, midi=midi_spec,
                              lock_file=lock_file, log=log_path, from_pose=from_pose, trust=trust)
                   if live else
                   start_dry(config, manifest=manifest, from_pose=from_pose, machine=machine))
        if session.locked:
            err_console.print(escape(f"gate locked by a safe stop ({session.lock.path}); every "
                                     "command is refused until `lume airdeck rearm`"),
                              style="yellow", highlight=False)
        shown = 0

        def show_bad_lines() -> None:
            nonlocal shown
            for message in session.bad_lines[shown:]:
                err_console.print(f"[red]bad input, skipped:[/] {escape(message)}", highlight=False)
            shown = len(session.bad_lines)

        def show(d: Any, record: dict[str, Any]) -> None:
            show_bad_lines()
            if as_json:
                emit_jsonl(record)
            else:
                _print_decision(d)

        try:
            counts = session.run(stream, where, log=log_path, on_decision=show,
                                 on_rearm=lambda: err_console.print("[green]gate re-armed by the operator[/]"))
        finally:
            session.close()
        show_bad_lines()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if not as_json:
        console.print(f"{counts['dispatched']} dispatched, {counts['refused']} refused "
                      f"({'live' if live else 'dry run'}); log {escape(str(log_path))}", highlight=False)
    return BAD_INPUT if session.bad_lines else OK


# ---------------------------------------------------------------------------- rearm
@airdeck.command()
@click.option("--lock-file", type=FILE, default=Path("airdeck_safe_stop.lock.json"), show_default=True,
              help="The safe-stop lock file of the live gate.")
@json_option
def rearm(lock_file: Path, as_json: bool) -> int:
    """The operator's re-arm after a safe stop (no gesture can re-arm the gate)."""
    from lume.runtime.airdeck import SafeStopLock

    lock = SafeStopLock(lock_file)
    info = lock.read() or {}  # NotRegularFile (exit 2): a FIFO or /dev/zero is neither read nor removed
    released = lock.release()
    if as_json:
        emit_json({"rearmed": released, "lock_file": str(lock_file), "since_ms": info.get("since_ms")})
    elif released:
        console.print(f"gate re-armed: removed {escape(str(lock_file))} (locked since "
                      f"{info.get('since_ms')})", highlight=False)
    else:
        console.print(f"gate was not locked ({escape(str(lock_file))} absent)", highlight=False)
    return OK


# ---------------------------------------------------------------------------- recognize
@airdeck.command()
@click.argument("observations", type=FILE)
@out_option("Gesture events (gesture_event.v1 JSONL) to write.", required=True)
@click.option("--machine", type=MACHINE, default=None,
              help="Machine the detector ran on; default the config's machine.")
@config_option
@json_option
def recognize(observations: Path, out: Path, machine: str | None, config_path: Path | None,
              as_json: bool) -> int:
    """Turn k11_pose observations into AirDeck gesture events (start / hold / release)."""
    from lume.runtime.airdeck import machine_of, recognize_file

    if machine is None:
        machine = machine_of(_config(config_path), None, what="recognize")
    events, n_observations = recognize_file(observations, out, machine=machine)
    summary: dict[str, int] = {}
    for e in events:
        if e["phase"] == "start":
            summary[e["label"]] = summary.get(e["label"], 0) + 1
    if as_json:
        emit_json({"events": len(events), "gestures": summary, "out": str(out)})
        return OK
    console.print(f"{len(events)} gesture events from {n_observations} observations -> "
                  f"{escape(str(out))}", highlight=False)
    for label, n in summary.items():
        console.print(f"  {label}: {n} held", highlight=False)
    return OK
