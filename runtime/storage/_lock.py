"""One indexer per storage root at a time: an OS lock on the root's lock file (storage_root.v2).

Two `lume index` runs at once deleted each other's staging folders and marked good archives
corrupt (issue 18). The lock is an advisory lock the operating system drops when the holder
exits, however it exits (kill -9 included), so a crash never leaves the root locked. A second
run waits up to `wait_s` seconds for it, then stops with RootBusy.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from lume.generated.constants import STORAGE_LOCK_FILE
from lume.runtime.core import FileLock, LockBusy


class RootBusy(LockBusy):
    """Another indexer holds the root's lock (exit 1): nothing was read or written."""


@contextlib.contextmanager
def root_lock(root: Path, *, wait_s: float = 0.0, what: str = "lume index") -> Iterator[Path]:
    """Hold the root's lock for the block; RootBusy when another run holds it past `wait_s`.
    The lock file stays empty and unchanged (a report vouches for the root's bytes)."""
    path = Path(root) / STORAGE_LOCK_FILE
    with FileLock(path, what, busy=RootBusy, record=False).acquire(
            wait_s, busy=f"{root}: another indexer is working on this root; wait for it to finish "
                         f"(or give --wait) and run {what} again"):
        yield path
