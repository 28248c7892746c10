"""Sessions: verify (before every rehearsal), tests, codegen, contract_diff, fixtures, bench."""
from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["verify"]
nox.options.reuse_venv = "yes"

PYTHON = "3.11"
TEST_EXTRAS = ".[test,pose]"


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    """The pre-rehearsal check: contracts, then every document under the fixtures (or ROOT)."""
    session.install(".")
    session.run("lume", "contracts", "check")
    session.run("lume", "validate", *(session.posargs or ["fixtures"]))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (parallel on every core)."""
    session.install("-e", TEST_EXTRAS)
    workers = os.environ.get("LUME_TEST_WORKERS", "auto")
    session.run("pytest", "-n", workers, "-q", *session.posargs)


@nox.session(python=PYTHON)
def codegen(session: nox.Session) -> None:
    """Regenerate generated/ from contracts/ (the only way generated/ changes)."""
    session.install("-e", ".[codegen]")
    session.run("lume", "contracts", "codegen", "--out", "generated")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and ratios against baselines measured in the same run."""
    session.install("-e", TEST_EXTRAS)
    for script in sorted(os.listdir("benches")):
        if script.startswith("bench_") and script.endswith(".py"):
            session.run("python", f"benches/{script}", *session.posargs)
