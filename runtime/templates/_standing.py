"""Whether a label IS promoted: what a bundle's signed promoted manifest says.

The label table (labels.v1) only says what a label may become; seed 000's promotion path ends
in the promoted AirDeck manifest, so "promoted" is read from `derived/airdeck/promoted_gestures.json`
through the gate's own reader (`load_manifest`: signature against the trust file, and
`evidence_problems`: the evidence it was signed over still matches). A gesture listed there
promotes the command label it maps to as well (the gate dispatches that command under the
gesture's name).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lume.runtime.airdeck import evidence_problems, load_manifest

from ._promotion import MANIFEST_FILE

PROMOTED, NOT_PROMOTED = "promoted", "not promoted"
NO_MANIFEST, STALE = "no manifest", "stale"


@dataclass(frozen=True)
class ManifestStanding:
    """One bundle's promoted manifest as `lume labels show --bundle` reports it."""

    path: Path
    state: str  # no manifest | trusted | unsigned | untrusted | invalid | stale
    detail: str
    listed: dict[str, str] = field(default_factory=dict)  # label -> the gesture that lists it

    @property
    def holds(self) -> bool:
        return self.state == "trusted"

    def of(self, label: str) -> str:
        """promoted / not promoted, or why a manifest listing the label does not count."""
        if label not in self.listed:
            return NOT_PROMOTED
        via = self.listed[label]
        if not self.holds:
            return f"listed, manifest {self.state}"
        return PROMOTED if via == label else f"{PROMOTED} (via {via})"

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "state": self.state, "detail": self.detail,
                "listed": dict(self.listed)}


def manifest_standing(bundle_dir: Path, *, trust: list[dict[str, Any]] | None = None) -> ManifestStanding:
    """Read the bundle's promoted manifest (InputError when it cannot be read at all)."""
    path = Path(bundle_dir) / MANIFEST_FILE
    if not path.is_file():
        return ManifestStanding(path, NO_MANIFEST, f"{MANIFEST_FILE} not found: nothing is promoted "
                                "(lume promote --command writes it)")
    manifest = load_manifest(path, trust=trust)
    listed: dict[str, str] = {}
    for gesture, g in manifest.gestures.items():
        listed[gesture] = gesture
        listed.setdefault(g["command"], gesture)
    state, detail = manifest.signature["status"], manifest.signature["detail"]
    if manifest.signed:
        stale = evidence_problems(manifest).problems
        if stale:
            state, detail = STALE, stale[0]
    return ManifestStanding(path, state, detail, listed)
