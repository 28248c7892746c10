"""The safe-stop lock on disk: it survives a restart until the operator re-arms the gate.

SAFE-SAFE-STOP-LOCK `lock_persists_across_restart`: a live gate starts locked when the lock
file exists, writes it the moment a safe stop is dispatched, and only `lume airdeck rearm`
(an operator action, never a gesture) removes it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lume.runtime.core import InputError, read_json, write_json

DEFAULT_NAME = "airdeck_safe_stop.lock.json"


class SafeStopLock:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def is_locked(self) -> bool:
        return self.path.exists()

    def read(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = read_json(self.path)
        except InputError:
            return {"locked": True, "reason": f"unreadable lock file {self.path}"}
        return data if isinstance(data, dict) else {"locked": True}

    def engage(self, decision: dict[str, Any]) -> None:
        write_json(self.path, {"locked": True, "since_ms": decision["timestamp_ms"],
                               "source_id": decision["source_id"], "label": decision["label"],
                               "reason": decision["reason"]})

    def release(self) -> bool:
        """Remove the lock; False when there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
