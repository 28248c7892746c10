"""One writer at a time: an OS lock (flock) on a lock file, and who holds it.

Two `lume director serve` on one state folder would both append versions and rotate each
other's files; two `enroll` / `revoke` at once read the device list, change it and write it
back, so one of them is lost. The server holds `SERVE_LOCK` in its state folder for as long as
it runs; enrol and revoke hold the device list's lock (`<devices file>.lock`, beside it) for
their read-modify-write. The operating system drops the lock when its holder exits, however
it exits (kill -9 included), so a crash never leaves a folder locked. The holder writes who it
is into the lock file, so whoever waits in vain can say who holds it.
"""
from __future__ import annotations

import fcntl
import os
import socket
import stat
import time
from pathlib import Path

import orjson

from lume.runtime.core import now_iso

SERVE_LOCK = "serve.lock"
POLL_S = 0.05
_HOLDER_BYTES = 512  # what is read back of a holder line: pid, host, command, time


class DirectorBusy(Exception):
    """Another process holds the lock (exit 1): nothing was read or written."""


def holder_of(fd: int) -> str:
    """Who holds the lock, as its holder wrote it (tolerant: any bytes may be there)."""
    try:
        info = orjson.loads(os.pread(fd, _HOLDER_BYTES, 0))
        return f"pid {int(info['pid'])} on {str(info['host'])[:64]} ({str(info['what'])[:64]}, since " \
               f"{str(info['since'])[:40]})"
    except (OSError, ValueError, TypeError, KeyError):
        return "another process"


class Lock:
    """An exclusive lock on `path`, held from `acquire` until `release` (or the process ends)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0, busy: str = "") -> Lock:
        """Take the lock, waiting up to `wait_s`; DirectorBusy (saying `busy` and who holds it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NONBLOCK: a FIFO planted at the lock's name must not hang the start-up
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise DirectorBusy(f"{self.path}: not a regular file; remove it ({self.what} locks it)")
            deadline = time.monotonic() + max(0.0, wait_s)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        waited = f", waited {wait_s:g} s" if wait_s > 0 else ""
                        raise DirectorBusy(f"{busy or self.what + ' is locked'} ({self.path} is held by "
                                           f"{holder_of(fd)}{waited})")
                    time.sleep(POLL_S)
            me = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what, "since": now_iso()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, orjson.dumps(me) + b"\n", 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the lock

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
