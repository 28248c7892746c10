"""The operator's one command does not age: `lume verify` on the shipped fixtures is GREEN
with the machine's clock years ahead (no fixture holds evidence that goes stale with the
calendar), and a report signed under that clock counts there but not on a machine whose clock
is behind it (SAFE-EVIDENCE-FRESH: dated in the future beyond the skew allowance).

The clock is moved for the child processes only, with libfaketime (`faketime`, a Debian
package `.ci/run` installs); without it this test skips, saying so.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lume.runtime.core import parse_datetime
from lume.verifiers import default_root

FAKETIME = shutil.which("faketime")
AHEAD_S = 3 * 365 * 86400
PYTHON_LUME = (sys.executable, "-m", "lume.runtime.cli")
pytestmark = pytest.mark.skipif(FAKETIME is None, reason="faketime (libfaketime) is not installed: "
                                "apt-get install faketime")


def ahead(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """`lume ARGS` with every clock of the process three years ahead."""
    cmd = [FAKETIME, "-f", f"+{AHEAD_S}s", *PYTHON_LUME, *map(str, args)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        # libfaketime (0.9.10) never wakes a timed condition wait (threading.Event.wait(t)),
        # which `lume verify` and `lume report verify` do not use today
        pytest.fail(f"`lume {' '.join(map(str, args))}` under faketime ran over {timeout:g} s: did it "
                    f"start waiting on a timed condition (libfaketime never wakes one)?")


def lume(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([*PYTHON_LUME, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def moved() -> None:
    """Skip, saying so, where faketime cannot move this interpreter's clock (a static build)."""
    probe = subprocess.run([FAKETIME, "-f", f"+{AHEAD_S}s", sys.executable, "-c",
                            "import time; print(time.time())"], capture_output=True, text=True, timeout=60)
    try:
        moved_s = float(probe.stdout) - time.time()
    except ValueError:
        moved_s = 0.0
    if moved_s < AHEAD_S - 3600:
        said = (probe.stdout or probe.stderr)[:200]
        pytest.skip(f"faketime did not move this interpreter's clock: {said!r}")


def test_the_shipped_fixtures_stay_green_years_on_and_that_report_does_not_count_before_then(
        moved, tmp_path):
    report = tmp_path / "readiness.json"
    run = ahead("verify", "-o", report)
    assert run.returncode == 0 and "GREEN" in run.stdout, run.stdout + run.stderr
    predicate = json.loads(base64.b64decode(json.loads(report.read_text())["payload"]))["predicate"]
    # the run saw the moved clock (else this would prove nothing)
    assert parse_datetime(predicate["generated_at"]).timestamp() - time.time() > AHEAD_S - 3600
    then = ahead("report", "verify", report, "--root", default_root(), "--require-green")
    assert then.returncode == 0 and "AUTHENTIC" in then.stdout and "verdict GREEN" in then.stdout, \
        then.stdout + then.stderr
    # on this machine's own clock the same report is dated three years ahead: refused, not counted
    signed = report.read_bytes()
    now = lume("report", "verify", report, "--require-green")
    said = now.stdout + now.stderr
    assert now.returncode == 1, said
    assert "dated in the future" in said and "clock-skew allowance" in said and "readiness_report.v2" in said
    assert "Traceback" not in said and report.read_bytes() == signed
