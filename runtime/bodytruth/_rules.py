"""The fusion rules, compiled once from the contracts into plain attributes for the hot path.

Every number fusion uses comes from here: body_truth_rules.v0 (sources, presence, the 0.75
alternatives, timeouts, motion, gesture, output), the gesture → command mapping of labels.v1
and the per-command threshold / hold of safety_invariants.v1. Nothing is a literal in code.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping

from lume.runtime import core as contracts

RULES_CONTRACT = "body_truth_rules.v0"
LABELS_CONTRACT = "labels.v1"
INVARIANTS_CONTRACT = "safety_invariants.v1"


@dataclass(frozen=True)
class SourceRule:
    kind: str
    slot: str | None
    fresh_ms: int  # fresh_ms_max capped by timing.tracking_lost_after_ms (the stale horizon)
    human: bool
    verifier: bool
    camera: bool
    counts_motion: bool


@dataclass(frozen=True)
class GestureCommand:
    """What a gesture label stands for: its command, deck and the hold/threshold to confirm it."""

    command: str | None
    deck: int | None
    threshold: float
    hold_ms: int


@dataclass(frozen=True)
class Rules:
    sources: dict[str, SourceRule]
    slots: tuple[str, ...]  # output `sources` slots, in contract order
    authority_order: tuple[str, ...]
    evidence_only: frozenset[str]
    # presence and confidence
    presence_min: float
    presence_requires_fresh: bool
    full_body_required: bool
    high_min: float
    mocopi_source: str
    mocopi_min_conf: float
    mocopi_min_joints: int
    depth_source: str
    depth_min_conf: float
    verifier_min_conf: float
    cameras_min_count: int
    cameras_distinct_by: str
    cameras_min_conf: float
    alternative_score: str
    presence_only_cap: float
    tracking_lost_confidence: str
    absent_confidence: float
    # timing
    tracking_lost_after_ms: int
    absent_after_ms: int
    slot_null_after_ms: int
    velocity_window_ms: int
    # motion
    energy_fusion: str
    still_max: float
    active_min: float
    burst_min: float
    burst_exit: float
    burst_requires_present: bool
    burst_min_counted: int
    burst_ramp_start: float
    burst_ramp_end: float
    # gesture
    candidate_min: float
    confirm_min: float
    hold_ms: int
    release_after_ms: int
    confirmed_max_ms: int
    confirm_machines: frozenset[str]
    gesture_commands: dict[str, GestureCommand]
    # posture
    present_postures: frozenset[str]
    seated_postures: frozenset[str]
    raw: Any  # the parsed BodyTruthRules model

    def gesture_command(self, label: str) -> GestureCommand:
        """Command, deck, threshold and hold of a gesture label (defaults for unmapped labels)."""
        found = self.gesture_commands.get(label)
        return found or GestureCommand(None, None, self.confirm_min, self.hold_ms)


def _gesture_commands(confirm_min: float, hold_ms: int) -> dict[str, GestureCommand]:
    """Label → command from labels.v1; thresholds/holds from safety_invariants.v1 `commands`.

    A gesture row (`gesture: d1_play_pause`) maps to the command label it names; a command-lane
    label with a command maps to itself. The effective threshold and hold are the larger of the
    BodyTruth default and the command's own value.
    """
    contracts.table(LABELS_CONTRACT)  # validated on the way in
    contracts.table(INVARIANTS_CONTRACT)
    labels = contracts.get(LABELS_CONTRACT).table_data()
    lanes = {lane["name"]: lane for lane in labels["lanes"]}
    rows = {row["name"]: row for row in labels["labels"]}
    per_command = contracts.get(INVARIANTS_CONTRACT).table_data()["commands"]
    out: dict[str, GestureCommand] = {}
    for name, row in rows.items():
        command = row.get("gesture") or (name if row.get("command") else None)
        target = rows.get(command) if command else None
        if target is None or not lanes.get(target["lane"], {}).get("may_command", False):
            command, deck = None, None
        else:
            deck = (target.get("command") or {}).get("deck")
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
    model_cls = contracts.model_for(RULES_CONTRACT)
    model = rules if isinstance(rules, model_cls) else model_cls.model_validate(dict(rules))
    return _compile(model)


@functools.cache
def _default_rules() -> Rules:
    return _compile(contracts.table(RULES_CONTRACT))


def _compile(m: Any) -> Rules:
    timing = m.timing
    horizon = timing.tracking_lost_after_ms.root
    sources: dict[str, SourceRule] = {}
    for kind in type(m.sources).model_fields:
        s = getattr(m.sources, kind)
        sources[kind] = SourceRule(
            kind=kind,
            slot=s.output_slot.root if s.output_slot is not None else None,
            fresh_ms=min(s.fresh_ms_max.root, horizon),
            human=s.human_source,
            verifier=s.person_verifier,
            camera=s.camera_person_source,
            counts_motion=s.motion_energy_counts,
        )
    slots = tuple(dict.fromkeys(s.slot for s in sources.values() if s.slot))
    preferred = [o.root for o in (m.output.authority_order or [])]
    authority = tuple(preferred + [s for s in slots if s not in preferred])
    hc = m.high_confidence
    g = m.gesture
    velocity_window = m.output.velocity_window_ms
    return Rules(
        sources=sources,
        slots=slots,
        authority_order=authority,
        evidence_only=frozenset(s.root for s in m.evidence_only_source_ids),
        presence_min=m.presence.min_confidence.root,
        presence_requires_fresh=m.presence.requires_fresh,
        full_body_required=m.presence.full_body_required,
        high_min=hc.min_confidence.root,
        mocopi_source=hc.mocopi_skeleton.source.root,
        mocopi_min_conf=hc.mocopi_skeleton.min_source_confidence.root,
        mocopi_min_joints=hc.mocopi_skeleton.min_joint_count,
        depth_source=hc.depth_plus_person_verifier.depth_source.root,
        depth_min_conf=hc.depth_plus_person_verifier.min_depth_confidence.root,
        verifier_min_conf=hc.depth_plus_person_verifier.min_verifier_confidence.root,
        cameras_min_count=hc.independent_camera_person_sources.min_count,
        cameras_distinct_by=hc.independent_camera_person_sources.distinct_by,
        cameras_min_conf=hc.independent_camera_person_sources.min_source_confidence.root,
        alternative_score=m.output.alternative_score,
        presence_only_cap=m.output.presence_only_confidence_cap.root,
        tracking_lost_confidence=m.output.tracking_lost_confidence,
        absent_confidence=m.output.absent_confidence.root,
        tracking_lost_after_ms=horizon,
        absent_after_ms=timing.absent_after_ms.root,
        slot_null_after_ms=timing.source_slot_null_after_ms.root,
        velocity_window_ms=velocity_window.root if velocity_window is not None else horizon,
        energy_fusion=m.motion.energy_fusion,
        still_max=m.motion.still_max_motion_energy.root,
        active_min=m.motion.active_min_motion_energy.root,
        burst_min=m.motion.burst_min_motion_energy.root,
        burst_exit=m.motion.burst_exit_motion_energy.root,
        burst_requires_present=m.motion.burst_requires_present,
        burst_min_counted=m.motion.burst_min_counted_sources,
        burst_ramp_start=m.output.burst_ramp_start.root,
        burst_ramp_end=m.output.burst_ramp_end.root,
        candidate_min=g.candidate_min_confidence.root,
        confirm_min=g.confirm_min_confidence.root,
        hold_ms=g.hold_ms.root,
        release_after_ms=g.release_after_ms.root,
        confirmed_max_ms=g.confirmed_max_ms.root,
        confirm_machines=frozenset(x.root for x in g.confirm_machines),
        gesture_commands=_gesture_commands(g.confirm_min_confidence.root, g.hold_ms.root),
        present_postures=frozenset(p.root for p in m.posture.present_allowed),
        seated_postures=frozenset(p.root for p in m.posture.seated_when),
        raw=m,
    )


def rule_value(rules: Rules, dotted: str) -> Any:
    """A value of body_truth_rules.v0 by dotted path (`gesture.hold_ms`), as the modes table names it."""
    node: Any = rules.raw
    for part in dotted.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return getattr(node, "root", node)
