"""The readers of files someone else can put in place, each behind the bounded core readers.

Per reader class (a file only hashed, a completion-gate input, a live event stream, Mac5
worker outputs, training arrays, saved director versions, the trust file): a FIFO, /dev/zero,
a folder and a file over its kind's limit are refused at once with one line naming the file
and input_limits.v1 (exit 2 through the CLI), never waited on, and nothing stored changes.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from hostile_helpers import returns_promptly

from lume.generated.constants import (
    INPUT_EVENT_STREAM,
    INPUT_HASHED_FILE,
    INPUT_TRAINING_ARRAYS,
    INPUT_TRUST_FILE,
    INPUT_WORKER_OUTPUT,
)
from lume.runtime.cli import main
from lume.runtime.core import (
    InputError,
    KeyProblem,
    NotRegularFile,
    bounded_lines,
    hash_input,
    input_limit,
    load_trust,
    open_input,
)
from lume.runtime.core import _files as files

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "in.fifo"
    os.mkfifo(path)
    return path


def shrink(monkeypatch, kind: str, **limits) -> None:
    """The limits of one kind made small, so 'over the limit' needs no large file."""
    real = files.input_limit

    def patched(k):
        row = real(k)
        return SimpleNamespace(**{**vars(row), **limits}) if k == kind else row

    monkeypatch.setattr(files, "input_limit", patched)


def hostile(kind: str, tmp_path: Path):
    """(what, path) pairs of the non-regular inputs this machine can make."""
    found = [("a directory", tmp_path)]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / f"{kind}.fifo")
        found.append(("a FIFO", tmp_path / f"{kind}.fifo"))
    if os.path.exists("/dev/zero"):
        found.append(("a character device", Path("/dev/zero")))
    return found


# ------------------------------------------------------------------------------ hashed files
def test_a_hashed_file_is_streamed_to_the_same_digest(tmp_path):
    path = tmp_path / "clip.bin"
    data = os.urandom(3 * files.CHUNK + 17)
    path.write_bytes(data)
    assert hash_input(path, INPUT_HASHED_FILE) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_hashed_file_refuses_what_is_not_a_regular_file(tmp_path):
    for what, path in hostile("hashed", tmp_path):
        with pytest.raises(NotRegularFile, match=rf"{path}: not a regular file \({what}\).*"
                                                 rf"\[input_limits.v1\]"):
            returns_promptly(hash_input, path, INPUT_HASHED_FILE)


def test_a_hashed_file_over_its_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    shrink(monkeypatch, INPUT_HASHED_FILE, max_bytes=1000)
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 1001)
    with pytest.raises(InputError, match=r"big.bin: 1001 bytes or more, over the 1000 bytes limit for "
                                         r"hashed_file inputs \[input_limits.v1\]"):
        hash_input(path, INPUT_HASHED_FILE)


def test_the_binding_of_a_report_refuses_a_fifo_in_a_subjects_place(tmp_path):
    from lume.verifiers._binding import bind

    (tmp_path / "a.json").write_bytes(b"{}")
    os.mkfifo(tmp_path / "b.json") if hasattr(os, "mkfifo") else (tmp_path / "b.json").mkdir()
    digest = {"sha256": hashlib.sha256(b"{}").hexdigest()}
    statement = {"predicate": {"root": str(tmp_path)},
                 "subject": [{"name": "a.json", "digest": digest}, {"name": "b.json", "digest": digest}]}
    b = returns_promptly(bind, statement, tmp_path)
    assert not b.ok and b.checked == 1
    assert b.problems[0].startswith("b.json: ") and "not a regular file" in b.problems[0]


def test_promoted_evidence_replaced_by_a_fifo_is_a_problem_not_unreachable(tmp_path, monkeypatch):
    from lume.runtime.airdeck import _manifest

    (tmp_path / "clip.jsonl").write_bytes(b"{}\n")
    os.mkfifo(tmp_path / "proof.json") if hasattr(os, "mkfifo") else (tmp_path / "proof.json").mkdir()
    sha = {"sha256": hashlib.sha256(b"{}\n").hexdigest()}
    manifest = SimpleNamespace(subjects=[{"name": "clip.jsonl", "digest": sha},
                                         {"name": "proof.json", "digest": sha},
                                         {"name": "gone.json", "digest": sha}])
    monkeypatch.setattr(_manifest, "bundle_root", lambda m: tmp_path)
    out = returns_promptly(_manifest.evidence_problems, manifest)
    assert (out.checked, out.unreachable) == (1, 1)
    assert out.problems[0].startswith("proof.json: ") and "[input_limits.v1]" in out.problems[0]


@pytest.mark.parametrize("reader", ["criteria", "streams", "training"])
def test_other_hashing_readers_refuse_a_fifo(fifo, reader):
    from lume.runtime.templates import _criteria, _streams
    from lume.runtime.training import sha256_file

    fn = {"criteria": _criteria._sha_file, "training": sha256_file,
          "streams": lambda p: _streams.read_records(p, "gesture_event.v1")}[reader]
    with pytest.raises(InputError, match="not a regular file"):
        returns_promptly(fn, fifo)


# ------------------------------------------------------------------------------ live event stream
def test_bounded_lines_cut_an_over_long_line_and_keep_the_numbers(tmp_path, monkeypatch):
    shrink(monkeypatch, INPUT_EVENT_STREAM, max_line_bytes=8, max_bytes=10_000)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"[1]\n" + b"x" * 5000 + b"\n[3]\r\n[4]")
    errors: list[str] = []
    with open(path, "rb") as fh:
        lines = list(bounded_lines(fh, "events.jsonl", INPUT_EVENT_STREAM, errors))
    assert lines == [b"[1]\n", b"", b"[3]\r\n", b"[4]"]
    assert errors == ["events.jsonl:2: a line over 8 bytes, the line limit for event_stream inputs "
                      "[input_limits.v1]"]


@dev_zero
def test_bounded_lines_end_a_stream_without_newlines_at_its_limit(monkeypatch):
    shrink(monkeypatch, INPUT_EVENT_STREAM, max_line_bytes=64, max_bytes=5 * files.CHUNK)
    errors: list[str] = []
    with open("/dev/zero", "rb") as fh:  # what `--events -` gets from `< /dev/zero`
        assert returns_promptly(lambda: list(bounded_lines(fh, "<stdin>", INPUT_EVENT_STREAM, errors))) == []
    assert "line over 64 bytes" in errors[0] and "the rest was not read" in errors[-1]


@posix_only
def test_a_live_stream_may_be_a_fifo_read_as_its_producer_writes(fifo):
    assert input_limit(INPUT_EVENT_STREAM).accept_fifo and not input_limit(INPUT_HASHED_FILE).accept_fifo

    def produce():
        with open(fifo, "wb") as w:
            w.write(b'{"a": 1}\n{"a": 2}\n')

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    with returns_promptly(open_input, fifo, INPUT_EVENT_STREAM) as fh:
        assert fh.read() == b'{"a": 1}\n{"a": 2}\n'
    writer.join(60)


@pytest.mark.parametrize("where", ["device", "folder"])
def test_airdeck_run_refuses_a_device_or_folder_as_events(tmp_path, where):
    if where == "device" and not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    events = "/dev/zero" if where == "device" else str(tmp_path)
    log = tmp_path / "decisions.jsonl"
    result = returns_promptly(CliRunner().invoke, main,
                              ["airdeck", "run", "--events", events, "--log", str(log)])
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output and "[input_limits.v1]" in result.output
    assert "Traceback" not in result.output and not log.exists()


def test_airdeck_run_skips_an_over_long_line_and_exits_2(tmp_path):
    max_line = input_limit(INPUT_EVENT_STREAM).max_line_bytes
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"x": "' + b"y" * max_line + b'"}\n')
    result = CliRunner().invoke(main, ["airdeck", "run", "--events", str(events), "--log",
                                       str(tmp_path / "decisions.jsonl")])
    assert result.exit_code == 2, result.output
    assert "events.jsonl:1: a line over 64 KiB" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------------------ Mac5 worker outputs
def test_a_worker_output_that_is_a_fifo_refuses_the_run(tmp_path):
    from lume.runtime.storage import _mac5

    summary, frames = _mac5.output_names()
    (tmp_path / summary).write_text("{}")
    os.mkfifo(tmp_path / frames) if hasattr(os, "mkfifo") else (tmp_path / frames).mkdir()
    with pytest.raises(_mac5.Mac5Refused, match=rf"{frames}: not a regular file.*input_limits.v1"):
        returns_promptly(_mac5._check_outputs, tmp_path, fps=5.0, label_windows_only=False,
                         video_sha256="0" * 64)


def test_a_worker_output_over_its_limit_refuses_the_run(tmp_path, monkeypatch):
    from lume.runtime.storage import _mac5

    shrink(monkeypatch, INPUT_WORKER_OUTPUT, max_bytes=100)
    summary, frames = _mac5.output_names()
    (tmp_path / summary).write_bytes(b" " * 101 + b"{}")
    (tmp_path / frames).write_text("")
    with pytest.raises(_mac5.Mac5Refused, match="over the 100 bytes limit for worker_output inputs"):
        _mac5._check_outputs(tmp_path, fps=5.0, label_windows_only=False, video_sha256="0" * 64)


# ------------------------------------------------------------------------------ training arrays
def test_training_arrays_refuse_what_is_not_a_regular_file(tmp_path):
    from lume.runtime.training import _npz

    for what, path in hostile(INPUT_TRAINING_ARRAYS, tmp_path):
        for reader in (_npz.read_npz, _npz.array_names):
            with pytest.raises(InputError, match=rf"not a regular file \({what}\)"):
                returns_promptly(reader, path)


def test_training_arrays_still_read_an_npz(tmp_path):
    import numpy as np

    from lume.runtime.training import _npz

    path = tmp_path / "a.npz"
    _npz.write_npz(path, {"x": np.arange(3, dtype=np.float32)})
    arrays, refused = _npz.read_npz(path)
    assert refused == {} and arrays["x"].tolist() == [0, 1, 2] and _npz.array_names(path) == ["x"]


# ------------------------------------------------------------------------------ director versions
@posix_only
def test_a_fifo_among_saved_director_versions_is_skipped_not_waited_on(tmp_path):
    from lume.runtime.director._clock import FakeClock
    from lume.runtime.director._persist import StateStore

    clock = FakeClock()
    store = StateStore(tmp_path, clock=clock)
    doc, _ = store.load()
    store.write_batch([(1, json.dumps(doc).encode())])
    os.mkfifo(store.path_for(2, 2))
    again, report = returns_promptly(StateStore(tmp_path, clock=clock).load)
    assert any("not a regular file (a FIFO)" in s for s in report.skipped)
    assert store.path_for(2, 2).exists()  # skipped, never removed


# ------------------------------------------------------------------------------ trust file
def test_the_trust_file_is_a_trust_file_input(tmp_path):
    for what, path in hostile(INPUT_TRUST_FILE, tmp_path):
        with pytest.raises(KeyProblem, match=rf"not a regular file \({what}\); every trust_file input"):
            returns_promptly(load_trust, path)
    big = tmp_path / "trusted.json"
    big.write_bytes(b" " * input_limit(INPUT_TRUST_FILE).max_bytes + b"[]")
    with pytest.raises(KeyProblem, match="over the 1 MiB limit for trust_file inputs"):
        load_trust(big)


@posix_only
def test_report_verify_refuses_a_fifo_trust_file_with_exit_2(tmp_path, fifo, monkeypatch):
    monkeypatch.setenv("LUME_TRUST_FILE", str(fifo))
    report = tmp_path / "r.json"
    report.write_text("{}")
    result = returns_promptly(CliRunner().invoke, main, ["report", "verify", str(report)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and fifo.exists()


# ------------------------------------------------------------------------------ atomic writes
@posix_only
def test_writing_over_a_fifo_does_not_read_it(fifo):
    from lume.runtime.core import write_bytes

    assert returns_promptly(write_bytes, fifo, b"data") is True
    assert fifo.read_bytes() == b"data"
