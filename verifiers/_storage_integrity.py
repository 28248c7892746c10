"""storage.integrity: every recorded checksum and size matches the bytes; nothing missing or orphaned.

Over a K11 dance-sessions root (seed 000, Wave 1): each index entry (index.json and
index.jsonl) against its archive in `_incoming` (present, size, sha256, `.sha256` sidecar,
processed folder, transport manifest) and index.json against index.jsonl; each transport
manifest against its archive and the archive's members; each bundle.json's source files,
archives and derived outputs (exist, size, sha256); derived outputs only under `derived/` and
never over a source (SAFE-SOURCES-IMMUTABLE); every archive in `_incoming` known to the index
and none missing (SAFE-INCOMING-KEPT); nothing in `_processed` the index does not know.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tarfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from lume.generated.constants import (
    ARCHIVE_SUFFIXES,
    SAFE_INCOMING_KEPT,
    SAFE_SOURCES_IMMUTABLE,
    STORAGE_INDEX_FILE,
    STORAGE_INDEX_RECORDS_FILE,
    STORAGE_MANIFESTS_DIR,
)
from lume.runtime.core import InputError, parameters
from lume.runtime.storage import (
    derived_folder_of,
    incoming_dir,
    processed_dir,
    read_sidecar,
    reference_roots,
    references,
    sha256_files,
    unrooted,
)

from ._context import Context
from ._framework import Evidence, held, unchecked, verifier, violated, warned

ID = "storage.integrity"
SOURCES = SAFE_SOURCES_IMMUTABLE
INCOMING = SAFE_INCOMING_KEPT
_DRIVE = re.compile(r"^[A-Za-z]:/")


def archive_stem(name: str) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def stripped_members(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Transport-manifest contents with the archive's top folder (session id or archive stem)
    removed when every member sits in it, as the indexer extracts them."""
    contents = [dict(c, path=str(c.get("path", "")).removeprefix("./")) for c in doc.get("contents") or []]
    for top in (doc.get("session_id"), archive_stem(str(doc.get("archive_name", "")))):
        prefix = f"{top}/"
        if top and contents and all(c["path"].startswith(prefix) for c in contents):
            return [dict(c, path=c["path"][len(prefix):]) for c in contents]
    return contents


def locate(ctx: Context, value: str | None, *, base: str = "", roots: tuple[str, ...] = ()) -> str | None:
    """Map a path as recorded (POSIX or Windows, absolute on its machine or relative to `base`)
    to a path relative to the root, or None when it points outside it."""
    if not value:
        return None
    v = value.replace("\\", "/")
    if v.startswith("/") or _DRIVE.match(v):
        for r in roots:
            prefix = r.replace("\\", "/").rstrip("/") + "/"
            if v.lower().startswith(prefix.lower()):
                return posixpath.normpath(v[len(prefix):])
        here = str(ctx.root).replace("\\", "/").rstrip("/") + "/"
        if v.startswith(here):
            return posixpath.normpath(v[len(here):])
        parts = v.split("/")
        for i, part in enumerate(parts):  # K11 path on another machine: from a storage folder on
            if part in (incoming_dir(), processed_dir(), STORAGE_MANIFESTS_DIR):
                return "/".join(parts[i:])
        return None
    joined = posixpath.normpath(posixpath.join(base, v))
    return None if joined.startswith("../") or joined == ".." else joined


def _is_dir(ctx: Context, rel: str) -> bool:
    return ctx.path(rel).is_dir()


def _check_file(ctx: Context, rel: str | None, sha256: str | None, size: int | None, *,
                recorded_in: str, field: str) -> Iterator[Evidence]:
    """Only violations (and unreadable files); the caller summarises what held."""
    if rel is None:
        yield unchecked("path points outside the verified root; not checked", file=recorded_in,
                        field=field, expected="a path inside the root", found=None)
        return
    if not ctx.exists(rel):
        yield violated("referenced file is missing", file=recorded_in, field=field,
                       expected=rel, found=None)
        return
    if size is not None and ctx.size(rel) != size:
        yield violated("byte size differs from the recorded size", file=rel, field=f"{recorded_in}: {field}",
                       expected=size, found=ctx.size(rel))
    if sha256 is not None:
        try:
            actual = ctx.sha256(rel)
        except OSError as exc:
            yield unchecked(f"cannot read file: {exc}", file=rel, field=field, expected=sha256, found=None)
            return
        if actual != sha256:
            yield violated("sha256 differs from the recorded checksum", file=rel,
                           field=f"{recorded_in}: {field}", expected=sha256, found=actual)


