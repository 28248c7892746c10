"""safety.airdeck.properties: the AirDeck dispatch gate keeps every invariant it covers.

Generated gesture-event + BodyTruth streams run through the real `DispatchGate` (the code
`lume airdeck run` runs on K11); an oracle written here from the contracts - not from the
gate's own flattened rules - checks every dispatch: K11 authority and never-command machines
(SAFE-AUTHORITY-K11, SAFE-NEVER-COMMAND), the live source filter (SAFE-LIVE-SOURCE-FILTER), a
promoted command label (SAFE-CMD-PROMOTED), a fresh present BodyTruth frame confirming it
(SAFE-CMD-PRESENCE), its threshold (SAFE-CMD-THRESHOLD), held for hold_ms with one dispatch per
hold (SAFE-CMD-HOLD), its cooldown (SAFE-CMD-COOLDOWN), nothing destructive in burst
(SAFE-BURST-NONDESTRUCTIVE, on a rule variant where every candidate is promoted so destructive
commands are reachable), nothing after a safe stop, and the lock kept across a restart
(SAFE-SAFE-STOP-LOCK); the gate's own independent audit must agree. A counterexample fails the
check with the shrunk stream as evidence.
"""
from __future__ import annotations

import bisect
import copy
import io
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lume.generated.constants import (
    SAFE_AUTHORITY_K11,
    SAFE_BURST_NONDESTRUCTIVE,
    SAFE_CMD_COOLDOWN,
    SAFE_CMD_HOLD,
    SAFE_CMD_PRESENCE,
    SAFE_CMD_PROMOTED,
    SAFE_CMD_THRESHOLD,
    SAFE_LIVE_SOURCE_FILTER,
    SAFE_NEVER_COMMAND,
    SAFE_SAFE_STOP_LOCK,
)
from lume.runtime.airdeck import Authority, DispatchGate, Rules, SafeStopLock, audit, run_loop
from lume.runtime.core import LabelIndex, invariants, rule_data

from ._context import Context
from ._framework import Evidence, verifier
from ._properties import budget, evidence, run_property

ID = "safety.airdeck.properties"
COVERS = (SAFE_AUTHORITY_K11, SAFE_NEVER_COMMAND, SAFE_LIVE_SOURCE_FILTER, SAFE_CMD_PROMOTED,
          SAFE_CMD_PRESENCE, SAFE_CMD_THRESHOLD, SAFE_CMD_HOLD, SAFE_CMD_COOLDOWN,
          SAFE_BURST_NONDESTRUCTIVE, SAFE_SAFE_STOP_LOCK)
RULE_STEMS = ("labels.v1", "safety_invariants.v1", "airdeck_midi_map.v1", "body_truth_rules.v0",
              "body_truth_modes.v0")


class Broken(AssertionError):
    """An invariant the oracle found broken: `invariant` is its id."""

    def __init__(self, invariant: str, message: str) -> None:
        super().__init__(f"{invariant}: {message}")
        self.invariant = invariant


# ------------------------------------------------------------------------ the gate under test
def rule_tables(*, all_promoted: bool = False) -> dict[str, dict[str, Any]]:
    """The gate's rule contracts as data; `all_promoted` promotes every candidate label (the
    variant on which destructive commands can be dispatched at all)."""
    data = {stem.split(".")[0]: rule_data(stem) for stem in RULE_STEMS}
    if all_promoted:
        for row in data["labels"]["labels"]:
            if row["promotion_status"] == "candidate":
                row["promotion_status"] = "promoted"
    return data


def make_gate(rules: Rules, authority: Authority | None = None, *, locked: bool = False,
              dry_run: bool = True) -> DispatchGate:
    """The gate the properties drive (tests inject a faulty one here)."""
    return DispatchGate(authority or Authority.simulated(rules), rules, None, locked=locked,
                        dry_run=dry_run)


def restart_gate(rules: Rules, lock: SafeStopLock) -> DispatchGate:
    """A live gate starting again over the same lock file, as `lume airdeck run --live` starts."""
    return make_gate(rules, Authority.simulated(rules), locked=lock.is_locked(), dry_run=False)


def decide_all(gate: DispatchGate, events: list[dict[str, Any]], frames: list[dict[str, Any]]) -> list[Any]:
    """`airdeck.replay` spelled out: frames by time, each event after the frames at or before it."""
    ordered = sorted(frames, key=lambda f: f["timestamp"])
    out, i = [], 0
    for e in sorted(events, key=lambda e: e["timestamp_ms"]):
        while i < len(ordered) and ordered[i]["timestamp"] <= e["timestamp_ms"]:
            gate.observe(ordered[i])
            i += 1
        out.append(gate.decide(e))
    return out


