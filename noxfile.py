"""Sessions: verify (before every rehearsal), tests, codegen, contract_diff, fixtures, bench."""
from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["verify"]
nox.options.reuse_venv = "yes"

PYTHON = "3.11"
TEST_EXTRAS = ".[test,pose]"
NUMPY2_EXTRAS = ".[test]"  # no mediapipe: the newest numpy


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    """The pre-rehearsal check: contracts, every verifier over ROOT (default: the route-smoke
    fixtures) into a signed report, then the report's own verification.

    `nox -s verify -- ROOT [lume verify options]`. The signing key lives outside the repository
    (LUME_KEY_DIR, the configuration, or ~/.config/lume/keys); on a fresh machine it is created
    and trusted on first use. Installed editable so the report names the contracts' git commit.
    """
    session.install("-e", ".")
    report = os.environ.get("LUME_REPORT", os.path.join("reports", "readiness.json"))
    session.run("lume", "contracts", "check")
    session.run("lume", "verify", *session.posargs, "-o", report)
    session.run("lume", "report", "verify", report)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (parallel on every core)."""
    session.install("-e", TEST_EXTRAS)
    workers = os.environ.get("LUME_TEST_WORKERS", "auto")
    session.run("pytest", "-n", workers, "-q", *session.posargs)


@nox.session(python=PYTHON)
def tests_numpy2(session: nox.Session) -> None:
    """The suite under the second dependency set: the newest numpy (2.x) without the `pose`
    extra, whose mediapipe 0.10.21 pins numpy below 2. Tests that need mediapipe skip, saying why."""
    session.install("-e", NUMPY2_EXTRAS, "numpy>=2")
    session.run("python", "-c", "import numpy, sys; print('numpy', numpy.__version__); "
                "sys.exit(0 if int(numpy.__version__.split('.')[0]) >= 2 else 'numpy 2 was not installed')")
    workers = os.environ.get("LUME_TEST_WORKERS", "auto")
    session.run("pytest", "-n", workers, "-q", *session.posargs)


@nox.session(python=PYTHON)
def codegen(session: nox.Session) -> None:
    """Regenerate generated/ from contracts/ (the only way generated/ changes)."""
    session.install("-e", ".[codegen]")
    session.run("lume", "contracts", "codegen", "--out", "generated")


def _merge_base() -> str:
    """The merge base with origin/main (else main): what this branch's contract changes start from."""
    import subprocess

    for upstream in ("origin/main", "main"):
        done = subprocess.run(["git", "merge-base", upstream, "HEAD"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return "main"


@nox.session(python=PYTHON)
def contract_diff(session: nox.Session) -> None:
    """Classify contract changes against the merge base of main (or BASE [HEAD] given as posargs).

    Writes reports/contract_diff.md (the review table); fails when a change breaks its
    contract's compatibility mode without a new contract version.
    """
    session.install(".")
    refs = session.posargs or [_merge_base()]
    session.run("lume", "contracts", "diff", *refs, "-o", "reports/contract_diff.md")


@nox.session(python=PYTHON)
def fixtures(session: nox.Session) -> None:
    """Rebuild the route-smoke fixtures (fixtures/route_smoke, fixtures/pose_coach) by running
    the real storage pipeline; `-- --reuse-media` keeps the committed videos' bytes."""
    session.install("-e", ".")
    session.run("lume", "fixtures", "build", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and ratios against baselines measured in the same run."""
    session.install("-e", TEST_EXTRAS)
    for script in sorted(os.listdir("benches")):
        if script.startswith("bench_") and script.endswith(".py"):
            session.run("python", f"benches/{script}", *session.posargs)
