"""SHA-256 of the files of a root, hashed in parallel, with the quick-mode cache.

A full run hashes every file (hashlib on OpenSSL, threads: the GIL is released while
hashing, so both cores stay busy with several files). The cache lives OUTSIDE the root
(verifiers never write into it): `$LUME_CACHE_DIR`, else `$XDG_CACHE_HOME/lume`, else
`~/.cache/lume`, one file per root. A quick run trusts a cached digest only when the file's
size, mtime, ctime and inode are all unchanged; anything else is hashed again. A file that
had changed less than input_limits.v1's `unchanged_files.settle_ms` before it was read is
remembered unsettled (its mtime None, which no stamp equals): a change within the file
system's timestamp granularity of the read would leave the stamp as it was, so the next run
reads it again. Per-file results of checks (`memo`) are cached the same way, and also keyed
by a fingerprint of the contracts and the tool version, so a changed contract re-checks every
file.

The cache folder may be writable by others: both files are sealed with an HMAC-SHA256 under a
secret derived from the key that signs the run's report (`SigningKey.derive`), checked before a
byte of them is parsed. Whoever can write the folder but not read that key can make a quick run
hash and check again, never trust a digest or a check result it did not write itself.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from lume.generated.constants import INPUT_HASHED_FILE, INPUT_JSON_DOCUMENT
from lume.runtime.core import (
    InputError,
    hash_input,
    input_limit,
    loads_bounded,
    read_input,
    settled,
    write_bytes,
)

CACHE_ENV = "LUME_CACHE_DIR"
SECRET_PURPOSE = "verify cache"  # what the sealing secret is derived for (SigningKey.derive)
CACHE_VERSION = 4  # 2: compact label memos; 3: memos in a file of their own; 4: sealed (SEAL)
SEAL = b"lume verify cache, HMAC-SHA256 "  # the first line of a cache file: this, its tag, a newline
UNSEALED = b"-"  # the tag of a cache written by a run with no signing key (library use)
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


def _tag(body: bytes, secret: bytes | None) -> bytes:
    return UNSEALED if secret is None else hmac.new(secret, body, "sha256").hexdigest().encode("ascii")


def seal(body: bytes, secret: bytes | None) -> bytes:
    """A cache file's bytes: the seal line, then `body`."""
    return SEAL + _tag(body, secret) + b"\n" + body


def unseal(data: bytes, secret: bytes | None) -> bytes | None:
    """The body of a cache file sealed under `secret`, else None (another key, no key, edited)."""
    head, newline, body = data.partition(b"\n")
    if not newline or not head.startswith(SEAL):
        return None
    return body if hmac.compare_digest(head[len(SEAL):], _tag(body, secret)) else None


def read_sealed(path: Path, secret: bytes | None) -> Any:
    """The JSON document of a cache file sealed under `secret`, or None when it is missing,
    unreadable, not a regular file, over the JSON document limit, not sealed by this secret, or
    not JSON. The seal is checked before a byte of the body is parsed: the folder may be shared."""
    try:
        body = unseal(read_input(path, INPUT_JSON_DOCUMENT), secret)
        if body is None:
            return None
        return loads_bounded(body, input_limit(INPUT_JSON_DOCUMENT).max_depth, file=str(path))
    except (OSError, InputError):
        return None


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _kept(st: os.stat_result, read_at_ns: int) -> tuple[int, int | None, int, int]:
    """The stamp remembered for a file stat'ed at `read_at_ns` before it was read: its own when
    it had settled by then (`core.settled`), else unsettled (mtime None: no file's stamp equals
    it, so the next run reads the file again)."""
    return _stamp(st) if settled(st, read_at_ns) else (st.st_size, None, st.st_ctime_ns, st.st_ino)


Entry = tuple  # (size, mtime_ns or None: unsettled, ctime_ns, inode, sha256 hex): a small tuple a file