# ------------------------------------------------------------------------------- the oracle
@dataclass
class Oracle:
    """The gate's invariants as the contracts state them, read here independently."""

    labels: LabelIndex
    commands: dict[str, dict[str, Any]]
    p: dict[str, dict[str, Any]]  # invariant id -> parameters
    modes: dict[str, dict[str, Any]]
    release_after_ms: int
    evidence_only: frozenset[str]

    @classmethod
    def from_tables(cls, data: dict[str, dict[str, Any]]) -> "Oracle":
        inv = invariants(data["safety_invariants"])
        return cls(LabelIndex(data["labels"]), data["safety_invariants"]["commands"],
                   {i: dict(row.parameters) for i, row in inv.items()}, data["body_truth_modes"]["modes"],
                   int(data["body_truth_rules"]["gesture"]["release_after_ms"]),
                   frozenset(data["body_truth_rules"].get("evidence_only_source_ids", [])))

    def source_kind(self, source_id: str) -> str:
        for row in self.p[SAFE_LIVE_SOURCE_FILTER]["source_id_kinds"]:
            if re.search(row["pattern"], source_id):
                return row["kind"]
        return "unknown"

    def target(self, label: str, deck: int | None) -> dict[str, Any] | None:
        """Command, deck and limits (with the contract's floors) of a dispatchable label."""
        cmd = self.labels.resolve_command(label)
        if cmd is None or cmd.command not in self.commands:
            return None
        spec = self.commands[cmd.command]
        action_floor = self.p[SAFE_CMD_COOLDOWN]["min_cooldown_ms_by_action"].get(cmd.action, 0)
        return {"gesture": cmd.label, "command": cmd.command,
                "deck": cmd.deck if cmd.deck is not None else deck,
                "threshold": max(spec["threshold"], self.p[SAFE_CMD_THRESHOLD]["min_threshold"]),
                "hold_ms": max(spec["hold_ms"], self.p[SAFE_CMD_HOLD]["min_hold_ms"]),
                "cooldown_ms": max(spec["cooldown_ms"], action_floor),
                "destructive": bool(spec["destructive"] or any(r["destructive"] for r in cmd.rows)),
                "rows": cmd.rows}

    def presence_problem(self, ts: int, f: dict[str, Any] | None) -> str | None:
        p = self.p[SAFE_CMD_PRESENCE]
        if f is None:
            return "no BodyTruth frame at or before the event"
        if ts - f["timestamp"] > p["max_body_truth_age_ms"]:
            return f"frame {ts - f['timestamp']} ms old > {p['max_body_truth_age_ms']}"
        if f["mode"] in p["lockout_modes"] or f["present"] is not p["present"] \
                or f["tracking_lost"] is not p["tracking_lost"]:
            return f"frame mode {f['mode']} present={f['present']} tracking_lost={f['tracking_lost']}"
        return None

    def check(self, events: list[dict[str, Any]], frames: list[dict[str, Any]], decisions: list[Any],
              counts: Counter) -> None:
        """Raise Broken at the first dispatch (or decision) the contracts do not allow."""
        evs = sorted(events, key=lambda e: e["timestamp_ms"])
        if len(decisions) != len(evs):
            raise Broken(SAFE_CMD_PRESENCE, f"{len(evs)} events gave {len(decisions)} decisions")
        ordered = sorted(frames, key=lambda f: f["timestamp"])
        times = [f["timestamp"] for f in ordered]
        p = self.p
        known = set(p)
        burst_labels = {self.labels.canonical(x) or x for x in p[SAFE_BURST_NONDESTRUCTIVE]["blocked_labels_from"]}
        runs: dict[str, dict[str, Any]] = {}  # source -> the hold in progress
        last: dict[tuple[str, Any], int] = {}
        stopped_at: int | None = None
        burst_seen: int | None = None
        for n, (e, d) in enumerate(zip(evs, decisions), start=1):
            ts, source, phase = e["timestamp_ms"], e["source_id"], e.get("phase")
            where = f"decision {n} ({e['label']} from {source} at {ts})"
            counts["events"] += 1
            if d.invariant is not None and d.invariant not in known:
                raise Broken(SAFE_CMD_PRESENCE, f"{where}: refused citing unknown invariant {d.invariant}")
            canonical = self.labels.canonical(e["label"]) or e["label"]
            if canonical in burst_labels:
                burst_seen = None if phase == "release" else ts
            i = bisect.bisect_right(times, ts)
            f = ordered[i - 1] if i else None
            t = self.target(e["label"], e.get("deck"))
            # --- the hold of this source, as SAFE-CMD-HOLD defines it
            run = runs.get(source)
            if phase == "release":
                runs.pop(source, None)
                run = None
            else:
                key = (canonical, t["deck"] if t else e.get("deck"))
                if (run is None or phase == "start" or run["key"] != key or ts < run["last"]
                        or ts - run["last"] > self.release_after_ms):
                    run = runs[source] = {"key": key, "start": ts, "last": ts, "dispatched": None}
                else:
                    run["last"] = ts
                if t is not None and e["machine"] == p[SAFE_AUTHORITY_K11]["authority_machine"]:
                    conf = e["confidence"]
                    intent = f["gesture_intent"] if f is not None else None
                    confirms = intent is not None and (intent["name"] == t["gesture"]
                                                       or intent["command"] == t["command"])
                    if confirms:
                        conf = min(conf, intent["confidence"])
                    if self.presence_problem(ts, f) is not None or conf < t["threshold"]:
                        runs.pop(source, None)  # reset_on: present_false, tracking_lost, below threshold
                        run = None
            if stopped_at is not None and not d.locked:
                raise Broken(SAFE_SAFE_STOP_LOCK, f"{where}: the gate is not locked after the safe stop at {stopped_at}")
            if not d.dispatched:
                counts["refused"] += 1
                continue
            counts["dispatches"] += 1
            self._dispatch(where, e, d, t, f, run, stopped_at, burst_seen, last)
            run["dispatched"] = ts
            last[(t["command"], t["deck"])] = ts
            if t["command"] == p[SAFE_SAFE_STOP_LOCK]["label"]:
                stopped_at = ts
                counts["safe_stops"] += 1
            if t["destructive"]:
                counts["destructive_dispatches"] += 1

    def _dispatch(self, where: str, e: dict[str, Any], d: Any, t: dict[str, Any] | None,
                  f: dict[str, Any] | None, run: dict[str, Any] | None, stopped_at: int | None,
                  burst_seen: int | None, last: dict[tuple[str, Any], int]) -> None:
        p, ts = self.p, e["timestamp_ms"]
        if stopped_at is not None:
            raise Broken(SAFE_SAFE_STOP_LOCK, f"{where}: dispatched after the safe stop at {stopped_at}")
        machine = e["machine"]
        if machine in p[SAFE_NEVER_COMMAND]["machines"]:
            raise Broken(SAFE_NEVER_COMMAND, f"{where}: dispatched from {machine}")
        if machine != p[SAFE_AUTHORITY_K11]["authority_machine"] or machine in p[SAFE_LIVE_SOURCE_FILTER]["rejected_machines"]:
            raise Broken(SAFE_AUTHORITY_K11, f"{where}: dispatched from {machine}")
        kind = self.source_kind(e["source_id"])
        sf = p[SAFE_LIVE_SOURCE_FILTER]
        if kind in p[SAFE_NEVER_COMMAND]["source_kinds"]:
            raise Broken(SAFE_NEVER_COMMAND, f"{where}: dispatched from a {kind} source")
        if kind not in sf["command_source_kinds"] or e["source_id"] in sf["rejected_source_ids"] \
                or e["source_id"] in self.evidence_only:
            raise Broken(SAFE_LIVE_SOURCE_FILTER, f"{where}: {e['source_id']} ({kind}) is not command evidence")
        pr = p[SAFE_CMD_PROMOTED]
        if t is None or any(r["promotion_status"] != pr["required_promotion_status"]
                            or r["lane"] != pr["required_lane"] for r in t["rows"]):
            raise Broken(SAFE_CMD_PROMOTED, f"{where}: {e['label']} is not a promoted command label")
        if d.command != t["command"]:
            raise Broken(SAFE_CMD_PROMOTED, f"{where}: dispatched {d.command}, labels.v1 says {t['command']}")
        problem = self.presence_problem(ts, f)
        if problem is not None:
            raise Broken(SAFE_CMD_PRESENCE, f"{where}: {problem}")
        dispatch_mode = p[SAFE_CMD_PRESENCE]["dispatch_mode"]
        if f["mode"] != dispatch_mode or not self.modes[f["mode"]]["commands_allowed"]:
            raise Broken(SAFE_CMD_PRESENCE, f"{where}: frame mode {f['mode']}, not {dispatch_mode}")
        intent = f["gesture_intent"]
        if intent["name"] != t["gesture"] and intent["command"] != t["command"]:
            raise Broken(SAFE_CMD_PRESENCE, f"{where}: BodyTruth confirms {intent['name']}, not {t['gesture']}")
        if e["confidence"] < t["threshold"] or intent["confidence"] < t["threshold"]:
            raise Broken(SAFE_CMD_THRESHOLD, f"{where}: confidence {e['confidence']} / intent "
                         f"{intent['confidence']} < {t['threshold']}")
        if run is None or ts - run["start"] < t["hold_ms"]:
            held = None if run is None else ts - run["start"]
            raise Broken(SAFE_CMD_HOLD, f"{where}: held {held} ms < {t['hold_ms']} ms")
        if run["dispatched"] is not None:
            raise Broken(SAFE_CMD_HOLD, f"{where}: a second dispatch in one hold (first at {run['dispatched']})")
        key = (t["command"], t["deck"])
        if key in last and ts - last[key] < t["cooldown_ms"]:
            raise Broken(SAFE_CMD_COOLDOWN, f"{where}: {t['command']} again {ts - last[key]} ms after "
                         f"the previous dispatch (cooldown {t['cooldown_ms']} ms)")
        if t["destructive"]:
            blocked = p[SAFE_BURST_NONDESTRUCTIVE]["blocked_modes"]
            if f["mode"] in blocked:
                raise Broken(SAFE_BURST_NONDESTRUCTIVE, f"{where}: destructive {t['command']} in {f['mode']}")
            if burst_seen is not None and ts - burst_seen <= self.release_after_ms:
                raise Broken(SAFE_BURST_NONDESTRUCTIVE, f"{where}: destructive {t['command']} "
                             f"{ts - burst_seen} ms after a burst window")


