"""The fusion rules: body_truth_rules.v0 as its generated model, plus what fusion derives from it.

Fusion reads every threshold, timeout and switch straight from the typed model (`rules.model`,
e.g. `rules.model.presence.min_confidence`); this module only adds what is computed from the
contracts: each source's fresh window capped by the stale horizon, the output slots and the
authority order, and the gesture -> command mapping with the per-command threshold / hold of
safety_invariants.v1. Nothing is a literal in code and no contract field is declared again here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping

from lume.generated.models.meta_body_truth_rules_v0 import BodyTruthRules, SourceClass
from lume.runtime import core as contracts

RULES_CONTRACT = "body_truth_rules.v0"


@dataclass(frozen=True)
class GestureCommand:
    """What a gesture label stands for: its command, deck and the hold/threshold to confirm it."""

    command: str | None
    deck: int | None
    threshold: float
    hold_ms: int


@dataclass(frozen=True)
class Rules:
    model: BodyTruthRules  # the contract's rules, typed: read thresholds and switches here
    sources: dict[str, SourceClass]  # source kind -> its row of the model
    fresh_ms: dict[str, int]  # source kind -> fresh_ms_max capped by timing.tracking_lost_after_ms
    slots: tuple[str, ...]  # output `sources` slots, in contract order
    authority_order: tuple[str, ...]
    velocity_window_ms: int  # output.velocity_window_ms, else the stale horizon
    gesture_commands: dict[str, GestureCommand]

    def gesture_command(self, label: str) -> GestureCommand:
        """Command, deck, threshold and hold of a gesture label (defaults for unmapped labels)."""
        found = self.gesture_commands.get(label)
        g = self.model.gesture
        return found or GestureCommand(None, None, g.confirm_min_confidence, g.hold_ms)


def _gesture_commands(confirm_min: float, hold_ms: int) -> dict[str, GestureCommand]:
    """Label → command from labels.v1; thresholds/holds from safety_invariants.v1 `commands`.

    The effective threshold and hold are the larger of the BodyTruth default and the command's own.
    """
    out: dict[str, GestureCommand] = {}
    per_command = contracts.commands()
    index = contracts.LabelIndex.load()
    for name in index.rows:
        found = index.resolve_command(name)
        command, deck = (found.command, found.deck) if found and found.may_command else (None, None)
        params = per_command.get(command, {}) if command else {}
        out[name] = GestureCommand(
            command=command,
            deck=deck,
            threshold=max(confirm_min, float(params.get("threshold", confirm_min))),
            hold_ms=max(hold_ms, int(params.get("hold_ms", hold_ms))),
        )
    return out


def compile_rules(rules: Any = None) -> Rules:
    """Compile the rules: None = body_truth_rules.v0 as shipped, or a model / mapping of its data."""
    if rules is None:
        return _default_rules()
    if isinstance(rules, Rules):
        return rules
    model = rules if isinstance(rules, BodyTruthRules) else BodyTruthRules.model_validate(dict(rules))
    return _compile(model)


@functools.cache
def _default_rules() -> Rules:
    return _compile(contracts.table(RULES_CONTRACT))


def _compile(m: BodyTruthRules) -> Rules:
    horizon = m.timing.tracking_lost_after_ms
    sources = {kind: getattr(m.sources, kind) for kind in type(m.sources).model_fields}
    slots = tuple(dict.fromkeys(s.output_slot for s in sources.values() if s.output_slot))
    preferred = list(m.output.authority_order or [])
    window = m.output.velocity_window_ms
    return Rules(
        model=m,
        sources=sources,
        fresh_ms={kind: min(s.fresh_ms_max, horizon) for kind, s in sources.items()},
        slots=slots,
        authority_order=tuple(preferred + [s for s in slots if s not in preferred]),
        velocity_window_ms=window if window is not None else horizon,
        gesture_commands=_gesture_commands(m.gesture.confirm_min_confidence, m.gesture.hold_ms),
    )


def rule_value(rules: Rules, dotted: str) -> Any:
    """A value of body_truth_rules.v0 by dotted path (`gesture.hold_ms`), as the modes table names it."""
    node: Any = rules.model
    for part in dotted.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return node
