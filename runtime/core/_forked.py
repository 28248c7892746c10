"""One function run in a forked child process, its small integer result read back (Linux).

Bulk validation uses it to decode the second half of a large JSONL file on another core while
this process decodes the first half (validate.py). Whatever goes wrong in the child (an
exception, a signal, a garbled reply) reads back as None, which the caller treats as "not
shown valid": the fast path is an accept-path, so it can only send a file to the exact path,
never change a verdict.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable


def can_fork() -> bool:
    """Whether forking is safe here. A fork copies only the calling thread: with another thread
    alive (Python's or a native library's), a lock it holds (an import, a logger, an allocator)
    stays held in the child for ever. Linux only: macOS's system libraries are not fork-safe,
    Windows has no fork."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class Forked:
    """`fn()` running in a child process: `result()` waits for its int (None on any failure),
    `cancel()` kills it. Always end it with one of the two (the child is reaped there)."""

    def __init__(self, fn: Callable[[], int | None]) -> None:
        """OSError when no process can be made (the caller then does the work itself)."""
        r, w = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(r)
            os.close(w)
            raise
        if pid == 0:  # the child: never returns into the caller's stack
            code = 1
            try:
                os.close(r)
                value = fn()
                os.write(w, b"-" if value is None else b"%d" % value)
                code = 0
            except BaseException:  # noqa: BLE001, S110 - any failure reads back as None
                pass
            finally:
                os._exit(code)  # no atexit handlers, no flush of the parent's buffers
        os.close(w)
        self.pid, self._r, self._status = pid, r, None

    def result(self) -> int | None:
        reply = b""
        try:
            while chunk := os.read(self._r, 64):
                reply += chunk
        except BaseException:  # interrupted while waiting: the child's work is not wanted
            self.cancel()
            raise
        status = self._reap()
        ok = status >= 0 and os.waitstatus_to_exitcode(status) == 0 and reply.isdigit()
        return int(reply) if ok else None

    def cancel(self) -> None:
        if self._status is None:  # never signal a reaped pid: the system may have reused it
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def _reap(self) -> int:
        if self._r >= 0:
            os.close(self._r)
            self._r = -1
        if self._status is None:
            try:
                self._status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): outcome unknown
                self._status = -1
        return self._status
