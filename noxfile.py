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


# `lume verify` options that take a value (the rest are flags): what `verify_plan` must skip
# over to find ROOT among the posargs, wherever the options stand.
_VERIFY_VALUE_OPTIONS = {"-o", "--out", "--report", "--only", "--rig"}
_VERIFY_OUT_OPTIONS = {"-o", "--out", "--report"}
# The pre-rehearsal run proves the safety code at property_checks.v1's default budget, whatever
# LUME_PROPERTY_PROFILE a shell has left set (empty means the default; the test suite's `smoke`
# tries a few examples per property and would still come out green).
REHEARSAL_ENV = {"LUME_PROPERTY_PROFILE": ""}


def verify_plan(posargs: list[str], default_report: str) -> tuple[str | None, str, list[str]]:
    """(ROOT or None for the default fixtures, the report path, the `lume verify` arguments)
    for `nox -s verify -- POSARGS`: options may stand before or after ROOT, with their value as
    the next argument or after `=` (`-oPATH` too); after `--` everything is ROOT. The report is
    the `-o/--out` given, else `default_report` (added to the arguments)."""
    root, report, args = None, None, list(posargs)
    i, only_positional = 0, False
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if only_positional or not arg.startswith("-") or arg == "-":
            root = root if root is not None else arg
        elif arg == "--":
            only_positional = True
        elif name in _VERIFY_VALUE_OPTIONS:
            if not eq:
                i += 1
                value = args[i] if i < len(args) else ""
            report = value if name in _VERIFY_OUT_OPTIONS else report
        elif arg.startswith("-o") and not arg.startswith("--"):
            report = arg[2:]  # -oPATH
        i += 1
    if report is None:
        report = default_report
        args += ["-o", report]
    return root, report, args


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    """The pre-rehearsal check: contracts, every verifier over ROOT (default: the route-smoke
    fixtures) into a signed report, then the report's own verification, bound to that root:
    `lume report verify REPORT --root ROOT --require-green` (a report of another root, or a
    red or partial one, fails the session).

    `nox -s verify -- [ROOT] [lume verify options]`. The signing key lives outside the
    repository (LUME_KEY_DIR, the configuration, or ~/.config/lume/keys); on a fresh machine it
    is created and trusted on first use. Installed editable so the report names the contracts'
    git commit.
    """
    session.install("-e", ".")
    default = os.environ.get("LUME_REPORT", os.path.join("reports", "readiness.json"))
    root, report, args = verify_plan(session.posargs, default)
    session.run("lume", "contracts", "check")
    session.run("lume", "verify", *args, env=REHEARSAL_ENV)
    if root is None:  # the root `lume verify` chose: the shipped route-smoke fixtures
        root = session.run("python", "-c", "from lume.verifiers import default_root; print(default_root())",
                           silent=True).strip().splitlines()[-1]
    session.run("lume", "report", "verify", report, "--root", root, "--require-green")


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
