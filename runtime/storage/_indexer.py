"""The K11 bundle indexer (seed 000, Wave 1): `_incoming` archives -> `_processed` + index.

For each archive in `ROOT/_incoming` (`.tar`, `.tar.gz`, `.tgz`, `.zip`): verify it against
its `.sha256` sidecar, read and validate its transport manifest (`_manifests/<name>.json`)
when there is one, then check and extract every member in one pass into a staging folder
inside `_processed` (extract.py, SAFE-ARCHIVE-EXTRACT), compare the members with the
transport manifest, and rename the result into the bundle folder `_processed/<session_id>/`
at the layout folder its contents belong to (bundle_layout.v1: a Mac4 Tier 0 session goes to
`sources/mac4_tier0/`, a MotionMix stream to `sources/motionmix/`, mocopi to `sources/mocopi/`).

Nothing in `_incoming` is ever written, moved or deleted (SAFE-INCOMING-KEPT). A refused or
corrupt archive gets an index entry with its reason and a line in `_logs/indexer.log`, leaves
no folder behind, and the next archive is processed. A rerun is idempotent: an archive
already indexed with the same size, sidecar digest and transport manifest, whose folder is
still there, is not hashed again, and nothing current is rewritten. After a crash the next
run removes leftover staging folders and completes what is missing (a folder renamed into
place before the index was written is adopted when it holds exactly the archive's files).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lume.generated.constants import (
    ARCHIVE_NAME_PATTERN,
    ARCHIVE_SUFFIXES,
    SESSION_ID_PATTERN,
    STORAGE_EXPORTS_DIR,
    STORAGE_LOGS_DIR,
    STORAGE_MANIFESTS_DIR,
)
from lume.runtime.core import Clock, InputError, get, problems, read_json, rfc3339
from lume.runtime.core import now as wall_clock

from . import _extract as ex
from ._checksum import parse_sidecar, sha256_file
from ._index import load_history, load_index, same_verdict, write_index
from ._policy import (
    classify_members,
    default_limits,
    expected_sources,
    folder_of,
    incoming_dir,
    join_root,
    processed_dir,
    staging_prefix,
)

LOG_NAME = "indexer.log"
# names the index contracts accept (storage_index_record.v1 archive_name / session_id patterns)
_NAME = re.compile(ARCHIVE_NAME_PATTERN)
_SESSION = re.compile(SESSION_ID_PATTERN)
Progress = Callable[[str, int], None]  # (archive name, bytes done since the last call)


class BadRoot(InputError):
    """ROOT is not a K11 dance-sessions root (exit 2)."""


@dataclass
class IndexResult:
    root: Path
    entries: list[dict[str, Any]]
    written: list[Path] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files in _incoming the index cannot name
    cleaned: list[str] = field(default_factory=list)  # staging folders left by a crash

    @property
    def counts(self) -> dict[str, int]:
        from ._index import counts

        return counts(self.entries)

    @property
    def ok(self) -> bool:
        return not self.skipped and all(e["status"] == "indexed" for e in self.entries)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "ok": self.ok, "counts": self.counts, "entries": self.entries,
                "written": [str(p) for p in self.written], "extracted": self.extracted,
                "skipped": self.skipped, "cleaned": self.cleaned}


class _Verdict(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES) and not name.startswith(".")


def _entry(name: str, size: int, **values: Any) -> dict[str, Any]:
    entry = {"archive_name": name, "archive_sha256": None, "archive_bytes": size, "session_id": None,
             "status": "pending", "reason": None, "processed_path": None, "transport_manifest": None,
             "extracted_at_unix": None, "member_count": None, "expanded_bytes": None}
    entry.update(values)
    return entry


class _Run:
    def __init__(self, root: Path, root_name: str, limits: dict[str, int], clock: Clock,
                 progress: Progress | None, log: list[str]):
        self.root, self.root_name, self.limits = root, root_name, limits
        self.clock, self.progress, self.log = clock, progress, log
        self.incoming = root / incoming_dir()
        self.processed = root / processed_dir()

    def rel(self, *parts: str) -> str:
        return join_root(self.root_name, *parts)

    # ---------------------------------------------------------------- one archive

    def judge(self, name: str, previous: dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
        """(entry, what happened) for one archive; never raises for a bad archive."""
        path = self.incoming / name
        size = path.stat().st_size
        manifest_path = self.root / STORAGE_MANIFESTS_DIR / f"{name}.json"
        base = {"transport_manifest": self.rel(STORAGE_MANIFESTS_DIR, f"{name}.json") if manifest_path.exists() else None}
        try:
            digest = self._sidecar(name)
            manifest = self._manifest(name, manifest_path) if manifest_path.exists() else None
            session_id = manifest["session_id"] if manifest else self._session_from_name(name)
            base["session_id"] = session_id
            if (previous and previous["status"] == "indexed" and previous["archive_sha256"] == digest
                    and previous["archive_bytes"] == size and previous.get("session_id") == session_id
                    and previous.get("transport_manifest") == base["transport_manifest"]
                    and self._target_exists(previous, manifest)):
                return previous, None  # current: not hashed, not extracted, not rewritten
            actual = sha256_file(path)
            if actual != digest:
                raise _Verdict("corrupt", f"sha256 {actual} does not match {name}.sha256 ({digest})")
            base["archive_sha256"] = digest
            if manifest:
                self._check_manifest_archive(manifest, digest, size)
            what, ext, _target = self._place(name, path, manifest, session_id)
            base["member_count"] = len(ext.files)
            base["expanded_bytes"] = ext.expanded_bytes
            entry = _entry(name, size, **base, status="indexed", reason=None,
                           processed_path=self.rel(processed_dir(), session_id),
                           extracted_at_unix=self._extracted_at(previous, what))
            return entry, what
        except _Verdict as v:
            return _entry(name, size, **base, status=v.status, reason=v.reason), None
        except (ex.ArchiveRefused, ex.ArchiveCorrupt) as exc:
            return _entry(name, size, **base, status=exc.status, reason=str(exc)), None

    def _extracted_at(self, previous: dict[str, Any] | None, what: str) -> float:
        if what == "adopted" and previous and previous.get("extracted_at_unix") is not None:
            return previous["extracted_at_unix"]
        return self.clock()

    def _target_exists(self, previous: dict[str, Any], manifest: dict[str, Any] | None) -> bool:
        """Is the extraction of an indexed archive still there? (Cheap: the transport
        manifest's contents name the layout folder without reading the archive.)"""
        bundle_dir = self.processed / previous["session_id"]
        if manifest is None:
            return bundle_dir.is_dir()
        prefixes = (previous["session_id"] + "/", ex.archive_stem(previous["archive_name"]) + "/")
        paths = [c["path"].removeprefix("./") for c in manifest["contents"]]
        for prefix in prefixes:
            if paths and all(p.startswith(prefix) for p in paths):
                paths = [p[len(prefix):] for p in paths]
                break
        found = classify_members(paths)
        return found is not None and (bundle_dir / folder_of(found[1])).is_dir()

    def _sidecar(self, name: str) -> str:
        sidecar = self.incoming / f"{name}.sha256"
        if not sidecar.exists():
            raise _Verdict("missing_checksum", f"no {name}.sha256 in {incoming_dir()}")
        try:
            return parse_sidecar(sidecar.read_text(encoding="utf-8", errors="replace"), name)
        except ValueError as exc:
            raise _Verdict("corrupt", f"{name}.sha256: {exc}") from exc

    def _manifest(self, name: str, path: Path) -> dict[str, Any]:
        try:
            doc = read_json(path)
        except InputError as exc:
            raise _Verdict("refused", f"transport manifest {exc}") from exc
        found = problems(doc, get("transport_manifest.v1"), file=f"{STORAGE_MANIFESTS_DIR}/{name}.json")
        if found:
            raise _Verdict("refused", "transport manifest invalid: " + "; ".join(str(p) for p in found[:3]))
        if doc["archive_name"] != name:
            raise _Verdict("refused", f"transport manifest {STORAGE_MANIFESTS_DIR}/{name}.json names archive "
                                      f"{doc['archive_name']!r}, not {name!r}")
        return doc

    @staticmethod
    def _check_manifest_archive(manifest: dict[str, Any], digest: str, size: int) -> None:
        if manifest["archive_sha256"] != digest:
            raise _Verdict("corrupt", f"transport manifest archive_sha256 {manifest['archive_sha256']} "
                                      f"differs from the archive ({digest})")
        if manifest["archive_bytes"] != size:
            raise _Verdict("corrupt", f"transport manifest archive_bytes {manifest['archive_bytes']} "
                                      f"differs from the archive ({size} bytes)")

    def _session_from_name(self, name: str) -> str:
        stem = ex.archive_stem(name)
        if not _SESSION.fullmatch(stem):
            raise _Verdict("refused", f"no transport manifest and {stem!r} is not a session id")
        return stem

    @staticmethod
    def _check_contents(manifest: dict[str, Any] | None, digests: dict[str, tuple[str, int]]) -> None:
        if manifest is None:
            return
        listed = {c["path"]: (c["sha256"], c["byte_size"]) for c in manifest["contents"]}
        for path, (sha, size) in sorted(digests.items()):
            if path not in listed:
                raise _Verdict("corrupt", f"member {path} is not in the transport manifest")
            if listed[path] != (sha, size):
                raise _Verdict("corrupt", f"member {path} differs from the transport manifest "
                                          f"(sha256 {sha[:12]}…, {size} bytes; manifest "
                                          f"{listed[path][0][:12]}…, {listed[path][1]} bytes)")
        missing = sorted(set(listed) - set(digests))
        if missing:
            raise _Verdict("corrupt", f"transport manifest lists {missing[0]}, not in the archive")

    def _place(self, name: str, path: Path, manifest: dict[str, Any] | None,
               session_id: str) -> tuple[str, ex.Extracted, Path]:
        """Extract into the bundle folder once: (`extracted` or `adopted`, what the archive
        holds, the layout folder it went to). The archive is checked and extracted in one pass
        into a staging folder, then renamed into place: a folder appears complete or not at all."""
        self.processed.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{staging_prefix()}{session_id}.", dir=self.processed))
        try:
            done = (lambda n: self.progress(name, n)) if self.progress else None
            ext = ex.extract_archive(path, staging / "x", max_bytes=self.limits["max_bytes"],
                                     max_members=self.limits["max_members"],
                                     strip=(session_id, ex.archive_stem(name)), progress=done)
            self._check_contents(manifest, ext.digests)
            found = classify_members([m.path for m in ext.members if m.kind in (ex.FILE, ex.HARDLINK)])
            if found is None:
                raise _Verdict("refused", "holds no source of bundle_layout.v1 (expected the files of "
                                          + "; ".join(expected_sources()) + ")")
            target = self.processed / session_id / folder_of(found[1])
            if target.exists() or target.is_symlink():
                self._adopt(target, ext)
                return "adopted", ext, target
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(ext.root, target)  # atomic: the folder appears complete or not at all
            return "extracted", ext, target
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _adopt(self, target: Path, ext: ex.Extracted) -> None:
        """A folder an earlier run extracted (and died before writing the index) is kept when
        it holds exactly the archive's files; anything else is left untouched and refused."""
        rel = target.relative_to(self.root).as_posix()
        want = {m.path: ext.digests[m.stored] for m in ext.files}
        have = {p.relative_to(target).as_posix(): p for p in target.rglob("*")
                if p.is_file() and not p.is_symlink()} if target.is_dir() and not target.is_symlink() else {}
        for path in sorted(set(want) | set(have)):
            p = have.get(path)
            if p is None or path not in want or (sha256_file(p), p.stat().st_size) != want[path]:
                raise _Verdict("refused", f"{rel} already exists and differs from the archive at {path}; "
                                          "left untouched")


# --------------------------------------------------------------------------- the run


def _log(root: Path, lines: list[str]) -> None:
    if not lines:
        return
    logs = root / STORAGE_LOGS_DIR
    logs.mkdir(exist_ok=True)
    with open(logs / LOG_NAME, "a", encoding="utf-8") as fh:
        fh.writelines(lines)


def check_root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise BadRoot(f"{root}: not a folder")
    if not (root / incoming_dir()).is_dir():
        raise BadRoot(f"{root}: not a K11 dance-sessions root (no {incoming_dir()}/ folder)")
    return root


def index_root(root: Path, *, max_bytes: int | None = None, max_members: int | None = None,
               clock: Clock | None = None, root_name: str | None = None,
               progress: Progress | None = None,
               on_archive: Callable[[str, int], None] | None = None) -> IndexResult:
    """Index ROOT (see the module docstring). Raises BadRoot for a bad ROOT.

    `root_name` is how documents name the root (e.g. `C:\\lume\\dance-sessions`); default: the
    name the existing index.json uses, else the absolute path. `on_archive(name, size)` is
    called before each archive (progress display).
    """
    root = check_root(root)
    clock = clock or wall_clock
    limits = default_limits()
    if max_bytes is not None:
        limits["max_bytes"] = int(max_bytes)
    if max_members is not None:
        limits["max_members"] = int(max_members)
    previous_doc = load_index(root)
    history = load_history(root)
    root_name = root_name or (previous_doc["root"] if previous_doc else str(root.resolve()))
    log: list[str] = []
    run = _Run(root, root_name, limits, clock, progress, log)
    result = IndexResult(root, [])

    for folder in (processed_dir(), STORAGE_LOGS_DIR, STORAGE_EXPORTS_DIR, STORAGE_MANIFESTS_DIR):
        (root / folder).mkdir(exist_ok=True)
    # staging folders left by a run that died mid-extraction: never a complete extraction
    for stale in sorted(run.processed.glob(f"{staging_prefix()}*")):
        shutil.rmtree(stale, ignore_errors=True)
        result.cleaned.append(stale.name)
        log.append(f"{rfc3339(clock())} WARN {stale.name}: removed staging folder left by an interrupted run\n")

    previous = {e["archive_name"]: e for e in (previous_doc or {}).get("entries", [])}
    last_record = {r["archive_name"]: r for r in history}
    names = sorted(p.name for p in run.incoming.iterdir() if p.is_file() and is_archive(p.name))
    for name in names:
        if not _NAME.fullmatch(name):
            result.skipped.append(name)
            log.append(f"{rfc3339(clock())} ERROR {name}: name cannot be indexed (letters, digits, . _ - only); skipped\n")
            continue
        if on_archive:
            on_archive(name, (run.incoming / name).stat().st_size)
        entry, what = run.judge(name, previous.get(name))
        old = previous.get(name)
        if same_verdict(entry, old):
            entry = old  # keep the time the verdict was first written
        else:
            entry = {**entry, "indexed_at_unix": clock()}
            level = "INFO" if entry["status"] == "indexed" else "ERROR"
            detail = (f"{what} into {entry['processed_path']}" if entry["status"] == "indexed"
                      else f"{entry['status']}: {entry['reason']}")
            log.append(f"{rfc3339(clock())} {level} {name}: {detail}\n")
        if what == "extracted":
            result.extracted.append(name)
        result.entries.append(entry)
    # entries of archives no longer in _incoming stay: the index records what was seen
    for name, old in previous.items():
        if name not in names:
            result.entries.append(old)
    changed = [e for e in result.entries
               if e["archive_name"] in names and e != last_record.get(e["archive_name"])]
    result.written = write_index(root, root_name, result.entries, previous_doc, history, changed, clock())
    _log(root, log)
    return result
