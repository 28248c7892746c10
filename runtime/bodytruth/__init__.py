"""BodyTruth v0: fusion of source observations into one `lume_body_truth` object per tick.

`Fusion` is the pure state machine (rules from body_truth_rules.v0, modes from
body_truth_modes.v0); `replay` runs it over recorded streams; `load_scenario` reads the shipped
scenario fixtures. The HTTP service lives in `lume.runtime.bodytruth.service` (imported on use,
so the fusion core never pulls in a web server).
"""
from .fusion import Fusion
from .inputs import InputRejected, frame_problems
from .modes import IllegalTransition, ModeTable, mode_table
from .replay import iter_replay, replay
from .rules import Rules, compile_rules
from .summary import summarize


def __getattr__(name: str):  # scenarios load lazily: `python -m ...bodytruth.scenarios` stays clean
    if name in ("SCENARIOS", "load_scenario"):
        from . import scenarios

        return getattr(scenarios, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Fusion", "IllegalTransition", "InputRejected", "ModeTable", "Rules", "SCENARIOS",
    "compile_rules", "frame_problems", "iter_replay", "load_scenario", "mode_table", "replay",
    "summarize",
]
