"""The Mac4-first completion gate (seed 003 section 7) and the reader Mac5 uses of its report.

`run_completion_gate` probes Mac4 (preflight, then the full audit of `/body-truth`, `/state`,
the MRT2 proof and the device topology) and returns a `CompletionRun` of checks; the verifiers
layer signs it as a readiness report. `read_completion_report` is the completion report reader: the Mac5
handoff starts heavy work only on a report it accepts (SAFE-MAC5-GATE).
"""
from ._completion_gate import (
    CompletionRun,
    Mac4Target,
    preflight,
    resolve_target,
    run_completion_gate,
    watch,
)
from ._report_reader import (
    CompletionRefused,
    CompletionReport,
    binding_problem,
    gate_parameters,
    read_completion_report,
)

__all__ = [
    "CompletionRefused", "CompletionReport", "CompletionRun", "Mac4Target", "binding_problem",
    "gate_parameters", "preflight", "read_completion_report", "resolve_target", "run_completion_gate",
    "watch",
]