def _tally(evidence: Iterator[Evidence], differing: list[bool]) -> Iterator[Evidence]:
    """Pass the rows of one file's check through, noting in `differing` when there were any."""
    bad = False
    for e in evidence:
        bad = True
        yield e
    if bad:
        differing.append(True)


def _read_json(ctx: Context, rel: str) -> tuple[Any, Evidence | None]:
    try:
        return ctx.json(rel), None
    except InputError as exc:
        return None, violated(f"cannot read: {exc}", file=rel, expected="valid JSON", found="unreadable")


# --- index ---------------------------------------------------------------------------------

def _index_entries(ctx: Context) -> tuple[list[tuple[str, str, dict]], list[str], list[Evidence]]:
    """(source file, field, entry) for index.json entries and index.jsonl records; root values."""
    entries: list[tuple[str, str, dict]] = []
    roots: list[str] = []
    problems: list[Evidence] = []
    if ctx.exists(STORAGE_INDEX_FILE):
        doc, bad = _read_json(ctx, STORAGE_INDEX_FILE)
        if bad:
            problems.append(bad)
        elif isinstance(doc, dict):
            if isinstance(doc.get("root"), str):
                roots.append(doc["root"])
            for i, e in enumerate(doc.get("entries") or []):
                if isinstance(e, dict):
                    entries.append((STORAGE_INDEX_FILE, f"entries[{i}]", e))
    if ctx.exists(STORAGE_INDEX_RECORDS_FILE):
        try:
            for line, rec in ctx.records(STORAGE_INDEX_RECORDS_FILE):
                if isinstance(rec, dict):
                    entries.append((STORAGE_INDEX_RECORDS_FILE, f"line {line}", rec))
        except InputError as exc:
            problems.append(violated(str(exc), file=STORAGE_INDEX_RECORDS_FILE, expected="valid JSONL",
                                     found="unreadable"))
    return entries, roots, problems


def _sidecar_digest(ctx: Context, rel: str) -> str | None:
    try:
        return read_sidecar(ctx.path(rel), posixpath.basename(rel).removesuffix(".sha256"))
    except (ValueError, OSError):
        return None


