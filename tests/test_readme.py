"""The README walks every path (issue 16 item 5): its runnable blocks run as written.

A fenced ```sh block preceded by `<!-- readme-test -->` (or `<!-- readme-test exit=N -->`) runs,
in README order, with bash (`set -eu -o pipefail`) in one temporary folder holding a copy of
`fixtures/` (the README's commands run from the root of a clone), with this test venv's `lume` and
`python` first on PATH, a fresh key folder, cache and configuration home, and
`LUME_PROPERTY_PROFILE=smoke` (the property checks' small budget, as the README says). Nothing in a
block is substituted. A block started in the background (`lume sim mac4 ... &`) is stopped with its
process group when the block ends. A `<!-- readme-file: PATH -->` block must be that file.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"<!-- readme-(test|file)(?::\s*(\S+))?(?:\s+exit=(\d+))?(?:\s+needs=(\S+))?\s*-->\s*\n"
                   r"```(\w+)\n(.*?)\n```", re.S)
MIN_RUNNABLE = 4  # the machine configurations, a promotion, the gate -> Mac5 path, the checklist


def blocks(kind: str) -> list[tuple[str | None, int, str, str]]:
    text = README.read_text(encoding="utf-8")
    return [(m[2], int(m[3] or 0), m[5], m[6]) for m in BLOCK.finditer(text) if m[1] == kind]


def needs(kind: str = "test") -> list[str | None]:
    """The module each block needs (`needs=mediapipe`: the `pose` extra), or None."""
    text = README.read_text(encoding="utf-8")
    return [m[4] for m in BLOCK.finditer(text) if m[1] == kind]


def test_the_readme_marks_its_runnable_blocks():
    runnable = blocks("test")
    assert len(runnable) >= MIN_RUNNABLE
    assert all(lang == "sh" for _, _, lang, _ in runnable)


@pytest.mark.parametrize("path", [p for p, *_ in blocks("file")])
def test_the_configurations_shown_are_the_shipped_files_and_valid(path):
    from lume.runtime.core import get, problems

    shown = next(body for p, _, _, body in blocks("file") if p == path)
    shipped = json.loads((REPO / path).read_text())
    assert json.loads(shown) == shipped
    assert problems(shipped, get("machine_config.v1")) == []


def test_every_machine_has_a_sample_configuration():
    assert {json.loads((REPO / p).read_text())["machine"] for p, *_ in blocks("file")} == {"K11", "Mac4", "Mac5"}


@pytest.mark.slow
def test_the_runnable_blocks_run_as_written(tmp_path):
    work = tmp_path / "clone"
    shutil.copytree(REPO / "fixtures", work / "fixtures", ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("LUME_CONFIG", "LUME_TRUST_FILE")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               LUME_KEY_DIR=str(home / "keys"), LUME_CACHE_DIR=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"), HOME=str(home), LUME_PROPERTY_PROFILE="smoke",
               NO_COLOR="1", COLUMNS="120")
    missing = []
    for i, ((_, expected, _, body), module) in enumerate(zip(blocks("test"), needs())):
        if module and importlib.util.find_spec(module) is None:
            missing.append(f"block {i + 1} needs {module}")
            continue
        log = tmp_path / f"block{i + 1}.log"  # a file, not a pipe: a background job keeps a pipe open
        with log.open("w") as sink:
            proc = subprocess.Popen(["bash", "-c", "set -eu -o pipefail\n" + body], cwd=work, env=env,
                                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=300)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # anything the block left in the background
            except ProcessLookupError:
                pass
        out = log.read_text(errors="replace")
        assert proc.returncode == expected, f"README block {i + 1} exited {proc.returncode}:\n{body}\n---\n{out}"
    if missing:  # the others ran and passed; say which could not run in this dependency set
        pytest.skip(f"README {', '.join(missing)}, not installed here (the `pose` extra)")
