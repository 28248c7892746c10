"""The director's locks: one server per state folder, one enroll / revoke at a time.

Two `lume director serve` on one state folder would both append versions and rotate each
other's files; two `enroll` / `revoke` at once read the device list, change it and write it
back, so one of them is lost. The server holds `SERVE_LOCK` in its state folder for as long as
it runs; enrol and revoke hold the device list's lock (`<devices file>.lock`, beside it) for
their read-modify-write. Core's FileLock records the holder, so a refusal names it.
"""
from __future__ import annotations

from pathlib import Path

from lume.runtime.core import FileLock, LockBusy

SERVE_LOCK = "serve.lock"


class DirectorBusy(LockBusy):
    """Another process holds the lock (exit 1): nothing was read or written."""


def Lock(path: Path, what: str) -> FileLock:  # noqa: N802 - reads as the lock it makes
    """The director's lock on `path` (held by `what`); a busy lock raises DirectorBusy."""
    return FileLock(path, what, busy=DirectorBusy)
