"""BodyTruth v0: fusion of source observations into one `lume_body_truth` object per tick.

`Fusion` is the pure state machine (rules from body_truth_rules.v0, modes from
body_truth_modes.v0); `replay` runs it over recorded streams; `summarize` tells what a run
did. The HTTP service (`BodyTruthService`, `create_app`, `serving`, `WriteAccess` (who may
write), and `plan_service` / `run_service` for `lume bodytruth serve`) loads on first use, so the fusion core never pulls in
a web server.
"""
from __future__ import annotations

import importlib

from ._fusion import Fusion
from ._inputs import InputRejected, frame_problems
from ._modes import IllegalTransition, ModeTable, mode_table
from ._replay import DEFAULT_TICK_MS, iter_replay, merged, replay
from ._rules import Rules, compile_rules
from ._streams import read_streams
from ._summary import summarize

_LAZY = {"BodyTruthService": "_service", "create_app": "_service", "default_port": "_service",
         "serving": "_service", "ServicePlan": "_serve", "plan_service": "_serve",
         "run_service": "_serve", "WriteAccess": "_access"}

__all__ = [
    "DEFAULT_TICK_MS", "BodyTruthService", "Fusion", "IllegalTransition", "InputRejected",
    "ModeTable", "Rules", "ServicePlan", "WriteAccess", "compile_rules", "create_app",
    "default_port", "frame_problems", "iter_replay", "merged", "mode_table", "plan_service",
    "read_streams", "replay", "run_service", "serving", "summarize",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