def _check_index(ctx: Context, roots: tuple[str, ...]) -> Iterator[Evidence]:
    entries, _, problems = _index_entries(ctx)
    yield from problems
    incoming = incoming_dir()
    if not ctx.exists(STORAGE_INDEX_FILE) and not ctx.exists(STORAGE_INDEX_RECORDS_FILE):
        if any(f.startswith(incoming + "/") for f in ctx.files):
            yield violated("archives in _incoming but no index.json / index.jsonl", file=STORAGE_INDEX_FILE,
                           expected="the K11 index", found=None)
        return
    for name in (STORAGE_INDEX_FILE, STORAGE_INDEX_RECORDS_FILE):
        if not ctx.exists(name):
            yield violated(f"{name} is missing (the indexer writes both)", file=name,
                           expected=name, found=None)
    known_archives: set[str] = set()
    processed_known: set[str] = set()
    checked_archives: set[str] = set()
    for source, field, e in entries:
        name = e.get("archive_name")
        if not isinstance(name, str):
            continue
        known_archives.add(name)
        archive = f"{incoming}/{name}"
        if not ctx.exists(archive):
            yield violated("indexed archive is missing from _incoming (archives are never deleted)",
                           file=source, field=f"{field}.archive_name", expected=archive, found=None)
        else:
            checked_archives.add(name)
            yield from _check_file(ctx, archive, e.get("archive_sha256"), e.get("archive_bytes"),
                                   recorded_in=source, field=f"{field}.archive_sha256/archive_bytes")
            sidecar = f"{archive}.sha256"
            if e.get("archive_sha256") is not None:
                if not ctx.exists(sidecar):
                    yield violated("checksum sidecar missing for a verified archive", file=source,
                                   field=f"{field}.archive_sha256", expected=sidecar, found=None)
                elif _sidecar_digest(ctx, sidecar) != e["archive_sha256"]:
                    yield violated(".sha256 sidecar disagrees with the index", file=sidecar,
                                   field=f"{source}: {field}.archive_sha256",
                                   expected=e["archive_sha256"], found=_sidecar_digest(ctx, sidecar))
        processed = locate(ctx, e.get("processed_path"), roots=roots)
        if e.get("processed_path") is not None:
            if processed is None:
                yield unchecked("processed_path points outside the verified root", file=source,
                                field=f"{field}.processed_path", expected="inside the root",
                                found=e["processed_path"])
            else:
                processed_known.add(processed)
                if not _is_dir(ctx, processed):
                    yield violated("processed folder is missing", file=source,
                                   field=f"{field}.processed_path", expected=processed, found=None)
        if e.get("status") == "indexed" and e.get("processed_path") is None:
            yield violated("an indexed archive needs a processed_path", file=source,
                           field=f"{field}.processed_path", expected="a path", found=None)
        manifest = locate(ctx, e.get("transport_manifest"), roots=roots)
        if e.get("transport_manifest") is not None and manifest is not None and not ctx.exists(manifest):
            yield violated("transport manifest is missing", file=source,
                           field=f"{field}.transport_manifest", expected=manifest, found=None)
    yield from _index_agreement(ctx, entries)
    # every archive in _incoming is indexed; nothing in _processed is unknown to the index
    for rel in ctx.files:
        if rel.startswith(incoming + "/") and rel.count("/") == 1:
            name = rel.split("/", 1)[1]
            if name.endswith(".sha256") or name.startswith("."):
                continue
            if name not in known_archives:
                yield violated("archive in _incoming is not in the index", file=rel,
                               field=None, expected="an index entry", found=None)
    processed = ctx.path(processed_dir())
    if processed.is_dir():
        for child in sorted(processed.iterdir()):
            rel = ctx.rel(child)
            if rel not in processed_known:
                yield violated("orphan in _processed: no index entry names it", file=rel,
                               field=None, expected="an index entry's processed_path", found=rel)
    if checked_archives:
        yield held(f"{len(checked_archives)} indexed archive(s) present in _incoming; sha256 and size "
                   f"checked against index.json and index.jsonl", file=STORAGE_INDEX_FILE,
                   expected="every archive kept", found=len(checked_archives))


def _index_agreement(ctx: Context, entries: list[tuple[str, str, dict]]) -> Iterator[Evidence]:
    """index.json's counts match its entries; each entry equals index.jsonl's last record."""
    if ctx.exists(STORAGE_INDEX_FILE):
        doc, _ = _read_json(ctx, STORAGE_INDEX_FILE)
        if isinstance(doc, dict) and isinstance(doc.get("counts"), dict):
            listed = [e for s, _, e in entries if s == STORAGE_INDEX_FILE]
            by_status = Counter(e.get("status") for e in listed)
            for key, value in doc["counts"].items():
                want = len(listed) if key == "total" else by_status.get(key, 0)
                if value != want:
                    yield violated("index counts disagree with its entries", file=STORAGE_INDEX_FILE,
                                   field=f"counts.{key}", expected=want, found=value)
    if not (ctx.exists(STORAGE_INDEX_FILE) and ctx.exists(STORAGE_INDEX_RECORDS_FILE)):
        return
    latest: dict[str, dict] = {}
    for source, _, e in entries:
        if source == STORAGE_INDEX_RECORDS_FILE:
            latest[e.get("archive_name")] = e
    for source, field, e in entries:
        if source != STORAGE_INDEX_FILE:
            continue
        other = latest.get(e.get("archive_name"))
        if other is None:
            yield violated("index.json entry has no index.jsonl record", file=STORAGE_INDEX_RECORDS_FILE,
                           field=f"{STORAGE_INDEX_FILE} {field}", expected=e.get("archive_name"), found=None)
            continue
        for key in ("archive_sha256", "archive_bytes", "status", "processed_path"):
            if e.get(key) != other.get(key):
                yield violated("index.json and index.jsonl disagree", file=STORAGE_INDEX_RECORDS_FILE,
                               field=f"{e.get('archive_name')}.{key}", expected=e.get(key),
                               found=other.get(key))


