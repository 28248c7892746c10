"""Live mode: when the gate may open a MIDI output, and the loop that runs it.

`live_refusal` says why live mode may not start. The chain it follows is record -> promote
(signed) -> dry run (signed) -> live: only K11 with can_command_rekordbox
(SAFE-AUTHORITY-K11); a promoted manifest signed by a trusted key whose every evidence digest
still matches where the file is reachable (SAFE-SIGNED-EVIDENCE: a hand-written or edited
manifest never opens live mode); a signed, trusted, green and fresh dry-run report that names
this manifest's digest and these rule contracts. `run_loop` drives the gate over a stream:
each decision persists the safe-stop lock first (so a crash right after a safe stop still
restarts locked), then sends its MIDI, then is appended to the decision log and flushed; an
operator re-arm made while the loop runs (the lock file removed) re-arms the gate.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from lume.generated.constants import SAFE_SIGNED_EVIDENCE
from lume.runtime.core import InputError, read_envelope

from ._dispatch_gate import Decision, DispatchGate
from ._lock import SafeStopLock
from ._manifest import PromotedManifest, evidence_problems
from ._midi import MidiDispatcher
from ._replay import run_stream
from ._report import live_report_problem
from ._rules import Rules

REPORT_NAME = "airdeck_dry_run_report.json"


class DispatchFailed(RuntimeError):
    """The MIDI output broke while sending a dispatched command; the loop stops."""


def live_refusal(config: dict[str, Any] | None, rules: Rules, manifest: PromotedManifest | None,
                 report_path: Path | None, *, trust: list[dict[str, Any]] | None = None,
                 now: float | None = None) -> str | None:
    """Why live mode may not start, or None. The message names what to do about it."""
    if config is None:
        return "no machine config (use --config or $LUME_CONFIG); a dry run is allowed: drop --live"
    machine, can = config["machine"], config["can_command_rekordbox"]
    if machine != rules.authority_machine or not can:
        return (f"this machine is {machine} with can_command_rekordbox={str(can).lower()}; only "
                f"{rules.authority_machine} with can_command_rekordbox=true may command Rekordbox "
                "(SAFE-AUTHORITY-K11). A dry run is allowed: drop --live")
    if manifest is None:
        return "--live needs --promoted MANIFEST (derived/airdeck/promoted_gestures.json)"
    if not manifest.signed:
        return (f"{manifest.path}: the manifest is {manifest.signature['status']} "
                f"({manifest.signature['detail']}); live mode needs a manifest signed by a trusted "
                f"key (`lume promote --command`): a hand-written or edited manifest is never live "
                f"({SAFE_SIGNED_EVIDENCE})")
    evidence = evidence_problems(manifest)
    if evidence.problems:
        more = f" (+{len(evidence.problems) - 1} more)" if len(evidence.problems) > 1 else ""
        return f"{manifest.path}: evidence {evidence.problems[0]}{more}: promote again"
    if evidence.unreachable and not evidence.checked:  # none of its evidence here: a copied manifest
        return (f"{manifest.path}: none of its {len(manifest.subjects)} evidence file(s) could be "
                f"checked from here ({evidence.unreachable} unreachable): live mode needs the "
                f"manifest beside the bundle it was promoted from ({SAFE_SIGNED_EVIDENCE})")
    report_path = report_path or default_report(manifest)
    if not report_path.is_file():
        return (f"no dry-run report at {report_path}; run `lume airdeck replay EVENTS --promoted "
                f"{manifest.path} -o {report_path}` first")
    try:
        problem = live_report_problem(read_envelope(report_path, shape=False), manifest, trust=trust,
                                      now=now)
    except InputError as exc:
        problem = str(exc)
    return None if problem is None else f"{report_path}: {problem}"


def default_report(manifest: PromotedManifest) -> Path:
    return Path(manifest.path).with_name(REPORT_NAME)


def run_loop(gate: DispatchGate, records: Iterable[dict[str, Any]], *, log: IO[str],
             dispatcher: MidiDispatcher | None = None, lock: SafeStopLock | None = None,
             on_decision: Callable[[Decision, dict[str, Any]], None] | None = None,
             on_rearm: Callable[[], None] | None = None) -> Counter[str]:
    """Decide every event of the stream; returns the count per outcome."""
    counts: Counter[str] = Counter()
    safe_stop = gate.rules.safe_stop_label
    for d in run_stream(gate, records):
        record = d.to_record()
        if lock is not None and d.dispatched and d.command == safe_stop:
            lock.engage(record)
        failure = None
        if d.dispatched and dispatcher is not None and d.midi:
            try:
                dispatcher.send(d.midi)
            except OSError as exc:
                failure = exc
        log.write(json.dumps(record, separators=(",", ":")) + "\n")
        log.flush()
        counts[d.decision] += 1
        if on_decision is not None:
            on_decision(d, record)
        if failure is not None:
            raise DispatchFailed(f"MIDI output failed while sending {d.command}: {failure}")
        if lock is not None and gate.locked and not lock.is_locked():
            gate.rearm()  # the operator removed the lock (lume airdeck rearm) while we ran
            if on_rearm is not None:
                on_rearm()
    return counts
