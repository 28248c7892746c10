"""The safety invariants (lume:contract:safety_invariants:v1) as verifiers read and cite them."""
from __future__ import annotations

import functools
from typing import Any

from ._contracts import get
from ._models import table

CONTRACT = "safety_invariants.v1"


@functools.cache
def invariants() -> dict[str, Any]:
    """Invariant id -> its parsed row (sentence, parameters, covers)."""
    return {inv.id: inv for inv in table(CONTRACT).invariants}


def parameters(invariant_id: str) -> dict[str, Any]:
    """The parameters of one invariant (KeyError naming the contract when it is missing)."""
    try:
        return dict(invariants()[invariant_id].parameters)
    except KeyError:
        raise KeyError(f"{invariant_id} is not in {CONTRACT}") from None


def commands() -> dict[str, dict[str, Any]]:
    """Per-command gate parameters keyed by command label (the table data as written: the
    generated `Commands` model narrows entries that carry extra `allOf` rules)."""
    return get(CONTRACT).table_data()["commands"]