# --- transport manifests ---------------------------------------------------------------------

def _archive_members(ctx: Context, rel: str) -> dict[str, list]:
    """member path -> [size, sha256] of every regular file in a tar / zip archive."""
    out: dict[str, list] = {}
    path = ctx.path(rel)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    with zf.open(info) as fh:
                        out[info.filename] = [info.file_size, hashlib.file_digest(fh, "sha256").hexdigest()]
        return out
    with tarfile.open(path) as tf:
        for m in tf:
            if m.isfile():
                fh = tf.extractfile(m)
                if fh is not None:
                    name = m.name[2:] if m.name.startswith("./") else m.name
                    out[name] = [m.size, hashlib.file_digest(fh, "sha256").hexdigest()]
    return out


def _recorded_members(ctx: Context, name: str, archive: str,
                      roots: tuple[str, ...]) -> tuple[dict[str, list] | None, str | None]:
    """(member path -> [size, sha256], the members file) recorded by the indexer while it
    extracted this archive, when that record still binds to the archive's bytes: the index
    entry names the file and its digest, the file names the archive's digest. None otherwise
    (an index from before member digests, or anything changed): then the archive is read."""
    try:
        index = ctx.json(STORAGE_INDEX_FILE) if ctx.exists(STORAGE_INDEX_FILE) else {}
    except InputError:
        return None, None
    for e in (index.get("entries") or []) if isinstance(index, dict) else []:
        if not isinstance(e, dict) or e.get("archive_name") != name or not e.get("members_file"):
            continue
        members_rel = locate(ctx, e["members_file"], roots=roots)
        if members_rel is None:
            return None, None
        if not ctx.exists(members_rel):
            return None, members_rel  # recorded, and gone: reported
        try:
            if ctx.sha256(members_rel) != e.get("members_sha256"):
                return None, members_rel
            doc = ctx.json(members_rel)
            if doc.get("archive_sha256") != ctx.sha256(archive):
                return None, members_rel
            out = {str(m["path"]): [m["byte_size"], m["sha256"]] for m in doc.get("members") or []}
        except (InputError, OSError, AttributeError, KeyError, TypeError):
            return None, members_rel
        return out, members_rel
    return None, None


def _check_transport(ctx: Context, rel: str, doc: dict[str, Any],
                     roots: tuple[str, ...] = ()) -> Iterator[Evidence]:
    name = doc.get("archive_name")
    archive = f"{incoming_dir()}/{name}"
    if not ctx.exists(archive):
        yield violated("archive of this transport manifest is missing from _incoming", file=rel,
                       field="archive_name", expected=archive, found=None)
        return
    yield from _check_file(ctx, archive, doc.get("archive_sha256"), doc.get("archive_bytes"),
                           recorded_in=rel, field="archive_sha256/archive_bytes")
    contents = doc.get("contents") or []
    if "member_count" in doc and doc["member_count"] != len(contents):
        yield violated("member_count differs from the number of contents", file=rel,
                       field="member_count", expected=len(contents), found=doc["member_count"])
    total = sum(c.get("byte_size", 0) for c in contents)
    if "expanded_bytes" in doc and doc["expanded_bytes"] != total:
        yield violated("expanded_bytes differs from the sum of contents", file=rel,
                       field="expanded_bytes", expected=total, found=doc["expanded_bytes"])
    recorded, members_file = _recorded_members(ctx, str(name), archive, roots)
    if recorded is None and members_file is not None:
        gone = not ctx.exists(members_file)
        yield violated("members file the index records is missing; the archive was read instead" if gone
                       else "members file no longer matches its index entry or its archive; the archive "
                       "was read instead", file=members_file, expected="the digests the index records",
                       found=None if gone else "changed")
    if recorded is not None and not ctx.deep:
        members, how = recorded, f"the member digests recorded while it was extracted ({members_file})"
    else:
        try:
            members = ctx.cache.memo(f"{ID}.members", archive, lambda: _archive_members(ctx, archive))
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            yield violated(f"archive cannot be read: {exc}", file=archive, expected="a readable archive",
                           found=type(exc).__name__)
            return
        how = "the archive, read again" + (" (--deep)" if ctx.deep else "")
        if recorded is not None and recorded != members:
            yield violated("the member digests recorded at extraction differ from the archive's members",
                           file=members_file, expected="the archive's members", found="different digests")
    for i, c in enumerate(contents):
        got = members.get(c.get("path"))
        if got is None:
            yield violated("manifest member is not in the archive", file=archive,
                           field=f"{rel}: contents[{i}].path", expected=c.get("path"), found=None)
        elif got != [c.get("byte_size"), c.get("sha256")]:
            yield violated("archive member differs from the transport manifest", file=archive,
                           field=f"{rel}: contents[{i}] {c.get('path')}",
                           expected={"byte_size": c.get("byte_size"), "sha256": c.get("sha256")},
                           found={"byte_size": got[0], "sha256": got[1]})
    for extra in sorted(set(members) - {c.get("path") for c in contents}):
        yield violated("archive member missing from the transport manifest", file=archive,
                       field=f"{rel}: contents", expected=None, found=extra)
    yield held(f"archive and its {len(members)} member(s) checked against the transport manifest, "
               f"members from {how}", file=rel, expected=len(contents), found=len(members))


