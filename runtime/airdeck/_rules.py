"""Every rule the AirDeck gate applies, read from the contracts (never literals in code).

`Rules.from_contracts()` reads the label table (labels.v1), the safety invariants
(safety_invariants.v1), the MIDI map (airdeck_midi_map.v1) and the BodyTruth rules and modes
(body_truth_rules.v0, body_truth_modes.v0) once, validating each table against its
meta-schema, and flattens them into plain dicts and frozen dataclasses so a decision costs
a few dict lookups. `Rules.from_data()` takes the same tables as data: tests use it to
build rule variants (e.g. every candidate promoted) and check that the gate still holds.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from lume.generated import constants as C
from lume.runtime.core import LabelIndex, contract_ref, invariants, limit, rule_data

from ._midi_map import MidiRow, planned_messages

# The contracts the gate reads; a dry-run report records their digests and live mode refuses
# to start when any of them changed since that report.
RULE_CONTRACTS = ("labels.v1", "safety_invariants.v1", "airdeck_midi_map.v1",
                  "body_truth_rules.v0", "body_truth_modes.v0")
# ... and the live limits (SAFE-LIVE-NOW): how old an event or frame may be against the clock.
LIVE_CONTRACTS = ("evidence_freshness.v1",)

# Invariant ids the gate cites (generated from the table: a renamed invariant fails at import
# instead of silently disabling a rule).
AUTHORITY = C.SAFE_AUTHORITY_K11
NEVER_COMMAND = C.SAFE_NEVER_COMMAND
PRESENCE = C.SAFE_CMD_PRESENCE
PROMOTED = C.SAFE_CMD_PROMOTED
THRESHOLD = C.SAFE_CMD_THRESHOLD
HOLD = C.SAFE_CMD_HOLD
COOLDOWN = C.SAFE_CMD_COOLDOWN
BURST = C.SAFE_BURST_NONDESTRUCTIVE
SOURCE_FILTER = C.SAFE_LIVE_SOURCE_FILTER
SAFE_STOP = C.SAFE_SAFE_STOP_LOCK
LIVE_NOW = C.SAFE_LIVE_NOW
GATE_INVARIANTS = (AUTHORITY, NEVER_COMMAND, PRESENCE, PROMOTED, THRESHOLD, HOLD, COOLDOWN,
                   BURST, SOURCE_FILTER, SAFE_STOP, LIVE_NOW)


class RulesError(ValueError):
    """The contracts do not give the gate a rule it needs (a contract bug, never bad input)."""


@dataclass(frozen=True)
class Target:
    """What a gesture label resolves to: the command, its deck and its gate parameters."""

    gesture: str  # canonical label of the event's row (e.g. left_hand_raise)
    command: str  # command label (e.g. d1_play_pause)
    action: str
    deck: int | None
    threshold: float
    hold_ms: int
    cooldown_ms: int
    destructive: bool
    internal: bool  # acts inside the gate only (safe stop): no MIDI
    midi: tuple[tuple[int, bytes], ...] = ()  # (after_ms, raw bytes) of its MIDI row


@dataclass(frozen=True)
class Resolution:
    """A label resolved for dispatch: a Target, or why it may not be dispatched."""

    target: Target | None
    command: str | None  # the command label when known, even when refused
    deck: int | None
    problem: str | None


@dataclass
class Rules:
    """The flattened rule tables. Build with `from_contracts()` or `from_data()`."""

    authority_machine: str
    never_machines: frozenset[str]
    never_source_kinds: frozenset[str]
    rejected_machines: frozenset[str]
    rejected_source_ids: frozenset[str]
    rejected_source_kinds: frozenset[str]
    command_source_kinds: frozenset[str]
    source_id_kinds: tuple[tuple[re.Pattern[str], str], ...]
    lockout_modes: frozenset[str]
    command_modes: frozenset[str]
    max_body_truth_age_ms: int
    required_status: str
    required_lane: str
    min_threshold: float
    min_hold_ms: int
    min_cooldown_by_action: dict[str, int]
    blocked_modes: frozenset[str]
    blocked_labels: frozenset[str]
    safe_stop_label: str
    release_after_ms: int
    index: LabelIndex  # the label table: names, aliases and what each label commands
    live_statuses: frozenset[str]
    command_lanes: frozenset[str]
    commands: dict[str, dict[str, Any]]
    midi_rows: dict[tuple[str, int | None], MidiRow]
    gate_internal: frozenset[str]
    # live mode only (SAFE-LIVE-NOW): (max age, skew allowance) in ms against the wall clock
    live_event_ms: tuple[int, int]
    live_frame_ms: tuple[int, int]
    _resolved: dict[tuple[str, int | None], Resolution] = field(default_factory=dict, repr=False)
    _kinds: dict[str, str] = field(default_factory=dict, repr=False)

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    @functools.cache
    def from_contracts(cls) -> "Rules":
        return cls.from_data(**{_key(stem): rule_data(stem) for stem in RULE_CONTRACTS})

    @classmethod
    def from_data(cls, *, labels: dict[str, Any], safety_invariants: dict[str, Any],
                  airdeck_midi_map: dict[str, Any], body_truth_rules: dict[str, Any],
                  body_truth_modes: dict[str, Any]) -> "Rules":
        inv = invariants(safety_invariants)
        missing = [i for i in GATE_INVARIANTS if i not in inv]
        if missing:
            raise RulesError(f"safety_invariants.v1 lacks the gate invariants {missing}")

        def p(invariant: str, key: str) -> Any:
            try:
                return inv[invariant].parameters[key]
            except KeyError:
                raise RulesError(f"safety_invariants.v1 {invariant} has no parameter {key!r}") from None

        midi_rows = {(r["label"], r["deck"]): MidiRow.from_row(r) for r in airdeck_midi_map["rows"]}
        gesture = body_truth_rules["gesture"]
        return cls(
            authority_machine=p(AUTHORITY, "authority_machine"),
            never_machines=frozenset(p(NEVER_COMMAND, "machines")),
            never_source_kinds=frozenset(p(NEVER_COMMAND, "source_kinds")),
            rejected_machines=frozenset(p(SOURCE_FILTER, "rejected_machines")),
            rejected_source_ids=frozenset(p(SOURCE_FILTER, "rejected_source_ids"))
            | frozenset(body_truth_rules.get("evidence_only_source_ids", [])),
            rejected_source_kinds=frozenset(p(SOURCE_FILTER, "rejected_source_kinds")),
            command_source_kinds=frozenset(p(SOURCE_FILTER, "command_source_kinds")),
            source_id_kinds=tuple((re.compile(r["pattern"]), r["kind"])
                                  for r in p(SOURCE_FILTER, "source_id_kinds")),
            lockout_modes=frozenset(p(PRESENCE, "lockout_modes")),
            command_modes=frozenset(m for m, row in body_truth_modes["modes"].items()
                                    if row["commands_allowed"])
            & frozenset([p(PRESENCE, "dispatch_mode")]),
            max_body_truth_age_ms=int(p(PRESENCE, "max_body_truth_age_ms")),
            required_status=p(PROMOTED, "required_promotion_status"),
            required_lane=p(PROMOTED, "required_lane"),
            min_threshold=float(p(THRESHOLD, "min_threshold")),
            min_hold_ms=int(p(HOLD, "min_hold_ms")),
            min_cooldown_by_action=dict(p(COOLDOWN, "min_cooldown_ms_by_action")),
            blocked_modes=frozenset(p(BURST, "blocked_modes")),
            blocked_labels=frozenset(p(BURST, "blocked_labels_from")),
            safe_stop_label=p(SAFE_STOP, "label"),
            release_after_ms=int(gesture["release_after_ms"]),
            index=LabelIndex(labels),
            live_statuses=frozenset(s["name"] for s in labels["promotion_statuses"]
                                    if s["allows_live_command"]),
            command_lanes=frozenset(lane["name"] for lane in labels["lanes"] if lane["may_command"]),
            commands=dict(safety_invariants["commands"]),
            midi_rows=midi_rows,
            gate_internal=frozenset(g["label"] for g in airdeck_midi_map["gate_internal"]),
            live_event_ms=_live_ms(C.FRESH_GESTURE_EVENT_LIVE),
            live_frame_ms=_live_ms(C.FRESH_BODY_TRUTH_FRAME_LIVE),
        )

    # ---- queries ------------------------------------------------------------------------------
    def canonical(self, label: str) -> str | None:
        return self.index.canonical(label)

    def source_kind(self, source_id: str) -> str:
        """The kind of a gesture source by the contract's id patterns; `unknown` when none match."""
        kind = self._kinds.get(source_id)
        if kind is None:
            kind = next((k for pattern, k in self.source_id_kinds if pattern.search(source_id)),
                        "unknown")
            if len(self._kinds) < 4096:  # bounded: arbitrary ids must not grow memory
                self._kinds[source_id] = kind
        return kind

    def resolve(self, label: str, deck: int | None) -> Resolution:
        """Resolve an event label (and the deck it names) to a dispatchable command, or why not."""
        key = (label, deck)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolve(label, deck)
            if len(self._resolved) < 4096:
                self._resolved[key] = found
        return found

    def _resolve(self, label: str, deck: int | None) -> Resolution:
        name = self.canonical(label)
        if name is None:
            return Resolution(None, None, deck, f"{label!r} is not a label of labels.v1")
        found = self.index.resolve_command(name)
        if found is None:
            row = self.index.rows[name]
            return Resolution(None, None, deck,
                              f"{name} ({row['lane']} lane) stands for no command")
        row, command_row, command = found.row, found.command_row, found.command
        if found.deck is not None and deck is not None and deck != found.deck:
            return Resolution(None, command, deck,
                              f"{name} commands deck {found.deck} but the event names deck {deck}")
        deck = found.deck if found.deck is not None else deck
        for r in (row, command_row):
            if r["lane"] != self.required_lane or r["lane"] not in self.command_lanes:
                return Resolution(None, command, deck, f"{r['name']} is in the {r['lane']} lane, "
                                  f"not the {self.required_lane} lane")
            if r["promotion_status"] != self.required_status or \
                    r["promotion_status"] not in self.live_statuses:
                return Resolution(None, command, deck, f"{r['name']} is {r['promotion_status']}, "
                                  f"not {self.required_status}: dry-run / self-play only")
        rule = self.commands.get(command)
        if rule is None:
            return Resolution(None, command, deck,
                              f"{command} has no gate parameters in safety_invariants.v1 commands")
        internal = command in self.gate_internal
        midi: tuple[tuple[int, bytes], ...] = ()
        if not internal:
            midi_row = self.midi_rows.get((command, deck)) or self.midi_rows.get((command, None))
            if midi_row is None:
                where = f"deck {deck}" if deck is not None else "an unresolved deck"
                return Resolution(None, command, deck,
                                  f"{command} has no MIDI row for {where} in airdeck_midi_map.v1")
            midi = planned_messages(midi_row)
        action = found.action
        target = Target(
            gesture=name, command=command, action=action, deck=deck,
            threshold=max(float(rule["threshold"]), self.min_threshold),
            hold_ms=max(int(rule["hold_ms"]), self.min_hold_ms),
            cooldown_ms=max(int(rule["cooldown_ms"]), int(self.min_cooldown_by_action.get(action, 0))),
            destructive=bool(rule["destructive"] or command_row["destructive"] or row["destructive"]),
            internal=internal, midi=midi)
        return Resolution(target, command, deck, None)

    def is_safe_stop(self, target: Target) -> bool:
        return target.command == self.safe_stop_label


def _key(stem: str) -> str:
    return stem.split(".")[0]  # "airdeck_midi_map.v1" -> the from_data keyword airdeck_midi_map


def _live_ms(evidence: str) -> tuple[int, int]:
    lim = limit(evidence)
    return round(lim.max_age_s * 1000), round(lim.skew_s * 1000)


def contract_digests() -> list[dict[str, str]]:
    """`{id, sha256}` of each rule contract file the gate reads (recorded in dry-run reports)."""
    return [contract_ref(stem) for stem in RULE_CONTRACTS + LIVE_CONTRACTS]
