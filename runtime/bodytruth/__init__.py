"""BodyTruth v0: fusion of source observations into one `lume_body_truth` object per tick.

`Fusion` is the pure state machine (rules from body_truth_rules.v0, modes from
body_truth_modes.v0); `replay` runs it over recorded streams; `summarize` tells what a run
did. The HTTP service (`BodyTruthService`, `create_app`, `serving`, `WriteAccess` (who may
write), and `plan_service` / `run_service` for `lume bodytruth serve`) loads on first use, so the fusion core never pulls in
a web server.
"""
from __future__ import annotations

from lume.runtime.core import lazy_exports

_EXPORTS = {
    "_fusion": ("Fusion",),
    "_inputs": ("InputRejected", "frame_problems"),
    "_modes": ("IllegalTransition", "ModeTable", "mode_table"),
    "_replay": ("DEFAULT_TICK_MS", "iter_replay", "merged", "replay"),
    "_rules": ("Rules", "compile_rules"),
    "_streams": ("read_streams",),
    "_summary": ("summarize",),
    # the HTTP service: loaded on first use, so the fusion core never pulls in a web server
    "_service": ("BodyTruthService", "create_app", "default_port", "serving"),
    "_serve": ("ServicePlan", "plan_service", "run_service"),
    "_access": ("WriteAccess",),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
