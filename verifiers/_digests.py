"""SHA-256 of the files of a root, hashed in parallel, with the quick-mode cache.

A full run hashes every file (hashlib on OpenSSL, threads: the GIL is released while
hashing, so both cores stay busy with several files). The cache lives OUTSIDE the root
(verifiers never write into it): `$LUME_CACHE_DIR`, else `$XDG_CACHE_HOME/lume`, else
`~/.cache/lume`, one file per root. A quick run trusts a cached digest only when the file's
size, mtime, ctime and inode are all unchanged; anything else is hashed again. Per-file
results of checks (`memo`) are cached the same way, and also keyed by a fingerprint of the
contracts and the tool version, so a changed contract re-checks every file.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import InputError, hash_input, read_json, write_bytes

CACHE_ENV = "LUME_CACHE_DIR"
CACHE_VERSION = 1
CHUNK = 1 << 20


def cache_dir() -> Path:
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lume"


def sha256_file(path: Path) -> str:
    """Streamed through core's bounded hasher: a FIFO or device swapped in after the listing is
    refused (InputError), never read, so no hashing thread can block the run."""
    return hash_input(path, INPUT_HASHED_FILE)[0]


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class DigestCache:
    """Digests of one root's files (keyed by POSIX path relative to the root)."""

    def __init__(self, root: Path, *, quick: bool, folder: Path | None = None,
                 fingerprint: str = ""):
        self.root = root
        self.quick = quick
        self.fingerprint = fingerprint
        self.memos: dict[str, dict[str, list]] = {}  # check -> rel -> [stamp..., value]
        key = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:32]
        self.path = (folder or cache_dir()) / f"verify-{key}.json"
        self.entries: dict[str, list] = {}  # rel -> [size, mtime_ns, ctime_ns, ino, sha256]
        self.stored_memos: dict[str, dict[str, list]] = {}
        self.stored: dict[str, list] = self._read() if quick else {}
        self.trusted = 0  # files whose digest came from the cache in this run
        self.hashed = 0
        self._pool: ThreadPoolExecutor | None = None  # prefetch(): hashing while the checks run
        self._pending: dict[str, tuple[Future, tuple[str, list[int]]]] = {}

    def _read(self) -> dict[str, list]:
        try:
            doc = read_json(self.path)  # bounded, regular files only: the cache folder is shared
        except (OSError, InputError):
            return {}
        if not isinstance(doc, dict):
            return {}
        if doc.get("version") != CACHE_VERSION or doc.get("root") != str(self.root.resolve()):
            return {}
        if doc.get("fingerprint") == self.fingerprint:
            self.stored_memos = doc.get("memos", {})
        return doc.get("entries", {})

    def memo(self, check: str, rel: str, compute: Callable[[], Any]) -> Any:
        """`compute()` for one file, or in quick mode its cached value when the file is unchanged."""
        try:
            stamp = _stamp(os.stat(self.root / rel))
        except OSError:
            return compute()
        old = self.stored_memos.get(check, {}).get(rel)
        if self.quick and old is not None and old[:4] == stamp:
            value = old[4]
        else:
            value = compute()
        self.memos.setdefault(check, {})[rel] = [*stamp, value]
        return value

    def digest(self, rel: str) -> str:
        """The sha256 of one file (raises OSError when it cannot be read)."""
        hit = self.entries.get(rel)
        if hit is not None:
            return hit[4]
        self.digest_many([rel])
        return self.entries[rel][4]

    def _todo(self, rels: Iterable[str]) -> list[tuple[str, list[int]]]:
        """The files of `rels` still to hash, with their stamps (quick mode trusts the others)."""
        todo: list[tuple[str, list[int]]] = []
        for rel in rels:
            if rel in self.entries or rel in self._pending:
                continue
            try:
                stamp = _stamp(os.stat(self.root / rel))
            except OSError:
                continue
            old = self.stored.get(rel)
            if self.quick and old is not None and old[:4] == stamp:
                self.entries[rel] = old
                self.trusted += 1
            else:
                todo.append((rel, stamp))
        return todo

    def _work(self, item: tuple[str, list[int]]) -> tuple[str, list | None]:
        rel, stamp = item
        try:
            return rel, [*stamp, sha256_file(self.root / rel)]
        except (OSError, InputError):
            return rel, None

    def _keep(self, rel: str, entry: list | None) -> None:
        if entry is not None:
            self.entries[rel] = entry
            self.hashed += 1

    def prefetch(self, rels: Iterable[str]) -> None:
        """Start hashing `rels` on worker threads now, while the checks run: hashlib releases the
        GIL, so hashing overlaps the checks' parsing and validation on the other core. Results
        are taken on the calling thread (digest, digest_many wait for a file still in flight);
        `close()` stops what is left."""
        todo = self._todo(rels)
        if not todo:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1),
                                            thread_name_prefix="lume-sha256")
        for item in todo:
            self._pending[item[0]] = (self._pool.submit(self._work, item), item)

    def close(self) -> None:
        """Cancel hashing not yet started and wait for the rest (idempotent)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    def digest_many(self, rels: Iterable[str], workers: int | None = None) -> None:
        """Hash every not-yet-known file, in parallel; unreadable files are left out."""
        rels = list(rels)
        for rel in rels:
            pending = self._pending.pop(rel, None)
            if pending is not None:
                future, item = pending
                # a file still queued is hashed here rather than waiting for the queue before it
                self._keep(*(self._work(item) if future.cancel() else future.result()))
        todo = self._todo(rels)
        if not todo:
            return
        n = workers or min(4, os.cpu_count() or 1)
        if n > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=n) as pool:
                results = list(pool.map(self._work, todo))
        else:
            results = [self._work(item) for item in todo]
        for rel, entry in results:
            self._keep(rel, entry)

    def _earlier_memos(self) -> dict[str, dict[str, list]]:
        """The memos a run before this one stored under the same contracts fingerprint."""
        if self.quick:
            return self.stored_memos
        try:
            doc = read_json(self.path)
        except (OSError, InputError):
            return {}
        same = (isinstance(doc, dict) and doc.get("version") == CACHE_VERSION
                and doc.get("root") == str(self.root.resolve())
                and doc.get("fingerprint") == self.fingerprint)
        memos = doc.get("memos") if same else None
        return memos if isinstance(memos, dict) else {}

    def save(self, ran: Iterable[str] | None = None, files: frozenset[str] | None = None) -> None:
        """Persist the digests of this run for the next quick run (best effort: never fatal).

        With `ran` (the ids of the checks this run ran), the memos of every other check are kept
        from the earlier run, for the files still in the root (`files`): a partial (`--only`)
        run updates the cache instead of discarding the rest. Memos are keyed by check id (or
        `<id>.<part>`) and each still carries its file's stamp, so a kept one is trusted only
        when its file is unchanged.
        """
        memos = self.memos
        if ran is not None:
            ran = set(ran)

            def owner_ran(key: str) -> bool:
                return key in ran or any(key.startswith(f"{r}.") for r in ran)

            kept = {key: {rel: v for rel, v in per.items() if files is None or rel in files}
                    for key, per in self._earlier_memos().items()
                    if key not in memos and not owner_ran(key) and isinstance(per, dict)}
            memos = {**kept, **memos}
        doc = {"version": CACHE_VERSION, "root": str(self.root.resolve()),
               "fingerprint": self.fingerprint, "entries": self.entries, "memos": memos}
        try:
            write_bytes(self.path, orjson.dumps(doc))
        except OSError:
            pass
