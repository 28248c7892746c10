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
from typing import TYPE_CHECKING, Any, Callable

from ._contracts import get
from ._models import table

if TYPE_CHECKING:  # each model is imported when its table is first read (table() -> model_for)
    from lume.generated.models.meta_airdeck_gestures_v1 import AirdeckGestures
    from lume.generated.models.meta_body_truth_inputs_v0 import BodyTruthInputs
    from lume.generated.models.meta_body_truth_modes_v0 import BodyTruthModes
    from lume.generated.models.meta_body_truth_rules_v0 import BodyTruthRules
    from lume.generated.models.meta_bundle_layout_v1 import BundleLayout
    from lume.generated.models.meta_check_remediation_v1 import CheckRemediation
    from lume.generated.models.meta_deck_zones_v1 import DeckZones
    from lume.generated.models.meta_director_ownership_v2 import DirectorOwnership
    from lume.generated.models.meta_input_limits_v1 import InputLimits
    from lume.generated.models.meta_label_table_v1 import LabelTable
    from lume.generated.models.meta_midi_map_v1 import MidiMap
    from lume.generated.models.meta_promotion_policy_v1 import PromotionPolicy
    from lume.generated.models.meta_safety_invariants_v1 import Invariant, SafetyInvariants
    from lume.generated.models.meta_service_connections_v1 import ServiceConnections
    from lume.generated.models.meta_storage_root_v2 import StorageRoot

INVARIANTS = "safety_invariants.v1"


def rule_data(stem: str) -> dict[str, Any]:
    """A rule table's data as written (validated), as a fresh copy the caller may change."""
    table(stem)  # validates against the meta-schema (once)
    return copy.deepcopy(get(stem).table_data())


def _table(stem: str, model: str) -> Callable[[], Any]:
    """The accessor of one rule table: its generated model, parsed once."""
    def accessor() -> Any:
        return table(stem)
    accessor.__doc__ = f"{stem} parsed into its generated model `{model}`."
    return accessor


labels: Callable[[], LabelTable] = _table("labels.v1", "LabelTable")
safety_invariants: Callable[[], SafetyInvariants] = _table(INVARIANTS, "SafetyInvariants")
policy: Callable[[], PromotionPolicy] = _table("promotion_policy.v1", "PromotionPolicy")
bundle_layout: Callable[[], BundleLayout] = _table("bundle_layout.v1", "BundleLayout")
storage_root: Callable[[], StorageRoot] = _table("storage_root.v2", "StorageRoot")
body_truth_rules: Callable[[], BodyTruthRules] = _table("body_truth_rules.v0", "BodyTruthRules")
body_truth_modes: Callable[[], BodyTruthModes] = _table("body_truth_modes.v0", "BodyTruthModes")
deck_zones: Callable[[], DeckZones] = _table("airdeck_deck_zones.v1", "DeckZones")
airdeck_gestures: Callable[[], AirdeckGestures] = _table("airdeck_gestures.v1", "AirdeckGestures")
midi_map: Callable[[], MidiMap] = _table("airdeck_midi_map.v1", "MidiMap")
director_ownership: Callable[[], DirectorOwnership] = _table("director_ownership.v2", "DirectorOwnership")
input_limits: Callable[[], InputLimits] = _table("input_limits.v1", "InputLimits")
body_truth_inputs: Callable[[], BodyTruthInputs] = _table("body_truth_inputs.v0", "BodyTruthInputs")
check_remediation: Callable[[], CheckRemediation] = _table("check_remediation.v1", "CheckRemediation")
service_connections: Callable[[], ServiceConnections] = _table("service_connections.v1", "ServiceConnections")


def connection_limits(service: str) -> Any:
    """The ConnectionLimits row of one service in service_connections.v1 (SERVICE_* constants);
    KeyError naming the contract for a service it does not declare."""
    try:
        return service_connections().services[service]
    except KeyError:
        raise KeyError(f"{service!r} is not a service in service_connections.v1") from None


@functools.cache
def _invariants() -> dict[str, Invariant]:
    return _index(safety_invariants())


def _index(t: SafetyInvariants) -> dict[str, Invariant]:
    return {inv.id: inv for inv in t.invariants}


Table = "SafetyInvariants | dict[str, Any] | None"


def invariants(table: Table = None) -> dict[str, Invariant]:
    """Invariant id -> its row (sentence, parameters, covers). `table` is another
    safety_invariants table (its data or model), e.g. a rule variant, instead of the shipped one."""
    if table is None:
        return dict(_invariants())
    model = type(safety_invariants())
    return _index(table if isinstance(table, model) else model.model_validate(table))


def invariant(invariant_id: str, table: Table = None) -> Invariant:
    """One safety invariant (KeyError naming the contract when it is missing)."""
    try:
        return (_invariants() if table is None else invariants(table))[invariant_id]
    except KeyError:
        raise KeyError(f"{invariant_id} is not in {INVARIANTS}") from None


def parameters(invariant_id: str, table: Table = None) -> dict[str, Any]:
    """The parameters of one invariant, as a fresh mapping."""
    return dict(invariant(invariant_id, table).parameters)


@functools.cache
def _commands() -> dict[str, dict[str, Any]]:
    return get(INVARIANTS).table_data()["commands"]


def commands() -> dict[str, dict[str, Any]]:
    """Per-command gate parameters (threshold, hold_ms, cooldown_ms, destructive) keyed by
    command label, as written: the table's `allOf` floors leave the generated `Commands` model
    without a typed value for each entry."""
    table(INVARIANTS)
    return copy.deepcopy(_commands())

