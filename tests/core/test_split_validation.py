"""A large JSONL file is decoded by two processes, a half each: together they see every line once,
a refusal in either half sends the file to the exact path, and a failed child never passes."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lume.generated.constants import INPUT_JSONL_STREAM
from lume.runtime.core import _validate, get, input_limit
from lume.runtime.core._fastpath import accepts_chunks

STEM = "mac4_label_record.v1"
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="the two-process split forks: Linux only")


def _lines(n: int, bad: set[int] = frozenset()) -> bytes:
    examples = get(STEM).examples
    out = []
    for i in range(n):
        doc = dict(examples[i % len(examples)], session_id=f"take-{i}")
        if i in bad:
            doc["session_id"] = "not a session id!"  # breaks the contract's pattern
        out.append(orjson.dumps(doc) + b"\n")
    return b"".join(out)


def _halves(path: Path, cut: int) -> tuple[int | None, int | None]:
    """(first half's count, second half's count) as the two processes compute them, here."""
    limit = input_limit(INPUT_JSONL_STREAM)
    with open(path, "rb") as fh:
        state = {"breach": False}
        first = accepts_chunks(STEM, _validate._line_chunks(_validate._reader(fh.fileno(), 0, cut), path,
                                                            limit, state))
        second = _validate._accepts_from(fh.fileno(), cut, STEM, path, limit)
    return (None if state["breach"] else first), second


@given(n=st.integers(1, 60), bad=st.sets(st.integers(0, 59), max_size=2), at=st.integers(0, 60))
@settings(max_examples=60)
def test_the_two_halves_see_every_line_once_and_either_refuses_a_bad_line(tmp_path_factory, n, bad, at):
    bad = {b for b in bad if b < n}
    data = _lines(n, bad)
    path = tmp_path_factory.mktemp("split") / "labels.jsonl"
    path.write_bytes(data)
    ends = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    cut = ([0] + ends)[min(at, len(ends))]  # any line boundary, the ends of the file included
    first, second = _halves(path, cut)
    if bad:
        assert first is None or second is None
    else:
        assert first is not None and second is not None
        assert first + second == n


def test_the_split_is_just_after_the_line_end_past_the_middle(tmp_path, monkeypatch):
    data = _lines(2000)
    path = tmp_path / "labels.jsonl"
    path.write_bytes(data)
    monkeypatch.setattr(_validate, "SPLIT_BYTES", 1)
    monkeypatch.setattr(_validate, "can_fork", lambda: True)
    limit = input_limit(INPUT_JSONL_STREAM)
    with open(path, "rb") as fh:
        cut = _validate._halfway(fh, limit)
    assert cut is not None and data[cut - 1:cut] == b"\n"
    assert len(data) // 2 <= cut <= len(data) // 2 + data[len(data) // 2:].index(b"\n") + 1


def test_no_split_for_a_small_file_where_forking_is_unsafe_or_a_line_is_too_long(tmp_path, monkeypatch):
    path = tmp_path / "labels.jsonl"
    path.write_bytes(_lines(200))
    limit = input_limit(INPUT_JSONL_STREAM)
    monkeypatch.setattr(_validate, "can_fork", lambda: True)
    with open(path, "rb") as fh:
        assert _validate._halfway(fh, limit) is None  # under SPLIT_BYTES
    monkeypatch.setattr(_validate, "SPLIT_BYTES", 1)
    monkeypatch.setattr(_validate, "can_fork", lambda: False)  # another thread alive, not Linux
    with open(path, "rb") as fh:
        assert _validate._halfway(fh, limit) is None
    monkeypatch.setattr(_validate, "can_fork", lambda: True)
    long_tail = tmp_path / "long.jsonl"
    long_tail.write_bytes(b"{}\n" + b" " * (3 * limit.max_line_bytes))  # no line end past the middle
    with open(long_tail, "rb") as fh:
        assert _validate._halfway(fh, limit) is None


def _run(code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter (one thread: a fork there is what the CLI does)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, check=False)


@LINUX
def test_a_forked_child_returns_its_count_and_any_failure_reads_as_none():
    done = _run("""
        import os, signal, time
        from lume.runtime.core._forked import Forked
        assert Forked(lambda: 42).result() == 42
        assert Forked(lambda: None).result() is None
        assert Forked(lambda: 1 // 0).result() is None                          # an exception
        assert Forked(lambda: os.kill(os.getpid(), signal.SIGKILL)).result() is None  # killed
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the system: unknown
        assert Forked(lambda: 7).result() is None
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        slow = Forked(lambda: time.sleep(60) or 1)
        t = time.monotonic(); slow.cancel(); assert time.monotonic() - t < 5
        try:
            os.waitpid(slow.pid, os.WNOHANG)
        except ChildProcessError:
            print("reaped")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "reaped"


@LINUX
@pytest.mark.parametrize("named", [True, False], ids=["--contract", "contract from the file name"])
@pytest.mark.parametrize("where", ["none", "first half", "second half", "last line"])
def test_lume_validate_of_a_large_file_reports_the_same_as_one_process(tmp_path, where, named):
    """End to end, as a user runs it: the file is over SPLIT_BYTES, so two processes decode it."""
    n = _validate.SPLIT_BYTES // len(_lines(1)) + 1000
    bad = {"none": set(), "first half": {10}, "second half": {n - 500}, "last line": {n - 1}}[where]
    path = tmp_path / "labels.jsonl"  # a name mac4_label_record.v1 matches
    path.write_bytes(_lines(n, bad))
    assert path.stat().st_size >= _validate.SPLIT_BYTES
    done = subprocess.run([sys.executable, "-m", "lume.runtime.cli", "validate", str(path),
                           *(["--contract", STEM] if named else []), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    report = orjson.loads(done.stdout)["files"][0]
    assert report["documents"] == n
    if not bad:
        assert done.returncode == 0 and report["valid"], done.stdout
    else:
        assert done.returncode == 1
        assert [e["line"] for e in report["errors"]] == [b + 1 for b in sorted(bad)]


class _NoFork:
    def __init__(self, fn):
        raise OSError(11, "Resource temporarily unavailable")


class _FailedChild:
    def __init__(self, fn):
        pass

    def result(self):
        return None  # the child died, or replied garbage

    def cancel(self):
        pass


@pytest.mark.parametrize("bad", [set(), {3}, {1900}])
@pytest.mark.parametrize("child", [_NoFork, _FailedChild])
def test_without_a_working_child_the_verdict_is_the_same(tmp_path, monkeypatch, child, bad):
    """No process to be had: this process reads both halves. A child that fails: the file goes
    to the exact path. Either way the same result as one process."""
    path = tmp_path / "labels.jsonl"
    path.write_bytes(_lines(2000, bad))
    expected = _validate.validate_file(path, get(STEM))
    monkeypatch.setattr(_validate, "SPLIT_BYTES", 1)
    monkeypatch.setattr(_validate, "can_fork", lambda: True)
    monkeypatch.setattr(_validate, "Forked", child)
    got = _validate.validate_file(path, get(STEM))
    assert (got.documents, got.problems) == (expected.documents, expected.problems)
    assert got.ok == (not bad)


@LINUX
def test_a_line_over_the_limit_in_the_second_half_is_refused_naming_it(tmp_path):
    """The child stops at a limit breach; the exact path then names the line, exit 2, no traceback."""
    limit = input_limit(INPUT_JSONL_STREAM)
    n = _validate.SPLIT_BYTES // len(_lines(1)) + 1000
    lines = _lines(n).splitlines(keepends=True)
    at = n - 300  # well past the middle
    lines[at] = b'{"label": "' + b"x" * (limit.max_line_bytes + 10) + b'"}\n'
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"".join(lines))
    done = subprocess.run([sys.executable, "-m", "lume.runtime.cli", "validate", str(path), "--contract", STEM],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{path}:{at + 1}:" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
