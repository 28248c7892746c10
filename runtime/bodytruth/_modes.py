"""The mode state machine table of body_truth_modes.v0: modes, allowed and forbidden changes."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from lume.runtime import core as contracts

MODES_CONTRACT = "body_truth_modes.v0"


class IllegalTransition(RuntimeError):
    """Fusion tried a mode change the modes table does not allow (a bug, never bad input)."""


@dataclass(frozen=True)
class ModeSpec:
    name: str
    present: bool
    tracking_lost: bool
    commands_allowed: bool
    gesture_recognition: str  # enabled | held_only | disabled


@dataclass(frozen=True)
class ModeTable:
    initial: str
    modes: dict[str, ModeSpec]
    allowed: frozenset[tuple[str, str]]
    forbidden: frozenset[tuple[str, str]]

    def is_allowed(self, before: str, after: str) -> bool:
        return before == after or (before, after) in self.allowed

    def check(self, before: str, after: str) -> str:
        if not self.is_allowed(before, after):
            raise IllegalTransition(f"{MODES_CONTRACT}: {before} -> {after} is not an allowed transition")
        return after

    @property
    def present_modes(self) -> frozenset[str]:
        return frozenset(n for n, s in self.modes.items() if s.present)


def mode_table(data: Any = None) -> ModeTable:
    if data is None:
        return _default_table()
    model_cls = contracts.model_for(MODES_CONTRACT)
    return _compile(data if isinstance(data, model_cls) else model_cls.model_validate(dict(data)))


@functools.cache
def _default_table() -> ModeTable:
    return _compile(contracts.table(MODES_CONTRACT))


def _compile(m: Any) -> ModeTable:
    modes = {}
    for name in type(m.modes).model_fields:
        s = getattr(m.modes, name)
        modes[name] = ModeSpec(name, s.present, s.tracking_lost, s.commands_allowed,
                               s.gesture_recognition.root)
    allowed = frozenset((t.from_.root, t.to.root) for t in m.transitions)
    forbidden = frozenset((t.from_.root, t.to.root) for t in m.forbidden)
    return ModeTable(m.initial.root, modes, allowed, forbidden)
