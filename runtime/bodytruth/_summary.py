"""Summarise a run of frames: time in each mode, transitions, commands that would have been allowed."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from lume.runtime import core as contracts

from ._modes import ModeTable, mode_table


def _command_thresholds() -> dict[str, float]:
    return {name: float(c["threshold"]) for name, c in contracts.commands().items()}


def allowed_command(frame: dict[str, Any], modes: ModeTable, thresholds: dict[str, float]) -> bool:
    """What BodyTruth lets through to the K11 gate (seed 003 section 6, SAFE-CMD-PRESENCE/THRESHOLD):
    a command-allowing mode, present, not tracking_lost, a named command and its threshold met.
    Cooldown, promotion and the live source filter are the AirDeck gate's checks, not these."""
    intent = frame["gesture_intent"]
    command = intent["command"]
    return (modes.modes[frame["mode"]].commands_allowed and frame["present"]
            and not frame["tracking_lost"] and command is not None
            and intent["confidence"] >= thresholds.get(command, float("inf")))


def summarize(frames: Iterable[dict[str, Any]], *, tick_ms: int, modes: ModeTable | None = None) -> dict[str, Any]:
    modes = modes or mode_table()
    thresholds = _command_thresholds()
    time_in: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    transitions: list[dict[str, Any]] = []
    commands: list[dict[str, Any]] = []
    illegal: list[dict[str, Any]] = []
    # The first frame is compared with the initial mode, so entering presence is a transition too.
    prev: dict[str, Any] = {"mode": modes.initial}
    n = skipped = 0
    first = last = None
    for f in frames:
        n += 1
        if last is not None:  # a frame lasts until the next: a skipped quiet gap counts too
            time_in[prev["mode"]] += f["timestamp"] - last
            skipped += max(0, f["timestamp"] - last - tick_ms)
        first = f["timestamp"] if first is None else first
        last = f["timestamp"]
        if prev["mode"] != f["mode"]:
            step = {"timestamp": f["timestamp"], "from": prev["mode"], "to": f["mode"]}
            transitions.append(step)
            pairs[f"{prev['mode']}->{f['mode']}"] += 1
            if not modes.is_allowed(prev["mode"], f["mode"]):
                illegal.append(step)
        # One command per entry into a command-allowing mode: a held confirmation is not a repeat.
        if prev["mode"] != f["mode"] and allowed_command(f, modes, thresholds):
            gi = f["gesture_intent"]
            commands.append({"timestamp": f["timestamp"], "command": gi["command"], "label": gi["name"],
                             "deck": gi["deck"], "confidence": gi["confidence"]})
        prev = f
    if n:
        time_in[prev["mode"]] += tick_ms
    return {
        "frames": n,
        "tick_ms": tick_ms,
        "first_timestamp": first,
        "last_timestamp": last,
        "time_in_mode_ms": {m: time_in.get(m, 0) for m in modes.modes},
        "skipped_ms": skipped,
        "transitions": transitions,
        "transition_counts": dict(sorted(pairs.items())),
        "illegal_transitions": illegal,
        "commands_allowed": commands,
        "final_mode": prev["mode"] if n else None,
    }
