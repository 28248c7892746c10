"""Builders for AirDeck tests: BodyTruth frames straight from the body_truth.v0 contract,
gesture events, held-gesture streams, and rule variants."""
from __future__ import annotations

import copy
from typing import Any

from lume.runtime.airdeck import Authority, DispatchGate, Rules
from lume.runtime.airdeck._rules import RULE_CONTRACTS
from lume.runtime.core import get

T0 = 1_779_639_400_000
LOCKED_OUT = ("absent", "tracking_lost")


def rules() -> Rules:
    return Rules.from_contracts()


def gate(manifest=None, **kw: Any) -> DispatchGate:
    r = kw.pop("rules", None) or rules()
    return DispatchGate(Authority.simulated(r), r, manifest, **kw)


def frame(ts: int, mode: str = "gesture_confirmed", intent: str | None = "left_hand_raise",
          intent_confidence: float = 0.95) -> dict[str, Any]:
    """A body_truth.v0 frame (from the contract's own example) in `mode`, consistent with the
    contract's rules: absent / tracking_lost are not present, only candidate / confirmed name a
    command."""
    f = copy.deepcopy(get("body_truth.v0").examples[0])
    f["timestamp"] = ts
    f["mode"] = mode
    f["present"] = mode not in LOCKED_OUT
    f["tracking_lost"] = mode == "tracking_lost"
    if mode == "absent":
        f["center"] = f["bounds"] = None
    r = rules()
    if intent is None:
        f["gesture_intent"] = {"name": "none", "confidence": 0.0, "deck": None, "command": None}
    else:
        res = r.resolve(intent, None)
        named = mode in ("gesture_candidate", "gesture_confirmed")
        f["gesture_intent"] = {"name": intent, "confidence": intent_confidence,
                               "deck": res.deck if res.deck in (1, 2) else None,
                               "command": res.command if named else None}
    return f


def event(ts: int, label: str = "left_hand_raise", phase: str | None = "hold",
          confidence: float = 0.9, deck: int | None = None, source_id: str = "k11_webcam_pose",
          machine: str = "K11") -> dict[str, Any]:
    e: dict[str, Any] = {"timestamp_ms": ts, "source_id": source_id, "machine": machine,
                         "label": label, "confidence": confidence}
    if deck is not None:
        e["deck"] = deck
    if phase is not None:
        e["phase"] = phase
    return e


def held(label: str, start: int, duration: int, *, step: int = 33, deck: int | None = None,
         release: bool = True, **kw: Any) -> list[dict[str, Any]]:
    """A gesture held from `start` for `duration` ms: start, hold every `step` ms, release."""
    out = [event(start + i, label, "start" if i == 0 else "hold", deck=deck, **kw)
           for i in range(0, duration + 1, step)]
    if release:
        out.append(event(start + duration + step, label, "release", deck=deck, **kw))
    return out


def frames_for(events: list[dict[str, Any]], mode: str = "gesture_confirmed",
               **kw: Any) -> list[dict[str, Any]]:
    """One frame just before each event, naming that event's gesture."""
    return [frame(e["timestamp_ms"] - 5, mode, intent=e["label"], **kw) for e in events]


def table_data() -> dict[str, Any]:
    return {stem.split(".")[0]: copy.deepcopy(get(stem).table_data()) for stem in RULE_CONTRACTS}


def all_promoted_rules() -> Rules:
    """A variant of the contracts where every candidate command label is promoted: lets the
    properties exercise destructive commands (none is promoted in the shipped table)."""
    data = table_data()
    for row in data["labels"]["labels"]:
        if row["promotion_status"] == "candidate":
            row["promotion_status"] = "promoted"
    return Rules.from_data(**data)