class DigestCache:
    """Digests of one root's files (keyed by POSIX path relative to the root).

    Hashing threads take files from one queue (no future or stamp kept per queued file: the
    state of a run is the entries, one tuple per file, and the files still queued or in hand).
    """

    def __init__(self, root: Path, *, quick: bool, folder: Path | None = None,
                 fingerprint: str = "", secret: bytes | None = None):
        self.root = root
        self.quick = quick
        self.fingerprint = fingerprint
        self._secret = secret  # seals the cache files: SigningKey.derive(SECRET_PURPOSE)
        self.memos: dict[str, dict[str, list]] = {}  # check -> rel -> [stamp..., value]
        key = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:32]
        self.path = (folder or cache_dir()) / f"verify-{key}.json"
        # the memos (a few KB) apart from the entries (one per file: MBs for a large root), so a
        # partial run keeps the other checks' memos without reading every file's entry back
        self.memo_path = self.path.with_suffix(".memos.json")
        self.entries: dict[str, Entry] = {}
        self.stored_memos: dict[str, dict[str, list]] = {}
        self.stored: dict[str, list] = self._read() if quick else {}
        self.trusted = 0  # files whose digest came from the cache in this run
        self.hashed = 0
        # prefetch(): hashing threads work through `_queue` while the checks run
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()  # in `_queue` and not yet taken (a taken one is skipped)
        self._busy: set[str] = set()  # being hashed
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def _doc(self, path: Path, part: str) -> Any:
        """`part` of a cache file written for this root under this run's secret (None when it is
        missing, unreadable, not sealed by this secret, of another version or root, or, for
        memos, of other contracts)."""
        doc = read_sealed(path, self._secret)
        if not isinstance(doc, dict) or doc.get("version") != CACHE_VERSION \
                or doc.get("root") != str(self.root.resolve()):
            return None
        if part == "memos" and doc.get("fingerprint") != self.fingerprint:
            return None
        return doc.get(part)

    def _read(self) -> dict[str, list]:
        memos = self._doc(self.memo_path, "memos")
        self.stored_memos = memos if isinstance(memos, dict) else {}
        entries = self._doc(self.path, "entries")
        return entries if isinstance(entries, dict) else {}

    def _trusted(self, rel: str, stamp: tuple[int, int, int, int]) -> Entry | None:
        """The cached entry of an unchanged file in quick mode, else None."""
        # taken out as it is used: the run's own entry replaces it, and holding both doubled
        # the memory of a quick run
        old = self.stored.pop(rel, None) if self.quick else None
        if old is not None and len(old) == 5 and tuple(old[:4]) == stamp:
            return (*stamp, old[4])
        return None

    def memo(self, check: str, rel: str, compute: Callable[[], Any]) -> Any:
        """`compute()` for one file, or in quick mode its cached value when the file is unchanged."""
        read_at = time.time_ns()
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return compute()
        stamp: tuple = _stamp(st)
        old = self.stored_memos.get(check, {}).get(rel)
        if self.quick and old is not None and tuple(old[:4]) == stamp:
            value = old[4]
        else:
            value = compute()
            stamp = _kept(st, read_at)
        self.memos.setdefault(check, {})[rel] = [*stamp, value]
        return value

    def digest(self, rel: str) -> str:
        """The sha256 of one file (raises OSError when it cannot be read)."""
        hit = self.entries.get(rel)
        if hit is None:
            self.digest_many([rel])
            hit = self.entries.get(rel)
            if hit is None:
                raise FileNotFoundError(f"cannot hash {rel}")
        return hit[4]

    # --- hashing -------------------------------------------------------------------------
    def _hash(self, rel: str) -> tuple[Entry | None, bool]:
        """(entry or None when unreadable, whether it came from the quick cache)."""
        read_at = time.time_ns()
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return None, False
        trusted = self._trusted(rel, _stamp(st))
        if trusted is not None:
            return trusted, True
        try:
            return (*_kept(st, read_at), sha256_file(self.root / rel)), False
        except (OSError, InputError):
            return None, False

    def _done(self, rel: str, entry: Entry | None, trusted: bool) -> None:
        """Record one file's result (under the lock) and wake whoever waits for it."""
        self._busy.discard(rel)
        if entry is not None:
            self.entries[rel] = entry
            if trusted:
                self.trusted += 1
            else:
                self.hashed += 1
        self._cond.notify_all()

    def _take(self) -> str | None:
        """The next queued file, now in hand (under the lock), or None when the queue is empty."""
        while self._queue:
            rel = self._queue.popleft()
            if rel in self._queued:
                self._queued.discard(rel)
                self._busy.add(rel)
                return rel
        return None

    def _worker(self) -> None:
        while True:
            with self._cond:
                rel = None if self._stopped else self._take()
            if rel is None:
                return
            entry, trusted = None, False
            try:
                entry, trusted = self._hash(rel)
            finally:  # whatever happens, nobody waits for this file forever
                with self._cond:
                    self._done(rel, entry, trusted)

    def _enqueue(self, rels: Iterable[str]) -> None:
        with self._cond:
            for rel in rels:
                if rel not in self.entries and rel not in self._queued and rel not in self._busy:
                    self._queue.append(rel)
                    self._queued.add(rel)

    def _start(self, n: int) -> None:
        """Up to `n` hashing threads working through the queue."""
        self._stopped = False
        self._threads = [t for t in self._threads if t.is_alive()]
        for _ in range(max(0, min(n - len(self._threads), len(self._queue)))):
            t = threading.Thread(target=self._worker, name="lume-sha256", daemon=True)
            t.start()
            self._threads.append(t)

    def prefetch(self, rels: Iterable[str]) -> None:
        """Start hashing `rels` on worker threads now, while the checks run: hashlib releases the
        GIL, so hashing overlaps the checks' parsing and validation on the other core.
        `close()` stops what is left. In quick mode the unchanged files are trusted first, here."""
        self._enqueue(self._trust_unchanged(rels))
        self._start(min(4, os.cpu_count() or 1))

    def _trust_unchanged(self, rels: Iterable[str]) -> Iterable[str]:
        """Quick mode: every file whose stamp is the cached one takes its cached entry, in one
        pass on this thread (a stat each); the others are returned, to be hashed. Worker threads
        doing this a file at a time spent three times as long, mostly holding the GIL the checks
        need (a lock round trip and a path object per file)."""
        if not self.stored:
            return rels
        root, left = os.fspath(self.root), []
        with self._cond:
            for rel in rels:
                if rel in self.entries or rel in self._busy:
                    continue
                try:
                    stamp = _stamp(os.stat(os.path.join(root, rel)))
                except OSError:
                    left.append(rel)  # reported by the hashing path, as before
                    continue
                entry = self._trusted(rel, stamp)
                if entry is None:
                    left.append(rel)
                else:
                    self.entries[rel] = entry
                    self.trusted += 1
        return left

    def close(self) -> None:
        """Drop what is still queued and wait for the files in hand (idempotent)."""
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._queued.clear()
        for t in self._threads:
            t.join()
        self._threads = []

    def digest_many(self, rels: Iterable[str], workers: int | None = None) -> None:
        """Hash every not-yet-known file, in parallel; unreadable files are left out.

        The calling thread hashes beside the hashing threads until the queue is empty, then
        waits for the files still in hand."""
        rels = [r for r in rels if r not in self.entries]
        if not rels:
            return
        if len(rels) == 1:  # one file: hashed here rather than after the queue before it
            rel = rels[0]
            with self._cond:
                mine = rel not in self._busy
                if mine:
                    self._queued.discard(rel)
                    self._busy.add(rel)
            if mine:
                entry, trusted = None, False
                try:
                    entry, trusted = self._hash(rel)
                finally:
                    with self._cond:
                        self._done(rel, entry, trusted)
        else:
            self._enqueue(rels)
            self._start((workers or min(4, os.cpu_count() or 1)) - 1)
            self._worker()  # this thread hashes too
        with self._cond:
            waiting = [r for r in rels if r in self._busy or r in self._queued]
            while waiting:
                self._cond.wait()
                waiting = [r for r in waiting if r in self._busy or r in self._queued]

    def release(self) -> None:
        """Forget the entries and memos (after `save()`): the counters stay."""
        self.entries, self.stored, self.memos, self.stored_memos = {}, {}, {}, {}

    def _earlier_memos(self) -> dict[str, dict[str, list]]:
        """The memos a run before this one stored under the same contracts fingerprint."""
        if self.quick:
            return self.stored_memos
        memos = self._doc(self.memo_path, "memos")
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
        head = {"version": CACHE_VERSION, "root": str(self.root.resolve()), "fingerprint": self.fingerprint}
        try:  # each file stands on its own: a memo carries its file's stamp, an entry too
            write_bytes(self.path, seal(orjson.dumps({**head, "entries": self.entries}), self._secret))
            write_bytes(self.memo_path, seal(orjson.dumps({**head, "memos": memos}), self._secret))
        except OSError:
            pass
