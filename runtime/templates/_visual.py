"""Visual templates for Mac4 Unity / Web Lab (seed 000 Wave 7; first target wave_color).

Visual response is lower risk than Rekordbox commands, so a visual template needs only the
windows and motion evidence promotion_policy.v1 `visual` asks for; it never reaches the
AirDeck gate (visual lane labels may not command, labels.v1).
"""
from __future__ import annotations

from typing import Any

from lume.runtime.core import LabelIndex

from . import _policy as policy

SCHEMA = "lume.templates.visual_templates.v1"


def document(windows: list[dict[str, Any]], templates_doc: dict[str, Any],
             source_templates: dict[str, str], *, bundle: dict[str, Any],
             generated_at: str) -> dict[str, Any]:
    """The visual_templates.v1 document from the analyzer's windows and templates."""
    v = policy.visual()
    index = LabelIndex.load()
    by_label = {t["label"]: t for t in templates_doc["templates"]}
    out, skipped = [], []
    targeted = set()
    for target in v["targets"]:
        label = target["label"]
        targeted.add(label)
        m = index.map(label)
        t = by_label.get(label)
        with_motion = sum(1 for w in windows if w["label"] == label and "motion_energy" in w["features"])
        if m.lane != "visual" or m.may_command:
            skipped.append({"label": label, "reason": f"in the {m.lane} lane of labels.v1, not a visual label"})
        elif t is None:
            skipped.append({"label": label, "reason": "no window with this label in the bundle"})
        elif t["count"] < v["min_examples"]:
            skipped.append({"label": label, "reason": f"{t['count']} window(s), needs {v['min_examples']}"})
        elif with_motion < v["min_windows_with_motion"] or "motion_energy" not in t["features"]:
            skipped.append({"label": label, "reason": f"{with_motion} window(s) with motion evidence, "
                                                      f"needs {max(1, v['min_windows_with_motion'])}"})
        else:
            e = t["features"]["motion_energy"]
            k = float(v["spread_k"])
            out.append({
                "label": label, "effect": target["effect"], "category": t["category"], "lane": t["lane"],
                "windows": t["count"], "windows_with_motion": with_motion,
                "duration_s": t["duration_s"], "motion_energy": e,
                "response": {"feature": "motion_energy",
                             "low": round(min(1.0, max(0.0, e["mean"] - k * e["std"])), 6),
                             "high": round(min(1.0, max(0.0, e["mean"] + k * e["std"])), 6)},
                "features": t["features"], "examples": t["examples"],
            })
    for t in templates_doc["templates"]:
        if t["lane"] == "visual" and t["label"] not in targeted:
            skipped.append({"label": t["label"],
                            "reason": "no visual target in promotion_policy.v1 `visual.targets`"})
    return {
        "schema": SCHEMA, "generated_at": generated_at,
        "generator": {"tool": "lume promote", "version": policy.tool_version()},
        "bundle": bundle, "policy": policy.policy_ref(),
        "source_templates": source_templates,
        "consumers": list(v["consumers"]), "templates": out, "not_exported": skipped,
    }
