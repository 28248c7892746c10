"""Every applied version on disk: atomic writes, group commit, the last N kept, reload on start.

Layout of a state folder:

    versions/000000000042.json   one file per applied version (compact JSON, temp file + rename)
    expired/…                    the previous session's versions, moved aside by the 24 h rule
    director_ed25519.pem / .pub  the consent-token signing key (consent.py)
    director_devices.json        the enrolled devices (director_devices.v1, devices.py)

`write` persists one version durably (the in-memory bus's `on_commit`); `write_batch` is the
server's group commit: every version of the batch is written, the newest one fsynced with
the folder (core.write_group), and only then are the commands of the batch acknowledged.
A kill at any moment leaves complete version files plus at most some `.*.tmp` files, which
loading ignores and removes. A version file that is nonetheless unreadable or invalid (a
power cut before an unsynced write of a batch reached the disk, a hand edit) is skipped with
a note and loading falls back to the newest valid one.
"""
from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from lume.runtime import core
from lume.runtime.core import InputError, parse_datetime, read_json

from . import _ownership as own
from . import _state as st
from ._clock import Clock, SystemClock

VERSIONS, EXPIRED = "versions", "expired"


def default_state_dir() -> Path:
    """The state folder when none is given: `director/` in LUME's one config home."""
    return core.config_home() / "director"


_NAME = re.compile(r"^(\d{12})\.json$")


@dataclass
class LoadReport:
    """How the starting state was chosen (printed by `lume director serve`)."""

    source: str  # "loaded" | "fresh" | "stale"
    version: int
    path: Path | None = None
    skipped: list[str] = field(default_factory=list)  # "file: why" for unusable version files
    removed_temp: list[str] = field(default_factory=list)

    def describe(self) -> str:
        what = {"loaded": f"resumed version {self.version} from {self.path}",
                "fresh": "no saved state: fresh state",
                "stale": f"saved state older than the limit ({self.path}): fresh state"}[self.source]
        notes = [f"skipped {s}" for s in self.skipped] + [f"removed torn write {t}" for t in self.removed_temp]
        return "; ".join([what, *notes])


class StateStore:
    """Writes each committed version and restores the newest valid one on start."""

    def __init__(self, folder: Path, *, rules: own.Ownership | None = None,
                 clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.dir = self.folder / VERSIONS
        r = (rules or own.load()).rules
        self.keep = r.persisted_versions_keep
        self.max_age = timedelta(hours=r.state_max_age_h)
        self.clock = clock or SystemClock()
        self._present: list[int] = []  # version numbers on disk, ascending
        self._pruner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="director-prune")

    def path_for(self, version: int) -> Path:
        return self.dir / f"{version:012d}.json"

    def write(self, doc: dict[str, Any], data: bytes | None = None) -> None:
        """Persist one version durably (`data`: the document already serialised, if it was)."""
        self.write_batch([(doc[st.VERSION], data if data is not None else orjson.dumps(doc))])

    def write_batch(self, batch: list[tuple[int, bytes]]) -> None:
        """Persist consecutive versions (version, compact JSON) with one fsync: the newest is
        durable when this returns. Then drop versions beyond the newest `keep`. On an error the
        versions of the batch already on disk are removed again (none of them is acknowledged)."""
        items = [(self.path_for(v), data + b"\n") for v, data in batch]
        try:
            core.write_group(items)
        except BaseException:
            # withdraw what got renamed (a restart must not resume an unacknowledged version),
            # never a file of an earlier version
            newest = self._present[-1] if self._present else -1
            _unlink([self.path_for(v) for v, _ in batch if v > newest])
            raise
        self._present = [v for v in self._present if v < batch[0][0]] + [v for v, _ in batch]
        old = []
        while len(self._present) > self.keep:
            old.append(self.path_for(self._present.pop(0)))
        if old:
            # Rotation is off the apply path: a kill before it runs only leaves extra old
            # versions, which the next write trims (they are still in `_present` after load).
            self._pruner.submit(_unlink, old)

    def flush(self) -> None:
        """Wait for pending rotation (tests, shutdown)."""
        self._pruner.submit(lambda: None).result()

    def versions(self) -> list[int]:
        return list(self._present)

    def load(self) -> tuple[dict[str, Any], LoadReport]:
        """The state to start from: the newest valid saved version, or a fresh one."""
        self.dir.mkdir(parents=True, exist_ok=True)
        removed = []
        for tmp in sorted(self.dir.glob(".*.tmp")):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
        found = sorted((int(m.group(1)), p) for p in self.dir.iterdir() if (m := _NAME.match(p.name)))
        self._present = [v for v, _ in found]
        skipped: list[str] = []
        for version, path in reversed(found):
            try:
                doc = st.check(read_json(path), str(path))
            except (InputError, st.StateInvalid) as exc:
                skipped.append(str(exc))
                continue
            if doc[st.VERSION] != version:
                skipped.append(f"{path}: holds version {doc[st.VERSION]}, not {version}")
                continue
            age = self.clock.now() - parse_datetime(doc[st.UPDATED_AT])
            if age > self.max_age:
                return self._start_fresh("stale", path, skipped, removed)
            return doc, LoadReport("loaded", version, path, skipped, removed)
        return self._start_fresh("fresh", None, skipped, removed)

    def _start_fresh(self, source: str, path: Path | None, skipped: list[str],
                     removed: list[str]) -> tuple[dict[str, Any], LoadReport]:
        """Move the old session aside (kept for forensics, one generation) and start at 0."""
        if self._present:
            expired = self.folder / EXPIRED
            shutil.rmtree(expired, ignore_errors=True)
            self.dir.rename(expired)
            self.dir.mkdir(parents=True)
            self._present = []
        doc = st.fresh(self.clock.now())
        self.write(doc)
        return doc, LoadReport(source, 0, path, skipped, removed)


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
