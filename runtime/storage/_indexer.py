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
no folder behind, and the next archive is processed: whatever one archive does (an encrypted
zip, an unknown compression method, a timestamp of 1e400, a full disk) never stops the run. A
rerun is idempotent: an archive already indexed with the same size, sidecar digest and
transport manifest, whose folder is still there, is not read again, and nothing current is
rewritten. After a crash the next run removes leftover staging folders and completes what is
missing (a folder renamed into place before the index was written is adopted when it holds
exactly the archive's files; records written to index.jsonl before index.json are adopted,
never duplicated).

Hardening (issue 18): one indexer per root at a time (`_lock.py`); the archive is read once and
the bytes extracted are the bytes hashed (`_extract.py`); the member digests taken while
extracting are recorded (`_members/<archive>.json`, archive_members.v1) for `lume verify`;
sidecars and transport manifests are read only when they are regular files, within their
limits, with a UTF-8 BOM or in UTF-16; anything in `_incoming` that looks like an archive but
is not a regular file is reported; a symbolic link in `_processed` that leaves its folder or
loops is reported; names and reasons in the log and on the terminal are printable; the
default expansion limit is also a fraction of the free space of the disk holding `_processed`.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lume.generated.constants import (
    ARCHIVE_NAME_PATTERN,
    ARCHIVE_SUFFIXES,
    INPUT_CHECKSUM_SIDECAR,
    INPUT_TRANSPORT_MANIFEST,
    SESSION_ID_PATTERN,
    STORAGE_EXPORTS_DIR,
    STORAGE_LOGS_DIR,
    STORAGE_MANIFESTS_DIR,
    STORAGE_MEMBERS_DIR,
)
from lume.runtime.core import Clock, InputError, dumps, get, printable, problems, rfc3339, write_bytes
from lume.runtime.core import now as wall_clock

from . import _extract as ex
from ._checksum import parse_sidecar, sha256_file
from ._index import load_history, load_index, same_verdict, write_index
from ._inputs import (
    InputRefused,
    decode_text,
    kind_of,
    read_json_limited,
    read_limited,
    stream_buffer_bytes,
)
from ._lock import root_lock
from ._policy import (
    default_limits,
    derived_folder_of,
    derived_folders,
    expected_sources,
    folder_of,
    free_space_limit,
    incoming_dir,
    join_root,
    layout,
    place_members,
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
    # entries of _incoming the index cannot record: {"name", "reason"} (a bad name, a FIFO …)
    skipped: list[dict[str, str]] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)  # staging folders left by a crash
    # symbolic links in _processed that leave their folder or loop: {"path", "reason"}
    links: list[dict[str, str]] = field(default_factory=list)
    max_bytes: int | None = None  # the expansion limit this run applied

    @property
    def counts(self) -> dict[str, int]:
        from ._index import counts

        return counts(self.entries)

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.links and all(e["status"] == "indexed" for e in self.entries)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "ok": self.ok, "counts": self.counts, "entries": self.entries,
                "written": [str(p) for p in self.written], "extracted": self.extracted,
                "skipped": self.skipped, "cleaned": self.cleaned, "links": self.links,
                "max_bytes": self.max_bytes}


