"""The template analyzer and promotion into visual templates and the AirDeck manifest.

`build_templates` writes derived/templates/ from a rehearsal bundle (seed 000 Wave 6, labels
aligned through the core label table); `promote` turns templates into the
visual-template manifest and, only when the proof matrix, the AirDeck gate's dry run and seed
002's eight live-safe criteria allow it, the promoted AirDeck manifest (Wave 7).
"""
from ._analyzer import TemplatesResult, build_templates
from ._policy import criteria, proof_checks
from ._promotion import PromotionResult, promote
from ._standing import ManifestStanding, manifest_standing

__all__ = [
    "ManifestStanding",
    "PromotionResult",
    "TemplatesResult",
    "build_templates",
    "criteria",
    "manifest_standing",
    "promote",
    "proof_checks",
]
