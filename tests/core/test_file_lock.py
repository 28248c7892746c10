"""Core's one file lock (director serve/enroll/revoke, the storage root's indexer)."""
from __future__ import annotations

import os

import pytest

from lume.runtime.core import FileLock, LockBusy


class Busy(LockBusy):
    pass


def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    path = tmp_path / "x.lock"
    with FileLock(path, "first run").acquire():
        with pytest.raises(Busy, match=f"pid {os.getpid()}.*first run"):
            FileLock(path, "second run", busy=Busy).acquire(wait_s=0.1)
    FileLock(path, "second run").acquire().release()  # free once the first let go


def test_a_lock_that_records_nothing_leaves_its_file_unchanged(tmp_path):
    path = tmp_path / "_index.lock"
    path.write_bytes(b"")
    with FileLock(path, "lume index", record=False).acquire():
        with pytest.raises(LockBusy, match="another process"):
            FileLock(path, "lume index", record=False).acquire()
    assert path.read_bytes() == b""


def test_a_fifo_at_the_lock_path_is_refused_without_blocking(tmp_path):
    path = tmp_path / "fifo.lock"
    os.mkfifo(path)
    with pytest.raises(LockBusy, match="not a regular file"):
        FileLock(path, "lume director serve").acquire()
