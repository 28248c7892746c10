"""The analyzer and promotion rules (promotion_policy.v1), read once and validated.

Seed 002's eight live-safe criteria come from live_safe_policy.v1, the one policy for gestures
and models (its `gesture` checks; promotion_policy.v1 keeps an identical copy for v1 readers).
"""
from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from lume.runtime.core import body_truth_rules, contract_ref, rule_data

POLICY = "promotion_policy.v1"
LIVE_SAFE = "live_safe_policy.v1"


@functools.cache
def policy() -> dict[str, Any]:
    """The policy table as plain data (validated against its meta-schema on first use)."""
    return rule_data(POLICY)


def analyzer() -> dict[str, Any]:
    return policy()["analyzer"]


def visual() -> dict[str, Any]:
    return policy()["visual"]


def command() -> dict[str, Any]:
    return policy()["command"]


@functools.cache
def live_safe() -> dict[str, Any]:
    return rule_data(LIVE_SAFE)


def criteria() -> list[dict[str, Any]]:
    """The eight criteria as a gesture is checked: id, order, sentence and the gesture check."""
    return [{"id": c["id"], "order": c["order"], "sentence": c["sentence"], "check": c["gesture"]}
            for c in sorted(live_safe()["criteria"], key=lambda c: c["order"])]


def proof_checks() -> list[dict[str, Any]]:
    """The four proof-matrix checks with the evidence that satisfies each (`checks`)."""
    return list(policy().get("checks", []))


def policy_ref() -> dict[str, str]:
    return contract_ref(POLICY)


@functools.cache
def pose_motion_full_scale() -> tuple[int, float]:
    """(window_ms, body heights per second at energy 1.0) of body_truth_rules.v0 `pose_motion`:
    track speeds become 0..1 energies the same way the pose source computes motion_energy."""
    pm = body_truth_rules().pose_motion
    return int(pm.window_ms), float(pm.full_scale_body_heights_per_s)


def tool_version() -> str:
    try:
        return metadata.version("lume")
    except metadata.PackageNotFoundError:
        return "0+unknown"