# --- bundles ---------------------------------------------------------------------------------

def _check_bundle(ctx: Context, rel: str, doc: dict[str, Any], roots: tuple[str, ...]) -> Iterator[Evidence]:
    folder = posixpath.dirname(rel)
    roots = (*roots, *([doc["primary_storage"]["root"]] if isinstance(doc.get("primary_storage"), dict)
                       and isinstance(doc["primary_storage"].get("root"), str) else []))
    rules = parameters(SOURCES)
    writable = rules["writable_prefix"]
    protected = tuple(rules["protected_prefixes"])
    checked = 0
    differing: list[bool] = []
    source_files: set[str] = set()
    source_dirs: list[str] = []
    referenced: set[int] = set()  # sources whose files live outside the verified root
    for i, s in enumerate(doc.get("sources") or []):
        field = f"sources[{i}]"
        if s.get("source_type") == "guided_pose_clip":
            base = _pose_coach_folder(ctx, folder, s, roots)
        else:
            base = locate(ctx, s.get("path"), base=folder, roots=roots)
        if base is not None:
            source_dirs.append(base)
        archive = locate(ctx, s.get("archive_path"), base=folder, roots=roots)
        if s.get("archive_path") and s.get("sha256") is not None:
            if archive is None:
                yield unchecked("archive_path points outside the verified root", file=rel,
                                field=f"{field}.archive_path", expected="inside the root",
                                found=s["archive_path"])
            else:
                checked += 1
                yield from _tally(_check_file(ctx, archive, s.get("sha256"), s.get("byte_size"),
                                              recorded_in=rel, field=f"{field}.archive_path"), differing)
        if archive is not None and base is not None:
            yield from _check_extracted(ctx, rel, field, archive, base)
        for j, f in enumerate(s.get("files") or []):
            target = None if base is None else posixpath.normpath(posixpath.join(base, f["path"]))
            if target is not None:
                source_files.add(target)
            checked += 1
            if target is None and s.get("source_type") == "guided_pose_clip" \
                    and s.get("storage", "reference") == "reference":
                referenced.add(i)  # kept where it lives: hashed through its reference root below
                continue
            yield from _tally(_check_file(ctx, target, f.get("sha256"), f.get("byte_size"), recorded_in=rel,
                                          field=f"{field}.files[{j}] {f['path']}"), differing)
    yield from _check_references(rel, doc, referenced)
    for i, d in enumerate(doc.get("derived") or []):
        field = f"derived[{i}]"
        paths = [(f"{field}.path", d.get("path"), None)] + [
            (f"{field}.outputs[{j}]", o.get("path"), o) for j, o in enumerate(d.get("outputs") or [])]
        for where, path, ref in paths:
            if not isinstance(path, str):
                continue
            norm = posixpath.normpath(path)
            if not norm.startswith(writable) or norm.startswith(protected):
                yield violated(f"derived output outside {writable}", file=rel, field=where,
                               expected=f"{writable}…", found=path)
            target = posixpath.normpath(posixpath.join(folder, path))
            if target in source_files or any(target == sd or target.startswith(sd + "/") for sd in source_dirs):
                yield violated("derived output overwrites a source", file=rel, field=where,
                               expected="a path outside every source", found=path)
            if ref is not None:
                checked += 1
                yield from _tally(_check_file(ctx, target, ref.get("sha256"), ref.get("byte_size"),
                                              recorded_in=rel, field=f"{where} {path}"), differing)
            elif d.get("status") == "complete" and not ctx.exists(target):
                yield violated("complete derived entry without its main output", file=rel,
                               field=where, expected=target, found=None)
    bad = len(differing)
    if checked > bad:  # the summary counts only what matched; what did not is in its own rows
        note = f" ({bad} do not: the rows above)" if bad else ""
        yield held(f"{checked - bad} of {checked} recorded files and archives of this bundle match their "
                   f"sha256 and size{note}", file=rel, expected=checked, found=checked - bad)


