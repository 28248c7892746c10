"""The mode state machine table of body_truth_modes.v0: modes, allowed and forbidden changes."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from lume.generated.models.meta_body_truth_modes_v0 import BodyTruthModes, ModeSpec
from lume.runtime import core as contracts

MODES_CONTRACT = "body_truth_modes.v0"


class IllegalTransition(RuntimeError):
    """Fusion tried a mode change the modes table does not allow (a bug, never bad input)."""


@dataclass(frozen=True)
class ModeTable:
    initial: str
    modes: dict[str, ModeSpec]  # mode name -> its row of the modes table
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
    return _compile(data if isinstance(data, BodyTruthModes) else BodyTruthModes.model_validate(dict(data)))


@functools.cache
def _default_table() -> ModeTable:
    return _compile(contracts.table(MODES_CONTRACT))


def _compile(m: BodyTruthModes) -> ModeTable:
    modes = {name: getattr(m.modes, name) for name in type(m.modes).model_fields}
    allowed = frozenset((t.from_, t.to) for t in m.transitions)
    forbidden = frozenset((t.from_, t.to) for t in m.forbidden)
    return ModeTable(m.initial, modes, allowed, forbidden)
