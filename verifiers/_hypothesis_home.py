"""Where Hypothesis keeps its files during a property run: a private folder, never the cache.

Hypothesis stores what it computes once under its home folder and reads it back in later runs:
its Unicode tables (the code points of each category, the characters a codec encodes) and the
constants it found in local code. It draws examples from them, so whoever could rewrite them
could choose what a property run tries (a category table holding only ASCII, no constants), and
so what a signed proof rests on. The cache folder may be shared (LUME_CACHE_DIR), so Hypothesis
never reads it. Each process points Hypothesis at a private folder of its own (`mkdtemp`, mode
0700, removed at exit), seeded only with files whose SHA-256 a manifest sealed under a secret
derived from the run's signing key lists (the cache folder keeps the files by digest). What
Hypothesis adds there is copied back and the manifest sealed again, so the next run starts as
warm as before: building the tables and reading the constants costs about 2 s a process.

A process that verifies without a key (library use) seeds nothing and copies nothing back:
nothing unsigned is ever read, and nothing it computed is vouched for. (Hypothesis keeps its
tables in memory for the rest of a process: computed, or read from a sealed copy, either way.)
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Iterator

import orjson

from lume.generated.constants import INPUT_HYPOTHESIS_FILE, SHA256_PATTERN
from lume.runtime.core import InputError, read_input, write_below

from ._digests import cache_dir, read_sealed, seal

SECRET_PURPOSE = "hypothesis files"  # what the manifest's secret is derived for (SigningKey.derive)
# In the cache folder: each file Hypothesis wrote, named by its SHA-256 (its bytes are not
# reproducible: a gzip header names the temporary file it was first written to, so two runs, or
# two keys, writing the same path would each spoil the other's seal), and one manifest per key.
STORE = "hypothesis-files"
MANIFEST = "hypothesis-files-{}.json"  # sealed: {version, files: {path under the home: sha256}}
VERSION = 1
SKIPPED = ("tmp", ".gitignore")  # Hypothesis's scratch folder and the .gitignore it writes itself


def manifest_name(secret: bytes) -> str:
    """The manifest's file name under one key: keys sharing a folder keep one each, and the
    name says nothing of the key."""
    return MANIFEST.format(hmac.new(secret, b"manifest name", "sha256").hexdigest()[:16])


class _Home:
    """One private Hypothesis home, seeded from a cache folder under one secret."""

    def __init__(self, folder: Path | None, secret: bytes | None):
        self.folder, self.secret = folder, secret
        self.manifest = None if secret is None else manifest_name(secret)
        self.path = Path(tempfile.mkdtemp(prefix="lume-hypothesis-"))
        atexit.register(self._remove)
        self.known: dict[str, str] = {}  # path under the home -> SHA-256, of the files it holds
        self._seeding: threading.Thread | None = None
        if folder is not None and secret is not None:
            # a couple of hundred small files (0.1 s where creating files in /tmp is slow): copied
            # by a thread while the run does other work, waited for before Hypothesis looks
            self._seeding = threading.Thread(target=self._seed, args=(folder,), name="lume-hypothesis-home",
                                             daemon=True)
            self._seeding.start()

    def ready(self) -> Path:
        """The home, once every sealed file is in it."""
        if self._seeding is not None:
            self._seeding.join()
        return self.path

    def _remove(self) -> None:
        self.ready()
        shutil.rmtree(self.path, ignore_errors=True)

    def _manifest(self, folder: Path) -> dict[str, str]:
        """The files the sealed manifest lists (empty when missing, unsealed, or another key's)."""
        doc = read_sealed(folder / str(self.manifest), self.secret)
        files = doc.get("files") if isinstance(doc, dict) and doc.get("version") == VERSION else None
        if not isinstance(files, dict):
            return {}
        return {rel: sha for rel, sha in files.items() if _inside(rel) and _digest(sha)}

    def _seed(self, folder: Path) -> None:
        for rel, sha in self._manifest(folder).items():
            try:
                data = read_input(folder / STORE / sha, INPUT_HYPOTHESIS_FILE)
            except (OSError, InputError):
                continue
            if hashlib.sha256(data).hexdigest() != sha:
                continue  # changed since it was sealed: Hypothesis computes it again
            target = self.path / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError:
                return  # a full or vanished temporary folder: Hypothesis computes the rest
            self.known[rel] = sha

    def keep(self) -> None:
        """Copy what Hypothesis wrote since the last call into the cache folder and seal the
        manifest again (a no-op without a key, or when Hypothesis wrote nothing new)."""
        if self.folder is None or self.secret is None:
            return
        self.ready()
        added: dict[str, str] = {}
        for rel in _files(self.path):
            if rel in self.known:
                continue
            try:
                data = read_input(self.path / rel, INPUT_HYPOTHESIS_FILE)
                sha = hashlib.sha256(data).hexdigest()
                write_below(self.folder, f"{STORE}/{sha}", data)
            except (OSError, InputError):
                continue  # an unwritable or full cache folder: the next run computes it again
            added[rel] = self.known[rel] = sha
        if added:
            # another run may have sealed files since this one read the manifest: keep them too
            files = {**self._manifest(self.folder), **added}
            body = orjson.dumps({"version": VERSION, "files": dict(sorted(files.items()))})
            with contextlib.suppress(OSError):
                write_below(self.folder, str(self.manifest), seal(body, self.secret))


def _inside(rel: str) -> bool:
    """Whether a manifest's path names a file under the home (never outside it)."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and p.parts[0] not in SKIPPED


def _digest(sha: object) -> bool:
    """Whether a manifest's digest is a SHA-256 as common.v1 writes one (it names a file in the
    store: nothing else may reach the path)."""
    return isinstance(sha, str) and re.fullmatch(SHA256_PATTERN, sha) is not None


def _files(home: Path) -> Iterator[str]:
    """Every file under the home, as a POSIX path relative to it (Hypothesis's scratch files and
    the ones it is still writing left out). Called after every property run: plain strings."""
    for top, dirs, names in os.walk(home):
        prefix = os.path.relpath(top, home).replace(os.sep, "/")
        if prefix == ".":
            dirs[:] = [d for d in dirs if d not in SKIPPED]
            names = [n for n in names if n not in SKIPPED]
        for name in names:
            if not name.startswith(".tmp"):
                yield name if prefix == "." else f"{prefix}/{name}"


_homes: dict[tuple[Path | None, bytes | None], _Home] = {}
_current: list[tuple[Path | None, bytes | None]] = [(None, None)]


def use(folder: Path | None, secret: bytes | None) -> None:
    """Property runs in this process from now on keep Hypothesis's files in `folder` (the cache
    folder; None: the default one), sealed under `secret` (None: keep nothing)."""
    _current[0] = ((folder or cache_dir()) if secret is not None else None, secret)


def prepare() -> None:
    """Start seeding the home that property runs will use (call once some are sure to run)."""
    _home()


def _home() -> _Home:
    key = _current[0]
    home = _homes.get(key)
    if home is None:
        home = _homes[key] = _Home(*key)
    return home


@contextlib.contextmanager
def private_home() -> Iterator[Path]:
    """Point Hypothesis at this process's private home for the block (and `lume verify` writes
    nothing in the folder it is run from); what it added is kept when the block ends."""
    from hypothesis import configuration

    home = _home()
    before = configuration.storage_directory(intent_to_write=False).home_directory
    configuration.set_hypothesis_home_dir(home.ready())
    try:
        yield home.path
    finally:
        configuration.set_hypothesis_home_dir(before)
        home.keep()
