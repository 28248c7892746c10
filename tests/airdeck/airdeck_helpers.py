"""Builders for AirDeck tests: BodyTruth frames straight from the body_truth.v0 contract,
gesture events, held-gesture streams (lume.verifiers._strategies) and rule variants."""
from __future__ import annotations

import copy
from typing import Any

from lume.runtime.airdeck import Authority, DispatchGate, Rules
from lume.runtime.airdeck._rules import RULE_CONTRACTS
from lume.runtime.core import get

# One definition of the stream builders, shared with the property verifiers (lume verify).
from lume.verifiers._strategies import T0, event, frame, frames_for, held  # noqa: F401

LOCKED_OUT = ("absent", "tracking_lost")


def rules() -> Rules:
    return Rules.from_contracts()


def gate(manifest=None, **kw: Any) -> DispatchGate:
    r = kw.pop("rules", None) or rules()
    return DispatchGate(Authority.simulated(r), r, manifest, **kw)


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
