"""Safe extraction of tar and zip archives (SAFE-ARCHIVE-EXTRACT).

The archive is listed and checked whole before a single byte is written: absolute paths,
`..`, symbolic or hard links that lead outside, device files and FIFOs, duplicate paths, and
archives past the member-count or expanded-size limit are refused with a reason naming the
member. Extraction then writes into a fresh staging folder (never through a link: files are
opened with O_EXCL | O_NOFOLLOW, links are created last), hashing every file as it is
written. The caller renames the staging folder into place, so a crash leaves either nothing
or a complete folder.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator
from zlib import error as zlib_error

from lume.generated.constants import ARCHIVE_SUFFIXES

from ._checksum import CHUNK

FILE, DIR, SYMLINK, HARDLINK = "file", "dir", "symlink", "hardlink"
MAX_LINK_TARGET = 4096


class ArchiveRefused(Exception):
    """The archive is hostile or past a limit (status `refused`); nothing was extracted."""

    status = "refused"


class ArchiveCorrupt(Exception):
    """The archive cannot be read completely (truncated, bad CRC, not an archive): `corrupt`."""

    status = "corrupt"


@dataclass
class Member:
    stored: str            # path as stored in the archive (minus a leading ./)
    path: str              # path inside the extraction folder (top folder stripped)
    kind: str              # file, dir, symlink, hardlink
    size: int = 0
    mtime: float | None = None
    link: str | None = None  # symlink: target inside the folder; hardlink: member path it copies
    ref: object = None     # TarInfo / ZipInfo


@dataclass
class Listing:
    format: str
    members: list[Member] = field(default_factory=list)

    @property
    def files(self) -> list[Member]:
        return [m for m in self.members if m.kind == FILE]

    @property
    def expanded_bytes(self) -> int:
        return sum(m.size for m in self.members if m.kind in (FILE, HARDLINK))


def archive_format(name: str) -> str | None:
    low = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if low.endswith(suffix):
            return suffix[1:]
    return None


def archive_stem(name: str) -> str:
    fmt = archive_format(name)
    return name[: -len(fmt) - 1] if fmt else name


# --------------------------------------------------------------------------- names


def _clean(name: str) -> str:
    """Normalise a stored name; refuse absolute paths, `..` and NUL."""
    if "\x00" in name:
        raise ArchiveRefused(f"member {name!r} has a NUL byte in its name")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":" and posix[0].isalpha()):
        raise ArchiveRefused(f"member {name} has an absolute path (absolute_path)")
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"member {name} escapes the extraction folder (parent_traversal)")
    return "/".join(parts)


# --------------------------------------------------------------------------- listing


def _tar_members(tf: tarfile.TarFile) -> Iterator[Member]:
    for info in tf:  # iterating reads every header: a truncated archive fails here
        stored = _clean(info.name)
        if not stored:
            continue
        if info.isreg():
            yield Member(stored, stored, FILE, info.size, info.mtime, ref=info)
        elif info.isdir():
            yield Member(stored, stored, DIR, 0, info.mtime, ref=info)
        elif info.issym():
            yield Member(stored, stored, SYMLINK, 0, info.mtime, link=info.linkname, ref=info)
        elif info.islnk():
            target = info.linkname.replace("\\", "/")
            if target.startswith("/") or ".." in target.split("/"):
                raise ArchiveRefused(f"member {info.name} is a hard link to {info.linkname}, outside "
                                     "the extraction folder (hardlink_outside)")
            yield Member(stored, stored, HARDLINK, 0, info.mtime, link=_clean(target), ref=info)
        elif info.ischr() or info.isblk():
            raise ArchiveRefused(f"member {info.name} is a device file (device_file)")
        elif info.isfifo():
            raise ArchiveRefused(f"member {info.name} is a FIFO (fifo)")
        else:
            raise ArchiveRefused(f"member {info.name} has unsupported tar type {info.type!r}")


def _zip_members(zf: zipfile.ZipFile) -> Iterator[Member]:
    for info in zf.infolist():
        stored = _clean(info.filename)
        if not stored:
            continue
        mode = info.external_attr >> 16
        mtime = None
        try:
            import calendar

            mtime = float(calendar.timegm((*info.date_time, 0, 0, 0)))
        except (ValueError, OverflowError):
            pass
        if stat.S_ISLNK(mode):
            if info.file_size > MAX_LINK_TARGET:
                raise ArchiveRefused(f"member {info.filename} is a link with a {info.file_size}-byte target")
            target = zf.read(info).decode("utf-8", "replace")
            yield Member(stored, stored, SYMLINK, 0, mtime, link=target, ref=info)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise ArchiveRefused(f"member {info.filename} is a device file (device_file)")
        elif stat.S_ISFIFO(mode):
            raise ArchiveRefused(f"member {info.filename} is a FIFO (fifo)")
        elif info.is_dir() or stat.S_ISDIR(mode):
            yield Member(stored, stored, DIR, 0, mtime, ref=info)
        else:
            yield Member(stored, stored, FILE, info.file_size, mtime, ref=info)


class _Checker:
    """The member rules, applied one member at a time (archives are read in a single pass)."""

    def __init__(self, *, max_bytes: int, max_members: int):
        self.max_bytes, self.max_members = max_bytes, max_members
        self.seen: dict[str, Member] = {}
        self.links: set[str] = set()
        self.parents: set[str] = set()  # every folder some member sits in
        self.count = 0
        self.total = 0

    def add(self, m: Member) -> bool:
        """Check one member; False when it only repeats a folder already seen."""
        self.count += 1
        if self.count > self.max_members:
            raise ArchiveRefused(f"more than the limit of {self.max_members} members")
        old = self.seen.get(m.path)
        if old is not None:
            if m.kind == DIR and old.kind == DIR:
                return False
            raise ArchiveRefused(f"member {m.stored} appears twice (duplicate_path)")
        if m.kind != DIR and m.path in self.parents:
            raise ArchiveRefused(f"member {m.stored} is not a folder but other members sit below it")
        parts = m.path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in self.links:
                raise ArchiveRefused(f"member {m.stored} is reached through the link {parent} (link_outside)")
            if parent in self.seen and self.seen[parent].kind != DIR:
                raise ArchiveRefused(f"member {m.stored} sits below {parent}, which is not a folder")
            self.parents.add(parent)
        if m.kind == SYMLINK:
            target = (m.link or "").replace("\\", "/")
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(m.path), target))
            if not target or target.startswith("/") or joined == ".." or joined.startswith("../"):
                raise ArchiveRefused(f"member {m.stored} is a link to {m.link}, outside the "
                                     "extraction folder (link_outside)")
            m.link = joined
            self.links.add(m.path)
        elif m.kind == HARDLINK:
            target = self.seen.get(m.link or "")
            if target is None or target.kind != FILE:
                raise ArchiveRefused(f"member {m.stored} is a hard link to {m.link}, which is not an "
                                     "earlier file of the archive (hardlink_outside)")
            m.size = target.size
        self.total += m.size if m.kind in (FILE, HARDLINK) else 0
        if self.total > self.max_bytes:
            raise ArchiveRefused(f"expands to more than the limit of {self.max_bytes} bytes")
        self.seen[m.path] = m
        return True


def _strip_prefix(members: list[Member], prefixes: tuple[str, ...]) -> str:
    """The top folder (a session id) every member sits below, or ''. Links must stay below it."""
    for prefix in prefixes:
        if prefix and members and all(m.path == prefix or m.path.startswith(prefix + "/") for m in members):
            for m in members:
                if m.kind == SYMLINK and not (m.link or "").startswith(prefix + "/"):
                    raise ArchiveRefused(f"member {m.stored} is a link to {m.link}, outside the "
                                         "session folder (link_outside)")
            return prefix
    return ""


def _apply_strip(members: list[Member], prefix: str) -> list[Member]:
    if not prefix:
        return members
    cut = len(prefix) + 1
    out = []
    for m in members:
        if m.path == prefix:
            continue
        m.path = m.path[cut:]
        if m.link is not None and m.link.startswith(prefix + "/"):
            m.link = m.link[cut:]
        out.append(m)
    return out


def _members(path: Path, fmt: str) -> Iterator[tuple[Member, object]]:
    """(member, open archive) in archive order, reading the archive once."""
    if fmt == "zip":
        with zipfile.ZipFile(path) as zf:
            for m in _zip_members(zf):
                yield m, zf
    else:
        # one pass in archive order: a plain tar is read in place, a compressed one as a stream
        mode, kwargs = ("r:", {}) if fmt == "tar" else ("r|*", {"bufsize": CHUNK})
        with tarfile.open(path, mode=mode, **kwargs) as tf:
            for m in _tar_members(tf):
                yield m, tf


def _errors(fmt: str):
    """Map read errors of the archive libraries to ArchiveCorrupt."""
    import contextlib

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except (ArchiveRefused, ArchiveCorrupt):
            raise
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, zlib_error) as exc:
            raise ArchiveCorrupt(f"cannot read the {fmt} archive: {exc or type(exc).__name__}") from exc
    return guard()


def list_archive(path: Path, *, max_bytes: int, max_members: int,
                 strip: tuple[str, ...] = ()) -> Listing:
    """Every member, checked (raises ArchiveRefused / ArchiveCorrupt). Writes nothing."""
    fmt = archive_format(path.name)
    if fmt is None:
        raise ArchiveRefused(f"{path.name}: not a .tar, .tar.gz, .tgz or .zip archive")
    check = _Checker(max_bytes=max_bytes, max_members=max_members)
    members: list[Member] = []
    with _errors(fmt):
        for m, _ in _members(path, fmt):
            if check.add(m):
                members.append(m)
    return Listing(fmt, _apply_strip(members, _strip_prefix(members, strip)))


# --------------------------------------------------------------------------- extraction


@dataclass
class Extracted(Listing):
    root: Path | None = None  # folder holding the members (below the stripped top folder)
    digests: dict[str, tuple[str, int]] = field(default_factory=dict)  # stored path -> (sha256, bytes)


def _copy_stream(src: IO[bytes], dest: Path, expected: int) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(dest, flags, 0o644)
    h = hashlib.sha256()
    total = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            total += len(chunk)
            if total > expected:
                raise ArchiveCorrupt(f"member {dest.name} holds more bytes than its header says ({expected})")
            h.update(chunk)
            out.write(chunk)
    if total != expected:
        raise ArchiveCorrupt(f"member {dest.name} is truncated: {total} of {expected} bytes")
    return h.hexdigest(), total


def extract_archive(path: Path, dest: Path, *, max_bytes: int, max_members: int,
                    strip: tuple[str, ...] = (), progress=None) -> Extracted:
    """Check and extract the archive into the empty staging folder `dest`, in one pass.

    Every member is checked before it is written (and the limits as they accumulate), files
    are created with O_EXCL | O_NOFOLLOW and hashed while written, hard links become copies,
    symbolic links are created last. Raises ArchiveRefused / ArchiveCorrupt; the caller
    removes `dest` then. A top folder named in `strip` that holds every member is dropped
    (`Extracted.root` points below it).
    """
    fmt = archive_format(path.name)
    if fmt is None:
        raise ArchiveRefused(f"{path.name}: not a .tar, .tar.gz, .tgz or .zip archive")
    dest.mkdir(parents=True, exist_ok=True)
    check = _Checker(max_bytes=max_bytes, max_members=max_members)
    members: list[Member] = []
    digests: dict[str, tuple[str, int]] = {}

    def target(rel: str) -> Path:
        out = dest.joinpath(*rel.split("/"))
        out.parent.mkdir(parents=True, exist_ok=True)
        return out

    with _errors(fmt):
        for m, archive in _members(path, fmt):
            if not check.add(m):
                continue
            members.append(m)
            if m.kind == DIR:
                dest.joinpath(*m.path.split("/")).mkdir(parents=True, exist_ok=True)
            elif m.kind == FILE:
                if isinstance(archive, zipfile.ZipFile):
                    src: IO[bytes] | None = archive.open(m.ref)  # type: ignore[arg-type]
                else:
                    src = archive.extractfile(m.ref)  # type: ignore[union-attr, arg-type]
                if src is None:
                    raise ArchiveCorrupt(f"member {m.stored} cannot be read")
                out = target(m.path)
                with src:
                    digests[m.stored] = _copy_stream(src, out, m.size)
                if m.mtime is not None:
                    os.utime(out, (m.mtime, m.mtime))
                if progress:
                    progress(m.size)
            elif m.kind == HARDLINK:  # an independent copy of an earlier file
                shutil.copyfile(dest.joinpath(*(m.link or "").split("/")), target(m.path))
    prefix = _strip_prefix(members, strip)
    for m in members:  # links last: no file was ever written through one
        if m.kind == SYMLINK:
            os.symlink(posixpath.relpath(m.link, posixpath.dirname(m.path) or "."), target(m.path))
    root = dest.joinpath(*prefix.split("/")) if prefix else dest
    return Extracted(fmt, _apply_strip(members, prefix), root=root, digests=digests)