def _check_references(rel: str, doc: dict[str, Any], sources: set[int]) -> Iterator[Evidence]:
    """Files a bundle keeps by reference, hashed where they live: through the reference roots
    storage_root.v2 declares and this machine's configuration mounts. A root not mounted here
    is `not_reachable`, a warning or a failure as the contract's policy says for this machine."""
    if not sources:
        return
    roots = reference_roots()
    wanted = [r for r in references(doc, roots) if int(r.field.split("]", 1)[0].split("[", 1)[1]) in sources]
    for field, recorded in unrooted(doc, roots):
        yield violated("not_reachable: the referenced Pose Coach session is on no reference root of "
                       "storage_root.v2 (nor in the verified root)", file=rel, field=field,
                       expected="a path on a declared reference root", found=recorded)
    wanted = [r for r in wanted if r.root is not None]  # the others: reported by unrooted() above
    reachable = [r for r in wanted if r.local is not None]
    digests = sha256_files(r.local for r in reachable if r.local.is_file() and not r.local.is_symlink())
    hashed: dict[str, int] = {}
    for r in reachable:
        where = f"{rel}: {r.field}"
        if str(r.local) not in digests:
            yield violated(f"referenced file is missing on root {r.root.name} (mounted at {r.root.mount})",
                           file=str(r.local), field=where, expected=r.recorded, found=None)
            continue
        size = r.local.stat().st_size
        if size != r.byte_size:
            yield violated("byte size of a referenced file differs from the recorded size", file=str(r.local),
                           field=where, expected=r.byte_size, found=size)
        elif digests[str(r.local)] != r.sha256:
            yield violated("sha256 of a referenced file differs from the recorded checksum", file=str(r.local),
                           field=where, expected=r.sha256, found=digests[str(r.local)])
        else:
            hashed[r.root.name] = hashed.get(r.root.name, 0) + 1
    for name, n in sorted(hashed.items()):
        yield held(f"{n} referenced file(s) hashed where they live (root {name})", file=rel,
                   expected="the recorded sha256 and size", found=n)
    away: dict[str, list] = {}
    for r in wanted:
        if r.local is None:
            away.setdefault(r.root.name, []).append(r)
    for name, refs in sorted(away.items()):
        root = refs[0].root
        make = violated if root.unreachable_is == "failure" else warned
        who = "this machine holds it" if root.holder else f"it lives on {root.machine}"
        yield make(f"not_reachable: {len(refs)} referenced file(s) on root {name}, which this machine does "
                   f"not mount ({who}; storage_root.v2 not_reachable: {root.unreachable_is})", file=rel,
                   field=refs[0].field, expected=f"root {name} mounted (machine configuration)",
                   found=refs[0].recorded)


