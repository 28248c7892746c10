"""What a verifier sees of a root: its files, their digests and parsed documents, read-only."""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lume.runtime.core import Contract, ContractError, InputError, contract_for, read_json

from ._digests import DigestCache
from ._predicate import contracts_fingerprint

if TYPE_CHECKING:
    from ._scan import Scan

DOCUMENT_SUFFIXES = (".json", ".jsonl")


class Context:
    """One verification run over `root`. Every helper only reads the root."""

    def __init__(self, root: Path, *, quick: bool = False, cache_folder: Path | None = None,
                 deep: bool = False, rig: Any = None, cache_secret: bytes | None = None):
        self.root = Path(root).absolute()
        self.quick = quick
        self.deep = deep  # re-read what a cheaper record vouches for (archives, not member digests)
        self.rig = rig  # the rig a live probe talks to (`lume verify --rig`), (a RigConfig), or None
        # cache_secret seals the quick cache (derived from the report's signing key, _digests.py)
        self.cache = DigestCache(self.root, quick=quick, folder=cache_folder,
                                 fingerprint=contracts_fingerprint(), secret=cache_secret)
        self.links: list[str] = []  # symbolic links met while listing (never followed)
        # per run, not lru_cache on the methods: a class-wide cache would keep every Context
        # (and its parsed documents) alive for the life of the process
        self._scans: dict[str, "Scan"] = {}
        self._json: dict[str, Any] = {}
        self._contracts: dict[str, Contract | None] = {}

    # --- files -------------------------------------------------------------------------
    @functools.cached_property
    def files(self) -> list[str]:
        """Every regular file below the root, as sorted POSIX paths relative to it.

        One `scandir` per folder: the entry types come with the listing, so a file costs no
        stat here (symbolic links are listed in `links`, never followed)."""
        found: list[str] = []
        folders = [("", str(self.root))]
        while folders:
            prefix, folder = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError:
                continue  # an unreadable folder is skipped, as os.walk does
            subfolders, links = [], []
            for e in entries:
                rel = prefix + e.name
                if e.is_symlink():
                    # in os.walk's order: links to folders first, then the other links
                    (subfolders if e.is_dir() else links).append((rel, None))
                elif e.is_dir(follow_symlinks=False):
                    subfolders.append((rel, e.path))
                elif e.is_file(follow_symlinks=False):
                    found.append(rel)
            self.links += [rel for rel, path in subfolders if path is None] + [rel for rel, _ in links]
            folders.extend((rel + "/", path) for rel, path in reversed(subfolders) if path is not None)
        return sorted(found)

    @functools.cached_property
    def file_set(self) -> frozenset[str]:
        return frozenset(self.files)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def exists(self, rel: str) -> bool:
        return rel in self.file_set

    def size(self, rel: str) -> int:
        """The file's size: from the stat its digest was taken with, when it is hashed already."""
        hit = self.cache.entries.get(rel)
        return hit[0] if hit is not None else os.stat(self.path(rel)).st_size

    def sha256(self, rel: str) -> str:
        return self.cache.digest(rel)

    def hash_all(self, rels: list[str] | None = None) -> None:
        """Hash many files at once (parallel); later sha256() calls are lookups."""
        self.cache.digest_many(self.files if rels is None else rels)

    # --- documents ---------------------------------------------------------------------
    @functools.cached_property
    def documents(self) -> list[str]:
        return [f for f in self.files if f.endswith(DOCUMENT_SUFFIXES)]

    def json(self, rel: str) -> Any:
        """A parsed JSON document (raises InputError naming the file)."""
        if rel not in self._json:
            self._json[rel] = read_json(self.path(rel))
        return self._json[rel]

    def records(self, rel: str) -> list[tuple[int, Any]]:
        """(line, record) of a JSONL file (raises InputError naming the file and line)."""
        from lume.runtime.core import iter_jsonl

        return list(iter_jsonl(self.path(rel)))

    def scan(self, rel: str) -> "Scan":
        """The one read of a document that schema.conformance and labels.table share
        (`_scan.py`): its validation result and its label verdicts."""
        found = self._scans.get(rel)
        if found is None:
            from ._scan import scan

            found = self._scans[rel] = scan(self, rel)
        return found

    def first_document(self, rel: str) -> Any:
        if not rel.endswith(".jsonl"):
            return self.json(rel)
        from lume.runtime.core import iter_jsonl

        for _, doc in iter_jsonl(self.path(rel)):  # bounded lines, regular files only
            return doc
        return None

    def contract_of(self, rel: str) -> Contract | None:
        """The contract a document belongs to (schema / type field, else its path), or None.

        Raises InputError for unreadable files and ContractError for unknown `schema` values.
        """
        if rel not in self._contracts:
            self._contracts[rel] = contract_for(self.first_document(rel), Path(rel))
        return self._contracts[rel]

    def release(self) -> None:
        """Drop what the checks held (parsed documents, scans, the cache's entries and memos)
        once the subjects are taken: the report is built after, and would otherwise carry
        all of it at its peak."""
        self._scans.clear()
        self._json.clear()
        self._contracts.clear()
        self.__dict__.pop("file_set", None)
        self.cache.release()

    def documents_of(self, *stems: str) -> list[str]:
        """Documents of the given contracts (unreadable or unknown ones are skipped here;
        schema conformance reports them)."""
        out = []
        for rel in self.documents:
            try:
                c = self.contract_of(rel)
            except (InputError, ContractError):
                continue
            if c is not None and c.stem in stems:
                out.append(rel)
        return out
