"""The safe-stop lock on disk: it survives a restart until the operator re-arms the gate.

SAFE-SAFE-STOP-LOCK `lock_persists_across_restart`: a live gate starts locked when the lock
file exists, writes it the moment a safe stop is dispatched, and only `lume airdeck rearm`
(an operator action, never a gesture) removes it. The lock is read as a `safe_stop_lock`
input (input_limits.v1): a path that is not a regular file (a FIFO, /dev/zero) still counts as
locked for the gate, but is never read whole and never removed by a re-arm.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_SAFE_STOP_LOCK
from lume.runtime.core import InputError, NotRegularFile, read_json, write_json

DEFAULT_NAME = "airdeck_safe_stop.lock.json"


class SafeStopLock:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def is_locked(self) -> bool:
        return self.path.exists()

    def read(self) -> dict[str, Any] | None:
        """The lock's content, None when there is no lock; NotRegularFile (an InputError) when
        the path is not a regular file."""
        if not self.path.exists():
            return None
        try:
            data = read_json(self.path, INPUT_SAFE_STOP_LOCK)
        except NotRegularFile:
            raise
        except InputError as exc:
            return {"locked": True, "reason": f"unreadable lock file: {exc}"}
        return data if isinstance(data, dict) else {"locked": True}

    def engage(self, decision: dict[str, Any]) -> None:
        write_json(self.path, {"locked": True, "since_ms": decision["timestamp_ms"],
                               "source_id": decision["source_id"], "label": decision["label"],
                               "reason": decision["reason"]})

    def release(self) -> bool:
        """Remove the lock; False when there was none. Only a regular file (or a link) is ever
        removed: NotRegularFile otherwise (a re-arm must not delete /dev/zero)."""
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return False
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise NotRegularFile(f"{self.path}: not a regular file; a safe-stop lock is one "
                                 "(input_limits.v1), nothing removed")
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