# ----------------------------------------------------------------------------- the properties
def known_streams() -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Streams known to dispatch (explicit examples), so no property passes vacuously."""
    from ._strategies import T0, frames_for, held

    double = held("left_hand_raise", T0, 1200) + held("left_hand_raise", T0 + 1400, 800)
    stop = held("safe_stop_rehearsal", T0, 600) + held("right_hand_raise", T0 + 1000, 900)
    loop = held("loop_toggle", T0, 900, deck=1) + held("scratch", T0 + 1500, 900, deck=2)
    return {"double": (double, frames_for(double)), "safe_stop": (stop, frames_for(stop)),
            "burst": (loop, frames_for(loop[:20]) + frames_for(loop[20:], "burst"))}


def gate_stream_property(rules: Rules, oracle: Oracle):
    def prop(stream: tuple[list[dict[str, Any]], list[dict[str, Any]]], counts: Counter) -> None:
        events, frames = stream
        decisions = decide_all(make_gate(rules), events, frames)
        oracle.check(events, frames, decisions, counts)
        found = audit([d.to_record() for d in decisions], rules)
        if found:
            raise Broken(SAFE_CMD_PRESENCE, f"the gate's own audit disagrees: {found[0]}")
    return prop


def authority_property(rules: Rules):
    authority = invariants()[SAFE_AUTHORITY_K11].parameters["authority_machine"]

    def prop(value: tuple[tuple[list, list], str, bool], counts: Counter) -> None:
        (events, frames), machine, can_command = value
        if machine == authority:
            can_command = False  # K11 configured without command rights
        decisions = decide_all(make_gate(rules, Authority(machine, can_command)), events, frames)
        counts["events"] += len(decisions)
        for d in decisions:
            if d.dispatched:
                raise Broken(SAFE_AUTHORITY_K11, f"a gate configured as {machine} "
                             f"(can_command_rekordbox={can_command}) dispatched {d.command}")
            if d.invariant != SAFE_AUTHORITY_K11:
                raise Broken(SAFE_AUTHORITY_K11, f"a {machine} gate refused citing {d.invariant}")
            counts["refused"] += 1
    return prop


def _records(events: list[dict[str, Any]], frames: list[dict[str, Any]], shift: int = 0) -> list[dict[str, Any]]:
    """A live stream: frames and events by time (a frame before an event of the same ms)."""
    merged = [(f["timestamp"] + shift, 0, {**f, "timestamp": f["timestamp"] + shift}) for f in frames]
    merged += [(e["timestamp_ms"] + shift, 1, {**e, "timestamp_ms": e["timestamp_ms"] + shift}) for e in events]
    merged.sort(key=lambda r: (r[0], r[1]))
    return [r for _, _, r in merged]


def restart_property(rules: Rules, oracle: Oracle, folder: Path):
    stop_label = invariants()[SAFE_SAFE_STOP_LOCK].parameters["label"]

    def prop(value: tuple[tuple[list, list], tuple[list, list]], counts: Counter) -> None:
        (events, frames), (events2, frames2) = value
        lock = SafeStopLock(folder / "airdeck_safe_stop.lock.json")
        lock.release()
        gate = make_gate(rules, dry_run=False)
        log = io.StringIO()
        run_loop(gate, _records(events, frames), log=log, lock=lock)
        stopped = any(r.get("decision") == "dispatched" and r.get("command") == stop_label
                      for r in map(_json, log.getvalue().splitlines()))
        if not stopped:
            if lock.is_locked():
                raise Broken(SAFE_SAFE_STOP_LOCK, "a lock file appeared without a safe stop")
            return
        counts["safe_stops"] += 1
        shift = max(e["timestamp_ms"] for e in events) - min(e["timestamp_ms"] for e in events2) + 10_000
        again = restart_gate(rules, lock)
        later = list(decide_all(again, _records(events2, [], shift), _records([], frames2, shift)))
        counts["events_after_restart"] += len(later)
        for d in later:
            if d.dispatched or not d.locked:
                raise Broken(SAFE_SAFE_STOP_LOCK, f"after a safe stop and a restart the gate "
                             f"{'dispatched ' + str(d.command) if d.dispatched else 'is unlocked'}")
        lock.release()  # the operator's re-arm (lume airdeck rearm), never a gesture
        again.rearm()
        if again.locked:
            raise Broken(SAFE_SAFE_STOP_LOCK, "the operator's re-arm did not open the gate")
    return prop


def _json(line: str) -> dict[str, Any]:
    import orjson

    return orjson.loads(line)


def compact(value: Any) -> Any:
    """A gate stream as the evidence shows it: every event, and each frame by what the gate reads."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list) \
            and isinstance(value[1], list):
        events, frames = value
        return {"events": events, "frames": [
            {k: f[k] for k in ("timestamp", "mode", "present", "tracking_lost", "gesture_intent")}
            for f in frames]}
    if isinstance(value, (tuple, list)):
        return [compact(v) for v in value]
    return value


