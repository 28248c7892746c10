"""Every applied version on disk: group commit, the last N kept, reload on start.

Layout of a state folder:

    versions/000000000031-000000000042.jsonl   one batch: versions 31..42, a compact JSON
                                               document (director_state.v2) a line
    expired/…                    the previous session's versions, moved aside by the 24 h rule
    director_ed25519.pem / .pub  the consent-token signing key (consent.py)
    director_devices.json        the enrolled devices (director_devices.v1, devices.py)

`write_batch` is the server's group commit: the versions applied while the previous batch
was being written go to disk as one file (temp file, fsync, rename, fsync of the folder -
core.write_group), and only then are the commands in it acknowledged. One file per batch,
not per version: on this kind of disk a file costs about as much as its fsync, whatever its
size. `write` (the in-memory bus's `on_commit`) is a batch of one. A kill at any moment
leaves complete batch files plus at most some `.*.tmp` files, which loading ignores and
removes. A line that is nonetheless unreadable or invalid (a hand edit, disk trouble) is
skipped with a note and loading falls back to the newest valid version before it.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from lume.generated.constants import INPUT_DIRECTOR_VERSIONS
from lume.runtime import core
from lume.runtime.core import parse_datetime

from . import _ownership as own
from . import _state as st
from ._clock import Clock, SystemClock

VERSIONS, EXPIRED = "versions", "expired"


def default_state_dir() -> Path:
    """The state folder when none is given: `director/` in LUME's one config home."""
    return core.config_home() / "director"


_NAME = re.compile(r"^(\d{12})-(\d{12})\.jsonl$")


@dataclass(frozen=True, order=True)
class Batch:
    """One batch file: the consecutive versions first..last."""

    first: int
    last: int
    path: Path


@dataclass
class LoadReport:
    """How the starting state was chosen (printed by `lume director serve`)."""

    source: str  # "loaded" | "fresh" | "stale"
    version: int
    path: Path | None = None
    skipped: list[str] = field(default_factory=list)  # "file:line: why" for unusable versions
    removed_temp: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what starting changed (a withdrawn consent)

    def describe(self) -> str:
        what = {"loaded": f"resumed version {self.version} from {self.path}",
                "fresh": "no saved state: fresh state",
                "stale": f"saved state older than the limit ({self.path}): fresh state"}[self.source]
        notes = [f"skipped {s}" for s in self.skipped]
        notes += [f"removed torn write {t}" for t in self.removed_temp]
        notes += self.notes
        return "; ".join([what, *notes])


class StateStore:
    """Writes each committed version (in batches) and restores the newest valid one on start."""

    def __init__(self, folder: Path, *, rules: own.Ownership | None = None,
                 clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.dir = self.folder / VERSIONS
        r = (rules or own.load()).rules
        self.keep = r.persisted_versions_keep
        self.max_age = timedelta(hours=r.state_max_age_h)
        self.clock = clock or SystemClock()
        self._batches: list[Batch] = []  # on disk, oldest first
        self._pruner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="director-prune")

    def path_for(self, first: int, last: int) -> Path:
        return self.dir / f"{first:012d}-{last:012d}.jsonl"

    def write(self, doc: dict[str, Any], data: bytes | None = None) -> None:
        """Persist one version durably (`data`: the document already serialised, if it was)."""
        self.write_batch([(doc[st.VERSION], data if data is not None else orjson.dumps(doc))])

    def write_batch(self, batch: list[tuple[int, bytes]]) -> None:
        """Persist consecutive versions (version, compact JSON) as one durable file, then drop
        the files whose versions are all older than the newest `keep`. On an error nothing of
        the batch stays on disk (none of it is acknowledged)."""
        first, last = batch[0][0], batch[-1][0]
        path = self.path_for(first, last)
        try:
            core.write_group([(path, b"".join(data + b"\n" for _, data in batch))])
        except BaseException:
            path.unlink(missing_ok=True)  # a restart must not resume an unacknowledged version
            raise
        # versions from `first` on that an earlier (withdrawn, then reapplied) batch held are replaced
        self._batches = [b for b in self._batches if b.last < first] + [Batch(first, last, path)]
        old = []
        while self._batches and self._batches[0].last <= last - self.keep:
            old.append(self._batches.pop(0).path)
        if old:
            # Rotation is off the apply path: a kill before it runs only leaves extra old
            # files, which the next write trims (they are listed again on load).
            self._pruner.submit(_unlink, old)

    def flush(self) -> None:
        """Wait for pending rotation (tests, shutdown)."""
        self._pruner.submit(lambda: None).result()

    def versions(self) -> list[int]:
        """The version numbers on disk, oldest first."""
        return [v for b in self._batches for v in range(b.first, b.last + 1)]

    def read(self, skipped: list[str] | None = None) -> Iterator[tuple[Path, int, bytes]]:
        """Every stored line, newest first: (file, line number, bytes). A batch file that is no
        regular file or is over its `director_versions` limits (input_limits.v1) is skipped,
        never read (a FIFO there must not hang the start-up), and said in `skipped`."""
        max_line = core.input_limit(INPUT_DIRECTOR_VERSIONS).max_line_bytes
        for b in reversed(self._batches):
            try:
                lines = core.read_input(b.path, INPUT_DIRECTOR_VERSIONS).splitlines()
            except core.InputError as exc:
                if skipped is not None and b.path.exists():
                    skipped.append(str(exc))
                continue
            for i in range(len(lines) - 1, -1, -1):
                if len(lines[i]) > max_line:
                    if skipped is not None:
                        skipped.append(f"{b.path}:{i + 1}: a line over {max_line} bytes, the line limit "
                                       f"for {INPUT_DIRECTOR_VERSIONS} inputs [input_limits.v1]")
                    continue
                yield b.path, i + 1, lines[i]

    def load(self) -> tuple[dict[str, Any], LoadReport]:
        """The state to start from: the newest valid saved version, or a fresh one."""
        self.dir.mkdir(parents=True, exist_ok=True)
        removed = []
        for tmp in sorted(self.dir.glob(".*.tmp")):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
        found = sorted(Batch(int(m.group(1)), int(m.group(2)), p)
                       for p in self.dir.iterdir() if (m := _NAME.match(p.name)))
        self._batches = list(found)
        skipped: list[str] = []
        for path, line, data in self.read(skipped):
            where = f"{path}:{line}"
            try:
                doc = st.check(orjson.loads(data), where)
            except (orjson.JSONDecodeError, st.StateInvalid) as exc:
                skipped.append(str(exc) if isinstance(exc, st.StateInvalid) else f"{where}: not JSON: {exc}")
                continue
            age = self.clock.now() - parse_datetime(doc[st.UPDATED_AT])
            if age > self.max_age:
                return self._start_fresh("stale", path, skipped, removed)
            return doc, LoadReport("loaded", doc[st.VERSION], path, skipped, removed)
        return self._start_fresh("fresh", None, skipped, removed)

    def _start_fresh(self, source: str, path: Path | None, skipped: list[str],
                     removed: list[str]) -> tuple[dict[str, Any], LoadReport]:
        """Move the old session aside (kept for forensics, one generation) and start at 0."""
        if self._batches:
            expired = self.folder / EXPIRED
            shutil.rmtree(expired, ignore_errors=True)
            self.dir.rename(expired)
            self.dir.mkdir(parents=True)
            self._batches = []
        doc = st.fresh(self.clock.now())
        self.write(doc)
        return doc, LoadReport(source, 0, path, skipped, removed)


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
