"""One writer at a time: an OS lock on a lock file, and who holds it.

The operating system drops the lock when its holder exits, however it exits (kill -9
included), so a crash never leaves anything locked: `flock` on POSIX, `msvcrt.locking` on
Windows (K11). A holder may write who it is into the lock file, so whoever waits in vain can
say who holds it; a lock file that must stay unchanged (one inside a storage root, whose bytes
a readiness report vouches for) records nothing.
"""
from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import orjson

from ._time import now_iso

POLL_S = 0.05
_HOLDER_BYTES = 512  # what is read back of a holder line: pid, host, command, time
_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_BINARY", 0)


class LockBusy(Exception):
    """Another process holds the lock (exit 1): nothing was read or written."""


def _try_lock(fd: int) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows (K11)
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def holder_of(fd: int) -> str:
    """Who holds the lock, as its holder wrote it (tolerant: any bytes may be there)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = orjson.loads(os.read(fd, _HOLDER_BYTES))
        return f"pid {int(info['pid'])} on {str(info['host'])[:64]} ({str(info['what'])[:64]}, since " \
               f"{str(info['since'])[:40]})"
    except (OSError, ValueError, TypeError, KeyError):
        return "another process"


class FileLock:
    """An exclusive lock on `path`, held from `acquire` until `release` (or the process ends).
    `busy` is the exception a held lock raises; `record` writes the holder into the file."""

    def __init__(self, path: Path, what: str, *, busy: type[LockBusy] = LockBusy,
                 record: bool = True) -> None:
        self.path, self.what, self.busy, self.record = Path(path), what, busy, record
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0, busy: str = "") -> FileLock:
        """Take the lock, waiting up to `wait_s`; `self.busy` (saying `busy` and who holds it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NONBLOCK: a FIFO planted at the lock's name must not hang the caller
        fd = os.open(self.path, _FLAGS, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self.busy(f"{self.path}: not a regular file; remove it ({self.what} locks it)")
            deadline = time.monotonic() + max(0.0, wait_s)
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    waited = f", waited {wait_s:g} s" if wait_s > 0 else ""
                    raise self.busy(f"{busy or self.what + ' is locked'} ({self.path} is held by "
                                    f"{holder_of(fd)}{waited})")
                time.sleep(POLL_S)
            if self.record:
                me = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what, "since": now_iso()}
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, orjson.dumps(me) + b"\n")
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

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