def properties(folder: Path) -> Iterator[tuple[str, tuple[str, ...], Any, Any, list[Any], tuple[str, ...]]]:
    """(name, invariants, strategy, property, explicit examples, counts it must see)."""
    from hypothesis import strategies as st

    from ._strategies import boundary_streams, gate_streams, gate_vocabulary, inputs

    rules, variant = Rules.from_contracts(), rule_tables(all_promoted=True)
    promoted_rules, oracle = Rules.from_data(**copy.deepcopy(variant)), Oracle.from_tables(rule_tables())
    known = known_streams()
    v = gate_vocabulary()
    gate_covers = tuple(i for i in COVERS if i != SAFE_BURST_NONDESTRUCTIVE)
    yield ("gate_streams", gate_covers, gate_streams(), gate_stream_property(rules, oracle),
           [*boundary_streams(), known["double"], known["safe_stop"]], ("dispatches",))
    yield ("destructive_in_burst", COVERS,
           gate_streams(labels=v["command_labels"], common=v["destructive"]),
           gate_stream_property(promoted_rules, Oracle.from_tables(variant)),
           [*boundary_streams(v["destructive"]), known["burst"]], ("destructive_dispatches",))
    yield ("non_k11_configuration", (SAFE_AUTHORITY_K11,),
           st.tuples(gate_streams(), st.sampled_from(v["machines"]), st.booleans()),
           authority_property(rules), [(known["double"], "Mac5", True)], ("refused",))
    half = max(1, inputs().airdeck.max_segments // 2)  # two streams: before and after the restart
    yield ("safe_stop_survives_restart", (SAFE_SAFE_STOP_LOCK,),
           st.tuples(gate_streams(max_segments=half), gate_streams(max_segments=half)),
           restart_property(rules, oracle, folder), [(known["safe_stop"], known["double"])],
           ("safe_stops",))


@verifier(ID, "The AirDeck gate keeps its safety invariants over generated streams (hypothesis)",
          invariants=COVERS, domain="rig", proof=True)
def airdeck_properties(ctx: Context) -> Iterator[Evidence]:
    b = budget(ID)
    with tempfile.TemporaryDirectory(prefix="lume-airdeck-props-") as tmp:
        for name, covers, strategy, prop, explicit, must_see in properties(Path(tmp)):
            yield evidence(run_property(name, covers, strategy, prop, b, explicit=explicit,
                                        show=compact), must_see=must_see)
