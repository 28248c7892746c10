"""Verifiers: named checks that read contracts and data, never change them, and feed readiness reports.

`run` runs the checks of `all_verifiers()` over a root (each a `Verifier` yielding
`Evidence`): file checks, hypothesis property runs of the rig's safety code, the route-smoke
replay, and - given a rig file (`load_rig`) - live probes of the running rig; `report` signs the result as a readiness report (an in-toto Statement v1 in a
DSSE envelope, Ed25519, through lume.runtime.core) and writes it with its Markdown and HTML
renderings; `sign_completion_report` does the same for a completion-gate run.
"""
from ._binding import Binding, bind
from ._catalog import all_verifiers
from ._context import Context
from ._framework import Verifier, verifier
from ._predicate import build_predicate, verdicts
from ._properties import PROFILE_ENV, reduced_profile
from ._render import render_html, render_markdown
from ._report import write_report
from ._rig import RigConfig, load_rig
from ._runner import (
    Run,
    UnknownCheck,
    completion_predicate,
    default_root,
    report,
    run,
    select,
    sign_completion_report,
)

__all__ = [
    "Binding", "Context", "PROFILE_ENV", "RigConfig", "Run", "bind", "UnknownCheck", "Verifier",
    "all_verifiers", "build_predicate", "default_root", "completion_predicate", "load_rig",
    "reduced_profile", "render_html", "render_markdown", "report", "run", "select",
    "sign_completion_report", "verdicts", "verifier", "write_report",
]