class _Verdict(Exception):
    def __init__(self, status: str, reason: str):
        reason = printable(reason)
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

    def judge(self, name: str, previous: dict[str, Any] | None,
              recorded: dict[str, Any] | None = None) -> tuple[dict[str, Any], str | None]:
        """(entry, what happened) for one archive; never raises for a bad archive. `previous` is
        its index.json entry, `recorded` its last index.jsonl record (newer after a crash)."""
        path = self.incoming / name
        size = path.stat().st_size
        manifest_path = self.root / STORAGE_MANIFESTS_DIR / f"{name}.json"
        has_manifest = os.path.lexists(manifest_path)
        base = {"transport_manifest": self.rel(STORAGE_MANIFESTS_DIR, f"{name}.json") if has_manifest else None}
        try:
            digest = self._sidecar(name)
            manifest = self._manifest(name, manifest_path) if has_manifest else None
            session_id = manifest["session_id"] if manifest else self._session_from_name(name)
            base["session_id"] = session_id
            if (previous and previous["status"] == "indexed" and previous["archive_sha256"] == digest
                    and previous["archive_bytes"] == size and previous.get("session_id") == session_id
                    and previous.get("transport_manifest") == base["transport_manifest"]
                    and self._target_exists(previous, manifest)):
                return previous, None  # current: not read, not extracted, not rewritten
            if manifest:
                self._check_manifest_archive(manifest, digest, size, when="sidecar")
            what, ext, _target = self._place(name, path, manifest, session_id, digest)
            base["archive_sha256"] = digest
            base["member_count"] = len(ext.files)
            base["expanded_bytes"] = ext.expanded_bytes
            base.update(self._record_members(name, ext))
            entry = _entry(name, size, **base, status="indexed", reason=None,
                           processed_path=self.rel(processed_dir(), session_id),
                           extracted_at_unix=self._extracted_at(previous or recorded, what))
            return entry, what
        except _Verdict as v:
            return _entry(name, size, **base, status=v.status, reason=v.reason), None
        except ex._Verdict as exc:  # refused, corrupt or pending (a full disk)
            return _entry(name, size, **base, status=exc.status, reason=str(exc)), None
        except Exception as exc:  # noqa: BLE001 - one archive never stops the run
            return _entry(name, size, **base, status="refused",
                          reason=f"could not be indexed: {type(exc).__name__}: {exc}"), None

    def _extracted_at(self, previous: dict[str, Any] | None, what: str) -> float:
        if what == "adopted" and previous and previous.get("extracted_at_unix") is not None:
            return previous["extracted_at_unix"]
        return self.clock()

    def _target_exists(self, previous: dict[str, Any], manifest: dict[str, Any] | None) -> bool:
        """Is the extraction of an indexed archive still there, with its member digests? (Cheap:
        the transport manifest's contents name the layout folder without reading the archive.)"""
        members = self.root / STORAGE_MEMBERS_DIR / f"{previous['archive_name']}.json"
        if previous.get("members_file") and not members.is_file():
            return False  # read it again: the digests are recorded while extracting
        bundle_dir = self.processed / previous["session_id"]
        if manifest is None:
            return bundle_dir.is_dir()
        prefixes = (previous["session_id"] + "/", ex.archive_stem(previous["archive_name"]) + "/")
        paths = [c["path"].removeprefix("./") for c in manifest["contents"]]
        for prefix in prefixes:
            if paths and all(p.startswith(prefix) for p in paths):
                paths = [p[len(prefix):] for p in paths]
                break
        placed = place_members(paths)
        return placed is not None and all((bundle_dir / folder).is_dir() for folder in placed.folders)

    def _sidecar(self, name: str) -> str:
        sidecar = self.incoming / f"{name}.sha256"
        if not os.path.lexists(sidecar):
            raise _Verdict("missing_checksum", f"no {name}.sha256 in {incoming_dir()}")
        try:
            text = decode_text(read_limited(sidecar, INPUT_CHECKSUM_SIDECAR))
        except InputRefused as exc:
            raise _Verdict("refused", f"{name}.sha256 is not a checksum file: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise _Verdict("corrupt", f"{name}.sha256 is neither UTF-8 nor UTF-16 text") from exc
        try:
            return parse_sidecar(text, name)
        except ValueError as exc:
            raise _Verdict("corrupt", f"{name}.sha256: {exc}") from exc

    def _manifest(self, name: str, path: Path) -> dict[str, Any]:
        where = f"{STORAGE_MANIFESTS_DIR}/{name}.json"
        try:
            doc = read_json_limited(path, INPUT_TRANSPORT_MANIFEST)
        except (InputRefused, ValueError) as exc:
            raise _Verdict("refused", f"transport manifest {where}: {exc}") from exc
        found = problems(doc, get("transport_manifest.v1"), file=where)
        if found:
            raise _Verdict("refused", "transport manifest invalid: " + "; ".join(str(p) for p in found[:3]))
        if doc["archive_name"] != name:
            raise _Verdict("refused", f"transport manifest {where} names archive "
                                      f"{doc['archive_name']!r}, not {name!r}")
        return doc

    @staticmethod
    def _check_manifest_archive(manifest: dict[str, Any], digest: str, size: int, *, when: str = "archive") -> None:
        if manifest["archive_sha256"] != digest:
            raise _Verdict("corrupt", f"transport manifest archive_sha256 {manifest['archive_sha256']} "
                                      f"differs from the {when} ({digest})")
        if manifest["archive_bytes"] != size:
            raise _Verdict("corrupt", f"transport manifest archive_bytes {manifest['archive_bytes']} "
                                      f"differs from the archive ({size} bytes)")

    def _session_from_name(self, name: str) -> str:
        """Without a transport manifest the name says the session: `<session>.tar.gz`, or a
        sidecar archive `<session>.<source or derived folder>.tar.gz` (e.g. `….motionmix.tgz`),
        which joins the session's bundle instead of becoming a bundle of its own."""
        stem = ex.archive_stem(name)
        session, _, part = stem.rpartition(".")
        lay = layout()
        if session and (part in lay["sources"] or part in lay["derived"]) and _SESSION.fullmatch(session):
            return session
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

    def _place(self, name: str, path: Path, manifest: dict[str, Any] | None, session_id: str,
               digest: str) -> tuple[str, ex.Extracted, Path]:
        """Extract into the bundle folder once: (`extracted` or `adopted`, what the archive
        holds, the main folder it went to). The archive is read once, checked and extracted
        into a staging folder, and the bytes it came from are compared with the sidecar's
        digest; only then is each layout folder it fills (its source folder, and the derived
        folders of sidecars it carries) renamed into place, complete or not at all."""
        self.processed.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{staging_prefix()}{session_id}.", dir=self.processed))
        try:
            done = (lambda n: self.progress(name, n)) if self.progress else None
            ext = ex.extract_archive(path, staging / "x", max_bytes=self.limits["max_bytes"],
                                     max_members=self.limits["max_members"],
                                     strip=(session_id, ex.archive_stem(name)), progress=done,
                                     buffer=stream_buffer_bytes())
            if ext.archive_sha256 != digest:
                raise _Verdict("corrupt", f"sha256 {ext.archive_sha256} does not match {name}.sha256 ({digest})")
            self._check_contents(manifest, ext.digests)
            placed = place_members([m.path for m in ext.members if m.kind in (ex.FILE, ex.HARDLINK)])
            if placed is None:
                raise _Verdict("refused", "holds no source of bundle_layout.v1 (expected the files of "
                                          + "; ".join(expected_sources()) + ", or sidecars under "
                                          + ", ".join(f"{f}/" for f in derived_folders()) + ")")
            bundle = self.processed / session_id
            want = {m.path: ext.digests[m.stored] for m in ext.files}
            parts = []  # (staged folder, target folder, {path in folder: (sha256, bytes)}), source last
            source = folder_of(layout()["sources"][placed.source]) if placed.source else None
            for folder in placed.folders:
                if folder == source:
                    continue
                staged = staging / "d" / folder
                staged.parent.mkdir(parents=True, exist_ok=True)
                os.rename(ext.root / folder, staged)  # the sidecars leave the source folder
                parts.append((staged, bundle / folder, {p[len(folder) + 1:]: d for p, d in want.items()
                                                        if p.startswith(folder + "/")}))
            if source is not None:
                derived = ext.root / "derived"
                if derived.is_dir() and not any(derived.iterdir()):
                    derived.rmdir()
                parts.append((ext.root, bundle / source, {p: d for p, d in want.items()
                                                          if derived_folder_of(p) is None}))
            adopted = False
            for staged, target, files in parts:
                if target.exists() or target.is_symlink():
                    self._adopt(target, files)
                    adopted = True
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, target)  # atomic: the folder appears complete or not at all
            return ("adopted" if adopted else "extracted"), ext, parts[-1][1]
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _record_members(self, name: str, ext: ex.Extracted) -> dict[str, Any]:
        """Write `_members/<name>.json` (the digests taken while extracting); the index fields
        that point at it and bind it."""
        members = [{"path": m.stored, "sha256": ext.digests[m.stored][0], "byte_size": ext.digests[m.stored][1]}
                   for m in ext.files]
        doc = {"schema": "lume.archive_members.v1", "archive_name": name, "archive_sha256": ext.archive_sha256,
               "archive_bytes": ext.archive_bytes, "format": ext.format, "member_count": len(members),
               "expanded_bytes": sum(m["byte_size"] for m in members), "members": members}
        found = problems(doc, get("archive_members.v1"), file=name)
        if found:  # a bug of ours: never write a bad document
            raise AssertionError("; ".join(str(p) for p in found[:3]))
        data = dumps(doc).encode()
        write_bytes(self.root / STORAGE_MEMBERS_DIR / f"{name}.json", data)
        return {"members_file": self.rel(STORAGE_MEMBERS_DIR, f"{name}.json"),
                "members_sha256": hashlib.sha256(data).hexdigest()}

    def _adopt(self, target: Path, want: dict[str, tuple[str, int]]) -> None:
        """A folder an earlier run extracted (and died before writing the index) is kept when
        it holds exactly the archive's files; anything else is left untouched and refused."""
        rel = target.relative_to(self.root).as_posix()
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


