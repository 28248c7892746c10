"""Labels, the template analyzer and promotion into visual templates and the AirDeck manifest.

`LabelIndex` aligns labels through labels.v1 (seed 000 Wave 4); `build_templates` writes
derived/templates/ from a rehearsal bundle (Wave 6); `promote` turns templates into the
visual-template manifest and, only when the proof matrix, the AirDeck gate's dry run and seed
002's eight live-safe criteria allow it, the promoted AirDeck manifest (Wave 7).
"""
from .analyzer import TemplatesResult, build_templates
from .labels import LabelIndex, LabelMapping, UnknownLabel
from .promotion import PromotionResult, promote

__all__ = ["LabelIndex", "LabelMapping", "PromotionResult", "TemplatesResult", "UnknownLabel",
           "build_templates", "promote"]
