"""The gate's use cases, assembled here so a front end only parses options and shows results.

- `dry_run`: a recorded gesture chain through the gate, nothing sent; the dry-run report and
  the decision log written (`lume airdeck replay`);
- `start_live` / `start_dry`: a gate over a live JSONL stream (`lume airdeck run`), live only on
  K11 with a signed manifest and a signed, green, fresh dry-run report for it, every event and
  frame judged against the wall clock, MIDI through mido, the safe-stop lock;
- `recognize_file`: K11 pose observations to gesture events (`lume airdeck recognize`).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from lume.runtime.core import (
    InputError,
    SigningKey,
    get,
    problems,
    read_records,
    write_json,
    write_jsonl,
)

from ._dispatch_gate import Authority, Decision, DispatchGate
from ._inputs import FRAME, GESTURE, OBSERVATION, iter_stream
from ._live import live_refusal, run_loop
from ._lock import SafeStopLock
from ._manifest import PromotedManifest
from ._midi import MidiDispatcher, open_output, parse_tcp_spec
from ._pose_stream import pose_records
from ._recognize import recognize
from ._replay import replay
from ._report import build_report, file_ref, sign_dry_run
from ._rules import Rules

DRY_RUN_REPORT = "airdeck_dry_run_report.v2"
LOCK_NAME = "airdeck_safe_stop.lock.json"


class LiveRefused(RuntimeError):
    """Live mode may not start here; the message says why and what to do (exit 1)."""


def machine_of(config: dict[str, Any] | None, machine: str | None, *, what: str) -> str:
    """The machine a pose detector ran on: given, else the configuration's; InputError if neither."""
    if machine is not None:
        return machine
    if config is None:
        raise InputError(f"{what}: which machine runs the pose detector? pass --machine or a "
                         "machine configuration (--config or $LUME_CONFIG)")
    return config["machine"]


# ---------------------------------------------------------------------------- dry run
@dataclass
class DryRun:
    report: dict[str, Any]
    report_path: Path
    log_path: Path
    decisions: list[Decision]
    signed: bool = False

    @property
    def green(self) -> bool:
        return self.report["verdict"] == "green"


def default_log(report: Path) -> Path:
    return report.with_name(report.name.removesuffix(".json") + ".decisions.jsonl")


def dry_run(events: Path, *, report: Path, bodytruth: Path | None = None,
            manifest: PromotedManifest | None = None, config: dict[str, Any] | None = None,
            log: Path | None = None, key: SigningKey | None = None) -> DryRun:
    """Replay `events` (with BodyTruth `bodytruth`) through a simulated-authority gate.

    Writes the decision log and the dry-run report (airdeck_dry_run_report.v2), signed with
    `key` as a DSSE envelope (only a signed report opens live mode; without a key the bare
    document is written). InputError for a bad input line names the file, line, field and
    contract.
    """
    event_records = read_records(events, GESTURE)
    frames = read_records(bodytruth, FRAME) if bodytruth else []
    rules = Rules.from_contracts()
    gate = DispatchGate(Authority.simulated(rules), rules, manifest, dry_run=True)
    decisions = replay(gate, event_records, frames)
    log = log or default_log(report)
    write_jsonl(log, [d.to_record() for d in decisions])
    doc = build_report(decisions, rules=rules, manifest=manifest,
                       events=file_ref(events, len(event_records)),
                       bodytruth=file_ref(bodytruth, len(frames)) if bodytruth else None,
                       decision_log=file_ref(log, len(decisions)),
                       machine=config["machine"] if config else None)
    found = problems(doc, get(DRY_RUN_REPORT))
    if found:  # a bug of ours, never of the input: refuse to write a report that breaks its contract
        raise RuntimeError(f"dry-run report breaks its contract: {found[0]}")
    write_json(report, doc if key is None else sign_dry_run(doc, key))
    return DryRun(doc, report, log, decisions, signed=key is not None)