def _incoming_entries(run: _Run) -> tuple[list[str], list[dict[str, str]]]:
    """(archives to judge, entries that look like archives but cannot be indexed, with why)."""
    names: list[str] = []
    skipped: list[dict[str, str]] = []
    for entry in sorted(os.scandir(run.incoming), key=lambda e: e.name):
        if not is_archive(entry.name):
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            skipped.append({"name": printable(entry.name),
                            "reason": f"{kind_of(mode)} named like an archive, not an archive file"})
        elif not _NAME.fullmatch(entry.name):
            skipped.append({"name": printable(entry.name),
                            "reason": "name cannot be indexed (letters, digits, . _ - only)"})
        else:
            names.append(entry.name)
    return names, skipped


def _loose_links(run: _Run) -> list[dict[str, str]]:
    """Symbolic links in `_processed` that leave their bundle folder or loop back to a folder
    they sit in (the indexer never creates one; `lume bundle export` refuses them)."""
    found = []
    if not run.processed.is_dir():
        return found
    processed = run.processed.resolve()
    for folder, dirs, files in os.walk(run.processed):
        for name in [*dirs, *files]:
            link = Path(folder) / name
            if not link.is_symlink():
                continue
            rel = link.relative_to(run.root).as_posix()
            target = Path(os.path.realpath(link))
            bundle = processed / link.relative_to(run.processed).parts[0]
            if link.parent.resolve() == target or link.parent.resolve().is_relative_to(target):
                found.append({"path": printable(rel), "reason": f"a link to {printable(os.readlink(link))}, "
                              "a folder it sits in: a loop no copy or export can follow"})
            elif not target.is_relative_to(bundle):
                found.append({"path": printable(rel), "reason": f"a link to {printable(str(target))}, "
                              "outside its bundle folder"})
    return found


