"""The rule tables, typed: one accessor per table, returning the table parsed into its generated
model (validated against its meta-schema on first use, then cached).

Components read thresholds, ownership, labels, limits, layouts and invariants through these,
never a contract's JSON by path: `labels().lanes`, `invariant("SAFE-CMD-HOLD").parameters`,
`policy().analyzer.max_examples`. Invariant ids, modes, machines and other names the tables fix
are constants in `lume.generated.constants`. `rule_data(stem)` is the same table as plain JSON
(a fresh copy) for code that indexes the data itself: the AirDeck gate builds rule variants
from it, the label-table verifier checks its cross-row rules on it.
"""
from __future__ import annotations

import copy
import functools
from typing import Any

from lume.generated.models.meta_airdeck_gestures_v1 import AirdeckGestures
from lume.generated.models.meta_body_truth_modes_v0 import BodyTruthModes
from lume.generated.models.meta_body_truth_rules_v0 import BodyTruthRules
from lume.generated.models.meta_bundle_layout_v1 import BundleLayout
from lume.generated.models.meta_deck_zones_v1 import DeckZones
from lume.generated.models.meta_director_ownership_v1 import DirectorOwnership
from lume.generated.models.meta_label_table_v1 import LabelTable
from lume.generated.models.meta_midi_map_v1 import MidiMap
from lume.generated.models.meta_promotion_policy_v1 import PromotionPolicy
from lume.generated.models.meta_safety_invariants_v1 import Invariant, SafetyInvariants
from lume.generated.models.meta_storage_root_v1 import StorageRoot

from ._contracts import get
from ._models import table

INVARIANTS = "safety_invariants.v1"


def rule_data(stem: str) -> dict[str, Any]:
    """A rule table's data as written (validated), as a fresh copy the caller may change."""
    table(stem)  # validates against the meta-schema (once)
    return copy.deepcopy(get(stem).table_data())


def labels() -> LabelTable:
    return table("labels.v1")


def safety_invariants() -> SafetyInvariants:
    return table(INVARIANTS)


@functools.cache
def _invariants() -> dict[str, Invariant]:
    return {inv.id: inv for inv in safety_invariants().invariants}


def invariants() -> dict[str, Invariant]:
    """Invariant id -> its row (sentence, parameters, covers)."""
    return dict(_invariants())


def invariant(invariant_id: str) -> Invariant:
    """One safety invariant (KeyError naming the contract when it is missing)."""
    try:
        return _invariants()[invariant_id]
    except KeyError:
        raise KeyError(f"{invariant_id} is not in {INVARIANTS}") from None


def parameters(invariant_id: str) -> dict[str, Any]:
    """The parameters of one invariant, as a fresh mapping."""
    return dict(invariant(invariant_id).parameters)


@functools.cache
def _commands() -> dict[str, dict[str, Any]]:
    return get(INVARIANTS).table_data()["commands"]


def commands() -> dict[str, dict[str, Any]]:
    """Per-command gate parameters (threshold, hold_ms, cooldown_ms, destructive) keyed by
    command label, as written: the table's `allOf` floors leave the generated `Commands` model
    without a typed value for each entry."""
    table(INVARIANTS)
    return copy.deepcopy(_commands())


def policy() -> PromotionPolicy:
    return table("promotion_policy.v1")


def bundle_layout() -> BundleLayout:
    return table("bundle_layout.v1")


def storage_root() -> StorageRoot:
    return table("storage_root.v1")


def body_truth_rules() -> BodyTruthRules:
    return table("body_truth_rules.v0")


def body_truth_modes() -> BodyTruthModes:
    return table("body_truth_modes.v0")


def deck_zones() -> DeckZones:
    return table("airdeck_deck_zones.v1")


def airdeck_gestures() -> AirdeckGestures:
    return table("airdeck_gestures.v1")


def midi_map() -> MidiMap:
    return table("airdeck_midi_map.v1")


def director_ownership() -> DirectorOwnership:
    return table("director_ownership.v1")