# ---------------------------------------------------------------------------- live stream
@dataclass
class GateSession:
    """A gate ready to run over one JSONL stream; `close()` releases the MIDI output."""

    gate: DispatchGate
    live: bool
    machine: str | None = None  # set when the stream holds pose observations
    lock: SafeStopLock | None = None
    dispatcher: MidiDispatcher | None = None
    bad_lines: list[str] = field(default_factory=list)

    @property
    def locked(self) -> bool:
        return self.gate.locked

    def run(self, stream: IO[bytes], where: str, *, log: Path,
            on_decision: Callable[[Decision, dict[str, Any]], None] | None = None,
            on_rearm: Callable[[], None] | None = None) -> Counter[str]:
        """Decide every event of the stream, appending each decision to `log`. A bad line is
        skipped and kept in `bad_lines`; DispatchFailed stops the run when MIDI breaks."""
        records = iter_stream(stream, where, OBSERVATION if self.machine else GESTURE, self.bad_lines)
        if self.machine:
            records = pose_records(records, machine=self.machine)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            return run_loop(self.gate, records, log=fh, dispatcher=self.dispatcher, lock=self.lock,
                            on_decision=on_decision, on_rearm=on_rearm)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
            self.dispatcher = None


def start_live(config: dict[str, Any] | None, *, manifest: PromotedManifest | None,
               dry_run_report: Path | None = None, midi: str | None = None,
               lock_file: Path | None = None, log: Path, from_pose: bool = False,
               trust: list[dict[str, Any]] | None = None,
               clock: Callable[[], float] = time.time) -> GateSession:
    """A live gate sending MIDI: only K11 with can_command_rekordbox, a promoted manifest signed
    by a trusted key with its evidence unchanged, and a signed, green, fresh dry-run report for
    it (LiveRefused says what is missing; `trust` defaults to the trust file). `midi` is a port
    name or `tcp://HOST:PORT` (default: the configuration's midi_output); the safe-stop lock
    lives in `lock_file` (default: beside the log) and is kept across restarts. The gate judges
    every event and frame against `clock` (SAFE-LIVE-NOW): a recording never drives a port."""
    rules = Rules.from_contracts()
    refusal = live_refusal(config, rules, manifest, dry_run_report, trust=trust, now=clock())
    if refusal is not None:
        raise LiveRefused(f"refusing live mode: {refusal}")
    spec = midi or config["midi_output"]
    if not spec:
        raise InputError("no MIDI output: pass --midi or set midi_output in the machine config "
                         "[machine_config.v1]")
    try:
        parse_tcp_spec(spec)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    lock = SafeStopLock(lock_file or log.with_name(LOCK_NAME))
    gate = DispatchGate(Authority.from_config(config), rules, manifest, locked=lock.is_locked(),
                        dry_run=False, clock=clock)
    machine = machine_of(config, None, what="--from-pose") if from_pose else None
    dispatcher = MidiDispatcher(open_output(spec))  # MidiOpenError: refused
    return GateSession(gate, True, machine, lock, dispatcher)


def start_dry(config: dict[str, Any] | None, *, manifest: PromotedManifest | None,
              from_pose: bool = False, machine: str | None = None) -> GateSession:
    """A gate over a live stream with nothing sent (simulated authority, any machine)."""
    rules = Rules.from_contracts()
    gate = DispatchGate(Authority.simulated(rules), rules, manifest, dry_run=True)
    return GateSession(gate, False, machine_of(config, machine, what="--from-pose") if from_pose else None)


# ---------------------------------------------------------------------------- recognition
def recognize_file(observations: Path, out: Path, *, machine: str) -> tuple[list[dict[str, Any]], int]:
    """Gesture events (gesture_event.v1) of a k11_pose observation file, written to `out`;
    returns (events, number of observations)."""
    records = read_records(observations, OBSERVATION)
    events = recognize(sorted(records, key=lambda o: o["timestamp_ms"]), machine=machine)
    write_jsonl(out, events)
    return events, len(records)