def index_root(root: Path, *, max_bytes: int | None = None, max_members: int | None = None,
               clock: Clock | None = None, root_name: str | None = None,
               progress: Progress | None = None,
               on_archive: Callable[[str, int], None] | None = None, wait_s: float = 0.0) -> IndexResult:
    """Index ROOT (see the module docstring). Raises BadRoot for a bad ROOT and RootBusy when
    another indexer holds the root longer than `wait_s` seconds.

    `root_name` is how documents name the root (e.g. `C:\\lume\\dance-sessions`); default: the
    name the existing index.json uses, else the absolute path. `on_archive(name, size)` is
    called before each archive (progress display). `max_bytes` defaults to the contract's limit
    and at most its fraction of the free space of the disk that holds `_processed`.
    """
    root = check_root(root)
    with root_lock(root, wait_s=wait_s):
        return _index_locked(root, max_bytes=max_bytes, max_members=max_members, clock=clock,
                             root_name=root_name, progress=progress, on_archive=on_archive)


def _index_locked(root: Path, *, max_bytes: int | None, max_members: int | None, clock: Clock | None,
                  root_name: str | None, progress: Progress | None,
                  on_archive: Callable[[str, int], None] | None) -> IndexResult:
    clock = clock or wall_clock
    for folder in (processed_dir(), STORAGE_LOGS_DIR, STORAGE_EXPORTS_DIR, STORAGE_MANIFESTS_DIR,
                   STORAGE_MEMBERS_DIR):
        (root / folder).mkdir(exist_ok=True)
    limits_now = default_limits()
    limits_now["max_bytes"] = int(max_bytes) if max_bytes is not None else min(
        limits_now["max_bytes"], free_space_limit(root / processed_dir()))
    if max_members is not None:
        limits_now["max_members"] = int(max_members)
    previous_doc = load_index(root)
    history = load_history(root)
    root_name = root_name or (previous_doc["root"] if previous_doc else str(root.resolve()))
    log: list[str] = []
    run = _Run(root, root_name, limits_now, clock, progress, log)
    result = IndexResult(root, [], max_bytes=limits_now["max_bytes"])

    # staging folders left by a run that died mid-extraction: never a complete extraction (the
    # lock says no other indexer is using them)
    for stale in sorted(run.processed.glob(f"{staging_prefix()}*")):
        shutil.rmtree(stale, ignore_errors=True)
        result.cleaned.append(stale.name)
        log.append(f"{rfc3339(clock())} WARN {printable(stale.name)}: removed staging folder left by an "
                   "interrupted run\n")

    previous = {e["archive_name"]: e for e in (previous_doc or {}).get("entries", [])}
    last_record = {r["archive_name"]: r for r in history}
    names, result.skipped = _incoming_entries(run)
    for item in result.skipped:
        log.append(f"{rfc3339(clock())} ERROR {item['name']}: {item['reason']}; skipped\n")
    for name in names:
        if on_archive:
            on_archive(name, (run.incoming / name).stat().st_size)
        old, recorded = previous.get(name), last_record.get(name)
        entry, what = run.judge(name, old, recorded)
        if same_verdict(entry, old):
            entry = old  # keep the time the verdict was first written
        elif same_verdict(entry, recorded):
            # index.jsonl got this verdict and the run died before index.json did: adopt it
            # instead of recording it twice
            entry = recorded
        else:
            entry = {**entry, "indexed_at_unix": clock()}
            level = "INFO" if entry["status"] == "indexed" else "ERROR"
            detail = (f"{what} into {entry['processed_path']}" if entry["status"] == "indexed"
                      else f"{entry['status']}: {entry['reason']}")
            log.append(f"{rfc3339(clock())} {level} {name}: {printable(detail)}\n")
        if what == "extracted":
            result.extracted.append(name)
        result.entries.append(entry)
    # entries of archives no longer in _incoming stay: the index records what was seen
    for name, old in previous.items():
        if name not in names:
            result.entries.append(old)
    result.links = _loose_links(run)
    for item in result.links:
        log.append(f"{rfc3339(clock())} ERROR {item['path']}: {item['reason']}\n")
    changed = [e for e in result.entries
               if e["archive_name"] in names and e != last_record.get(e["archive_name"])]
    result.written = write_index(root, root_name, result.entries, previous_doc, history, changed, clock())
    _log(root, log)
    return result
