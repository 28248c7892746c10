"""An independent re-check of a decision log against the safety invariants.

The gate decides event by event; this audit reads the decisions it logged (airdeck_decision.v1
records) and checks the sequence as a whole, from the same contracts but by a second, simpler
route: every dispatch was from K11 and a command source, promoted, backed by a fresh present
BodyTruth frame that confirms commands, at or above threshold, held long enough, outside its
cooldown, not destructive in burst, and not after a safe stop. A dry-run report is red when
the audit finds anything; the same audit can be run over a live log.
"""
from __future__ import annotations

from typing import Any, Iterable

from ._manifest import PromotedManifest
from ._rules import Rules


def audit(records: Iterable[dict[str, Any]], rules: Rules,
          manifest: PromotedManifest | None = None) -> list[str]:
    """Violations found in a sequence of decision records (empty when all invariants held)."""
    found: list[str] = []
    runs: dict[str, tuple[str, int, int]] = {}  # source -> (label, run start, last seen)
    last_dispatch: dict[tuple[str, Any], int] = {}
    locked_at: int | None = None
    for n, rec in enumerate(records, start=1):
        ts, source, label = rec["timestamp_ms"], rec["source_id"], rec["label"]
        gesture = rules.canonical(label) or label
        run = runs.get(source)
        if rec["phase"] == "release":
            runs.pop(source, None)
        elif (run is None or run[0] != gesture or rec["phase"] == "start" or ts < run[2]
              or ts - run[2] > rules.release_after_ms):
            runs[source] = (gesture, ts, ts)
        else:
            runs[source] = (gesture, run[1], ts)
        if rec["decision"] != "dispatched":
            continue
        where = f"decision {n} ({label} at {ts})"
        if locked_at is not None:
            found.append(f"{where}: dispatched after the safe stop at {locked_at}")
        if rec["machine"] != rules.authority_machine:
            found.append(f"{where}: dispatched from {rec['machine']}")
        if rules.source_kind(source) not in rules.command_source_kinds:
            found.append(f"{where}: dispatched from {source}, not a command source")
        res = rules.resolve(label, rec["deck"])
        if res.target is None:
            found.append(f"{where}: {res.problem}")
            continue
        t = res.target
        threshold, hold, cooldown = t.threshold, t.hold_ms, t.cooldown_ms
        if manifest is not None and t.command != rules.safe_stop_label:
            entry = manifest.gestures.get(t.gesture)
            if entry is None:
                found.append(f"{where}: {t.gesture} is not in the promoted manifest")
                continue
            threshold = max(threshold, entry["threshold"])
            hold = max(hold, entry["hold_ms"])
            cooldown = max(cooldown, entry["cooldown_ms"])
        if rec["command"] != t.command:
            found.append(f"{where}: logged command {rec['command']}, labels.v1 says {t.command}")
        bt = rec["body_truth"]
        if bt is None or not bt["present"] or bt["tracking_lost"] \
                or bt["mode"] in rules.lockout_modes or bt["mode"] not in rules.command_modes \
                or bt["age_ms"] > rules.max_body_truth_age_ms:
            found.append(f"{where}: BodyTruth {bt} does not allow a command")
        elif t.destructive and bt["mode"] in rules.blocked_modes:
            found.append(f"{where}: destructive {t.command} in {bt['mode']}")
        if rec["confidence"] < threshold:
            found.append(f"{where}: confidence {rec['confidence']} < {threshold}")
        held = ts - runs[source][1] if source in runs else -1
        if held < hold:
            found.append(f"{where}: held {held} ms < {hold} ms")
        key = (t.command, t.deck)
        if key in last_dispatch and ts - last_dispatch[key] < cooldown:
            found.append(f"{where}: {t.command} again {ts - last_dispatch[key]} ms after the "
                         f"previous dispatch (cooldown {cooldown} ms)")
        last_dispatch[key] = ts
        if t.command == rules.safe_stop_label:
            locked_at = ts
    return found
