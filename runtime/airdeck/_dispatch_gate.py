"""The AirDeck safety gate: a pure decision component (no I/O, no MIDI; a clock only when given).

Gesture events (gesture_event.v1 dicts) and BodyTruth frames (body_truth.v0 dicts) go in;
one `Decision` per event comes out: `dispatched`, or `refused` with the id of the safety
invariant that refused it and a reason. Time is the events' own `timestamp_ms`, so a
recorded stream replays exactly as it ran live; in live mode the gate is also given the wall
clock (injected, so it stays testable) and refuses an event or frame that is not now. The
checks run in this order and the first that fails is cited:

  authority (SAFE-AUTHORITY-K11) -> machine and source (SAFE-NEVER-COMMAND,
  SAFE-LIVE-SOURCE-FILTER) -> live only: event and frame fresh against the clock
  (SAFE-LIVE-NOW) -> label promoted, and in the promoted manifest when one is given
  (SAFE-CMD-PROMOTED) -> release (asks for nothing) -> safe-stop lock (SAFE-SAFE-STOP-LOCK)
  -> BodyTruth present, not tracking_lost, fresh (SAFE-CMD-PRESENCE) -> confidence
  (SAFE-CMD-THRESHOLD) -> destructive in burst (SAFE-BURST-NONDESTRUCTIVE) -> held for
  hold_ms, one dispatch per hold (SAFE-CMD-HOLD) -> BodyTruth confirms this gesture
  (SAFE-CMD-PRESENCE, dispatch_mode) -> per-command cooldown (SAFE-CMD-COOLDOWN).

A hold is a continuous run of events of one gesture from one source: it restarts on a
`start` phase, a label or deck change, a gap longer than body_truth_rules.v0
`gesture.release_after_ms`, and on every presence or threshold refusal (SAFE-CMD-HOLD
`reset_on`). A hold that reaches its command - dispatched, or refused for cooldown or burst
- is spent until the gesture is released, so holding a hand up never repeats a command and
a refused double trigger never fires later by surprise.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from lume.generated.constants import FRESH_BODY_TRUTH_FRAME_LIVE, FRESH_GESTURE_EVENT_LIVE
from lume.runtime.core import freshness

from ._frames import FrameBuffer
from ._manifest import PromotedManifest
from ._midi_map import as_records
from ._rules import (
    AUTHORITY,
    BURST,
    COOLDOWN,
    HOLD,
    LIVE_NOW,
    NEVER_COMMAND,
    PRESENCE,
    PROMOTED,
    SAFE_STOP,
    SOURCE_FILTER,
    THRESHOLD,
    Rules,
    Target,
)

DISPATCHED, REFUSED = "dispatched", "refused"


@dataclass(frozen=True)
class Authority:
    """Who the gate runs as: the configured machine and whether it may command Rekordbox."""

    machine: str | None
    can_command: bool

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> "Authority":
        if config is None:
            return cls(None, False)
        return cls(config["machine"], bool(config["can_command_rekordbox"]))

    @classmethod
    def simulated(cls, rules: Rules) -> "Authority":
        """The K11 authority a dry run evaluates the gate as (nothing is ever sent)."""
        return cls(rules.authority_machine, True)


@dataclass(slots=True)
class Decision:
    """One gate decision. `to_record()` is its airdeck_decision.v1 log line."""

    timestamp_ms: int
    source_id: str
    machine: str
    label: str
    phase: str | None
    confidence: float
    command: str | None
    deck: int | None
    decision: str
    invariant: str | None
    reason: str
    frame: dict[str, Any] | None
    midi: tuple[tuple[int, bytes], ...] | None
    locked: bool
    dry_run: bool

    @property
    def dispatched(self) -> bool:
        return self.decision == DISPATCHED

    def to_record(self) -> dict[str, Any]:
        f = self.frame
        return {
            "timestamp_ms": self.timestamp_ms, "source_id": self.source_id,
            "machine": self.machine, "label": self.label, "phase": self.phase,
            "confidence": self.confidence, "command": self.command, "deck": self.deck,
            "decision": self.decision, "invariant": self.invariant, "reason": self.reason,
            "mode": "dry_run" if self.dry_run else "live",
            "body_truth": None if f is None else {
                "timestamp": f["timestamp"], "age_ms": max(0, self.timestamp_ms - f["timestamp"]),
                "mode": f["mode"], "present": f["present"], "tracking_lost": f["tracking_lost"]},
            "midi": as_records(self.midi) if self.midi else None,
            "locked": self.locked,
        }


@dataclass(slots=True)
class _Track:
    """The hold in progress for one source."""

    gesture: str
    deck: int | None
    start: int
    last: int
    spent: tuple[str, str] | None = None  # (invariant, reason) once the hold reached its command


class DispatchGate:
    """The decision component. Feed frames with `observe()`, events with `decide()`."""

    def __init__(self, authority: Authority, rules: Rules | None = None,
                 manifest: PromotedManifest | None = None, *, locked: bool = False,
                 dry_run: bool = True, frames: FrameBuffer | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.rules = rules or Rules.from_contracts()
        # Live mode's wall clock (Unix seconds): events and frames must be fresh against it
        # (SAFE-LIVE-NOW). None in dry runs, where a recording replays on its own time.
        self.clock = clock
        self.authority = authority
        self.manifest = manifest
        self.dry_run = dry_run
        self.frames = frames if frames is not None else FrameBuffer()
        self.locked = locked
        self.locked_at: int | None = None
        self._tracks: dict[str, _Track] = {}
        self._last_dispatch: dict[tuple[str, int | None], int] = {}
        self._burst_seen: int | None = None
        self._manifest_targets: dict[tuple[str, int | None], tuple[Target | None, str | None]] = {}
        r = self.rules
        self._may_command = authority.machine == r.authority_machine and authority.can_command

    # ---- inputs ---------------------------------------------------------------------------
    def observe(self, frame: dict[str, Any]) -> None:
        """Add a BodyTruth frame (body_truth.v0)."""
        self.frames.add(frame)

    def rearm(self) -> None:
        """The operator's re-arm after a safe stop (never a gesture: SAFE-SAFE-STOP-LOCK)."""
        self.locked = False
        self.locked_at = None
        self._tracks.clear()

    def decide(self, event: dict[str, Any]) -> Decision:
        """Decide one gesture event against the latest BodyTruth frame at or before it."""
        ts = event["timestamp_ms"]
        frame = self.frames.at(ts)
        r = self.rules
        label = event["label"]
        phase = event.get("phase")
        source_id = event["source_id"]
        if label in r.blocked_labels:  # a burst window, whoever reports it, only ever blocks
            self._burst_seen = None if phase == "release" else ts

        def out(invariant: str | None, reason: str, command: str | None = None,
                deck: int | None = event.get("deck"), midi: Any = None,
                outcome: str = REFUSED) -> Decision:
            return Decision(ts, source_id, event["machine"], label, phase, event["confidence"],
                            command, deck, outcome, invariant, reason, frame, midi,
                            self.locked, self.dry_run)

        # -- who may command at all
        if not self._may_command:
            a = self.authority
            return out(AUTHORITY, f"this gate runs as {a.machine or 'no configured machine'} "
                       f"(can_command_rekordbox={str(a.can_command).lower()}); only "
                       f"{r.authority_machine} with can_command_rekordbox=true may command Rekordbox")
        machine = event["machine"]
        if machine in r.never_machines:
            return out(NEVER_COMMAND, f"{machine} never commands Rekordbox; "
                       f"only {r.authority_machine} may")
        if machine in r.rejected_machines:
            return out(SOURCE_FILTER, f"{machine} is evidence-only for the live source filter")
        if machine != r.authority_machine:
            return out(AUTHORITY, f"events from {machine} cannot command; only {r.authority_machine}")
        kind = r.source_kind(source_id)
        if kind in r.never_source_kinds:
            return out(NEVER_COMMAND, f"{source_id} is a {kind} source, which never commands Rekordbox")
        if source_id in r.rejected_source_ids:
            return out(SOURCE_FILTER, f"{source_id} is an evidence-only source, never command evidence")
        if kind in r.rejected_source_kinds:
            return out(SOURCE_FILTER, f"{source_id} is {kind}, never live command evidence")
        if kind not in r.command_source_kinds:
            return out(SOURCE_FILTER, f"{source_id} (kind {kind}) is not a live command source; "
                       f"command sources are {', '.join(sorted(r.command_source_kinds))}")

        # -- live means now: a recorded stream can drive a dry run, never a live port
        if self.clock is not None:
            now_ms = self.clock() * 1000
            problem = _stale(FRESH_GESTURE_EVENT_LIVE, event, now_ms, ts, r.live_event_ms)
            if problem is None and frame is not None:
                problem = _stale(FRESH_BODY_TRUTH_FRAME_LIVE, frame, now_ms, frame["timestamp"],
                                 r.live_frame_ms)
            if problem is not None:
                self._tracks.pop(source_id, None)
                return out(LIVE_NOW, problem)

        # -- what it asks for
        res = r.resolve(label, event.get("deck"))
        if res.problem is not None:
            return out(PROMOTED, res.problem, res.command, res.deck)
        t = res.target
        if self.manifest is not None:
            t, problem = self._manifest_target(t)
            if problem is not None:
                return out(PROMOTED, problem, res.command, res.deck)
        command, deck = t.command, t.deck
        tracks = self._tracks
        if phase == "release":
            tr = tracks.get(source_id)
            if tr is not None and tr.gesture == t.gesture:
                del tracks[source_id]
            return out(None, f"{label} released: nothing to dispatch", command, deck)
        if self.locked:
            tracks.pop(source_id, None)
            return out(SAFE_STOP, f"gate locked by {r.safe_stop_label} at {self.locked_at}; "
                       "only the operator can re-arm it (lume airdeck rearm)", command, deck)

        # -- the body and the gesture's strength (failures reset the hold)
        problem = self._presence_problem(ts, frame)
        if problem is not None:
            tracks.pop(source_id, None)
            return out(PRESENCE, problem, command, deck)
        conf = event["confidence"]
        intent = frame["gesture_intent"]
        confirms = intent["name"] == t.gesture or intent["command"] == command
        if confirms and intent["confidence"] < conf:
            conf = intent["confidence"]
        if conf < t.threshold:
            tracks.pop(source_id, None)
            return out(THRESHOLD, f"confidence {conf:.2f} < {t.threshold} for {command}",
                       command, deck)

        # -- the hold
        tr = tracks.get(source_id)
        if (tr is None or phase == "start" or tr.gesture != t.gesture or tr.deck != deck
                or ts < tr.last or ts - tr.last > r.release_after_ms):
            tr = tracks[source_id] = _Track(t.gesture, deck, ts, ts)
        else:
            tr.last = ts
        if t.destructive and (frame["mode"] in r.blocked_modes or self._burst_open(ts)):
            tr.spent = (BURST, f"{command} is destructive and this hold started or ran in a "
                        "burst; release the gesture first")
            return out(BURST, f"{command} is destructive and BodyTruth is in burst", command, deck)
        if tr.spent is not None:
            return out(tr.spent[0], tr.spent[1], command, deck)
        held = ts - tr.start
        if held < t.hold_ms:
            return out(HOLD, f"{t.gesture} held {held} ms of {t.hold_ms} ms", command, deck)
        if frame["mode"] not in r.command_modes:
            return out(PRESENCE, f"BodyTruth mode {frame['mode']} does not allow commands "
                       f"(needs {' or '.join(sorted(r.command_modes)) or 'a command mode'})",
                       command, deck)
        if not confirms:
            return out(PRESENCE, f"BodyTruth confirms {intent['name']}, not {t.gesture}",
                       command, deck)
        key = (command, deck)
        last = self._last_dispatch.get(key)
        if last is not None and ts - last < t.cooldown_ms:
            reason = f"{command} dispatched {ts - last} ms ago; cooldown {t.cooldown_ms} ms"
            tr.spent = (COOLDOWN, f"{reason}; this hold is spent, release and raise again")
            return out(COOLDOWN, reason, command, deck)

        # -- every invariant holds
        self._last_dispatch[key] = ts
        tr.spent = (HOLD, f"one dispatch per hold: {command} already dispatched at {ts}; "
                    f"release {t.gesture} first")
        if command == r.safe_stop_label:
            self.locked = True
            self.locked_at = ts
        return out(None, f"{t.gesture} held {held} ms >= {t.hold_ms} ms at confidence "
                   f"{conf:.2f} >= {t.threshold}: dispatch {command}", command, deck,
                   midi=t.midi or None, outcome=DISPATCHED)

    # ---- helpers --------------------------------------------------------------------------
    def _presence_problem(self, ts: int, frame: dict[str, Any] | None) -> str | None:
        r = self.rules
        if frame is None:
            return "no BodyTruth frame at or before the event"
        age = ts - frame["timestamp"]
        if age > r.max_body_truth_age_ms:
            return f"the latest BodyTruth frame is {age} ms old (max {r.max_body_truth_age_ms} ms)"
        if frame["mode"] in r.lockout_modes:
            return f"BodyTruth mode is {frame['mode']}: commands locked out"
        if not frame["present"]:
            return "BodyTruth present=false"
        if frame["tracking_lost"]:
            return "BodyTruth tracking_lost=true"
        return None

    def _burst_open(self, ts: int) -> bool:
        seen = self._burst_seen
        return seen is not None and ts - seen <= self.rules.release_after_ms

    def _manifest_target(self, t: Target) -> tuple[Target | None, str | None]:
        """The label-table target tightened by its manifest entry (never loosened)."""
        key = (t.gesture, t.deck)
        found = self._manifest_targets.get(key)
        if found is None:
            found = self._tighten(t)
            self._manifest_targets[key] = found
        return found

    def _tighten(self, t: Target) -> tuple[Target | None, str | None]:
        entry = self.manifest.gestures.get(t.gesture)
        if entry is None:
            if t.command == self.rules.safe_stop_label:
                return t, None  # the safe stop only ever locks: honoured even when not listed
            return None, f"{t.gesture} is not in the promoted manifest"
        if entry["command"] != t.command or entry["deck"] != t.deck:
            return None, (f"the promoted manifest maps {t.gesture} to {entry['command']} deck "
                          f"{entry['deck']}, labels.v1 to {t.command} deck {t.deck}")
        return replace(t, threshold=max(t.threshold, float(entry["threshold"])),
                       hold_ms=max(t.hold_ms, int(entry["hold_ms"])),
                       cooldown_ms=max(t.cooldown_ms, int(entry["cooldown_ms"]))), None


def _stale(evidence: str, doc: dict[str, Any], now_ms: float, ts: int,
           limits: tuple[int, int]) -> str | None:
    """Why a live event or frame is not now (older than its live limit, or dated ahead beyond
    the skew), or None. Integer compare per event; the wording comes from core.freshness."""
    max_age, skew = limits
    age = now_ms - ts
    if age <= max_age and -age <= skew:
        return None
    what = "live event" if evidence == FRESH_GESTURE_EVENT_LIVE else "live BodyTruth frame"
    f = freshness(evidence, doc, now=now_ms / 1000, source=what)
    return f"{f.problem}: a recorded stream can drive a dry run, never a live port"