def _check_extracted(ctx: Context, rel: str, field: str, archive: str, base: str) -> Iterator[Evidence]:
    """Every member of the source's archive, as its transport manifest records it at upload,
    is still in the source folder with the same bytes (sources are never modified)."""
    manifest = f"{STORAGE_MANIFESTS_DIR}/{posixpath.basename(archive)}.json"
    if not ctx.exists(manifest):
        return
    doc, bad = _read_json(ctx, manifest)
    if bad or not isinstance(doc, dict):
        return
    members = stripped_members(doc)
    bundle = posixpath.dirname(rel)
    changed = 0
    for m in members:
        # sidecars of a source archive (`derived/mac4_first/…`) sit in the bundle's derived folder
        home = bundle if derived_folder_of(m["path"]) else base
        target = posixpath.normpath(posixpath.join(home, m["path"]))
        bad = list(_check_file(ctx, target, m.get("sha256"), m.get("byte_size"), recorded_in=manifest,
                               field=f"contents {m['path']}"))
        changed += bool(bad)
        for e in bad:
            e.message = f"source differs from the uploaded archive member: {e.message}"
            yield e
    # only the unchanged ones: a row never says "unchanged" of a source that changed
    if len(members) > changed:
        note = f" ({changed} changed: the rows above)" if changed else ""
        yield held(f"{len(members) - changed} of {len(members)} extracted source file(s) unchanged since "
                   f"upload{note}", file=rel, field=f"{field}.archive_path", expected=manifest,
                   found=len(members) - changed)


def _pose_coach_folder(ctx: Context, folder: str, s: dict[str, Any], roots: tuple[str, ...]) -> str | None:
    """Where a Pose Coach source's files live inside the root: the copied session folder, or
    the referenced session folder when the reference resolves inside the root."""
    if s.get("storage") == "copy":
        session = s.get("session_id") or ""
        return posixpath.normpath(posixpath.join(folder, "sources/k11_pose_coach", session))
    manifest = locate(ctx, s.get("manifest_path"), base=folder, roots=roots)
    return posixpath.dirname(manifest) if manifest else None


def _check_links(ctx: Context) -> Iterator[Evidence]:
    """Symbolic links are never followed while verifying; each is judged where it points. One
    that leaves the root, loops back to a folder it sits in, or leaves its bundle folder is a
    violation (`lume bundle export` refuses them); one inside its bundle is a warning."""
    root = ctx.root.resolve()
    processed = processed_dir() + "/"
    for link in ctx.links:
        path = ctx.path(link)
        target = Path(os.path.realpath(path))
        parent = path.parent.resolve()
        if not target.is_relative_to(root):
            yield violated("symbolic link points outside the root", file=link, expected="inside the root",
                           found=str(target))
        elif parent == target or parent.is_relative_to(target):
            yield violated("symbolic link to a folder it sits in: a loop no copy or export can follow",
                           file=link, expected="no link loops", found=os.readlink(path))
        elif link.startswith(processed):
            name = link[len(processed):].split("/", 1)[0]
            if not target.is_relative_to(root / processed_dir() / name):
                yield violated("symbolic link leaves its bundle folder", file=link,
                               expected=f"inside {processed}{name}", found=str(target))
            else:
                yield warned("symbolic link inside a bundle: `lume bundle export` refuses bundles "
                             "that hold links", file=link, expected="regular files", found=os.readlink(path))


@verifier(ID, "Checksums, sizes and references; sources unchanged; incoming kept",
          invariants=(SOURCES, INCOMING), domain="data")
def storage_integrity(ctx: Context) -> Iterator[Evidence]:
    ctx.hash_all()
    _, roots_list, _ = _index_entries(ctx)
    roots = tuple(roots_list)
    transports = ctx.documents_of("transport_manifest.v1")
    bundles = ctx.documents_of("rehearsal_bundle.v1")
    indexed = ctx.exists(STORAGE_INDEX_FILE) or ctx.exists(STORAGE_INDEX_RECORDS_FILE)
    if not (indexed or transports or bundles):
        yield unchecked("no index, transport manifest or bundle.json in the root: nothing records "
                        "what the bytes should be", expected="index.json or bundle.json", found=None)
    yield from _check_index(ctx, roots)
    for rel in transports:
        doc, bad = _read_json(ctx, rel)
        if bad:
            yield bad
        elif isinstance(doc, dict):
            yield from _check_transport(ctx, rel, doc, roots)
    for rel in bundles:
        doc, bad = _read_json(ctx, rel)
        if bad:
            yield bad
        elif isinstance(doc, dict):
            yield from _check_bundle(ctx, rel, doc, roots)
    yield from _check_links(ctx)
    yield held(f"{len(ctx.files)} files hashed ({ctx.cache.trusted} trusted from the quick cache)",
               expected=len(ctx.files), found=ctx.cache.hashed + ctx.cache.trusted)
