"""One indexer per storage root at a time: an OS lock on the root's lock file (storage_root.v2).

Two `lume index` runs at once deleted each other's staging folders and marked good archives
corrupt (issue 18). The lock is an advisory lock the operating system drops when the holder
exits, however it exits (kill -9 included), so a crash never leaves the root locked. A second
run waits up to `wait_s` seconds for it, then stops with RootBusy.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import IO, Iterator

from lume.generated.constants import STORAGE_LOCK_FILE

POLL_S = 0.1


class RootBusy(Exception):
    """Another indexer holds the root's lock (exit 1): nothing was read or written."""


def _try_lock(fh: IO[bytes]) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows (K11)
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def root_lock(root: Path, *, wait_s: float = 0.0, what: str = "lume index") -> Iterator[Path]:
    """Hold the root's lock for the block; RootBusy when another run holds it past `wait_s`."""
    path = Path(root) / STORAGE_LOCK_FILE
    fh = open(path, "a+b")  # noqa: SIM115 - held for the whole block
    try:
        deadline = time.monotonic() + max(0.0, wait_s)
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                raise RootBusy(f"{root}: another indexer is working on this root (it holds "
                               f"{STORAGE_LOCK_FILE}); wait for it to finish (or give --wait) and run "
                               f"{what} again")
            time.sleep(POLL_S)
        yield path  # the file stays empty and unchanged: a rerun rewrites nothing
    finally:
        fh.close()  # closing drops the lock
