"""Safe extraction of tar and zip archives (SAFE-ARCHIVE-EXTRACT).

Every member is checked before it is written: absolute paths, `..`, symbolic or hard links
that lead outside or loop back to their own folder, device files and FIFOs, duplicate paths,
encrypted or unsupported zip members, timestamps no clock can hold, and archives past the
member-count or expanded-size limit are refused with a reason naming the member. Extraction
writes into a fresh staging folder (never through a link: files are opened with O_EXCL |
O_NOFOLLOW, links are created last), hashing every file as it is written. The caller renames
the staging folder into place, so a crash leaves either nothing or a complete folder.

The archive is read once, and what is extracted is what was hashed (issue 18, check-then-use):
a tar stream is hashed as it is decompressed (`Extracted.archive_sha256`), a zip (which needs
random access) is copied into the staging folder while hashed and opened from that copy. The
caller compares the digest with the sidecar before the folder is renamed into place. Tar
streams are read through a small buffer (storage_root.v2 limits), so a highly compressible
member cannot expand in memory. A failure to write (a full disk, a name too long for this
filesystem) is said as such, never reported as a corrupt archive.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import math
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
from lume.runtime.core import printable

from ._checksum import CHUNK

FILE, DIR, SYMLINK, HARDLINK = "file", "dir", "symlink", "hardlink"
MAX_LINK_TARGET = 4096
# what a file's modification time may be (os.utime refuses inf, and far beyond 2**40 s)
MTIME_RANGE = (-(2 ** 35), 2 ** 35)
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
               zipfile.ZIP_LZMA: "lzma"}
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class _Verdict(Exception):
    """A verdict on one archive with a one-line, printable reason (member names may hold
    newlines or terminal escapes: they never reach a log line or a terminal raw)."""

    status = "refused"

    def __init__(self, reason: str):
        super().__init__(printable(reason))


class ArchiveRefused(_Verdict):
    """The archive is hostile or past a limit (status `refused`); nothing was extracted."""

    status = "refused"


class ArchiveCorrupt(_Verdict):
    """The archive cannot be read completely (truncated, bad CRC, not an archive): `corrupt`."""

    status = "corrupt"


class ArchivePending(_Verdict):
    """Writing failed for a reason of this machine, not of the archive (a full disk): `pending`,
    retried by the next run."""

    status = "pending"


class _WriteFailed(Exception):
    def __init__(self, exc: OSError, member: str):
        super().__init__(str(exc))
        self.exc, self.member = exc, member


@contextlib.contextmanager
def _writing(member: str) -> Iterator[None]:
    """OSErrors raised while writing `member` are write failures, not a corrupt archive."""
    try:
        yield
    except OSError as exc:
        raise _WriteFailed(exc, member) from exc


def _write_verdict(failed: _WriteFailed) -> _Verdict:
    code, what = failed.exc.errno, failed.exc.strerror or str(failed.exc)
    name = errno.errorcode.get(code or 0, "error")
    if code == errno.ENAMETOOLONG:
        return ArchiveRefused(f"member {failed.member}: its name is too long for the filesystem that holds "
                              f"the processed folder ({name}; name_too_long)")
    if code in _NO_SPACE:
        return ArchivePending(f"no space left on the disk that holds the processed folder while writing "
                              f"member {failed.member} ({name}: {what}); the archive is fine: free space "
                              "and run lume index again")
    return ArchivePending(f"cannot write member {failed.member} into the processed folder ({name}: {what}); "
                          "the archive was not judged: fix that and run lume index again")


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


def _mtime(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not MTIME_RANGE[0] <= value <= MTIME_RANGE[1]:
        raise ArchiveRefused(f"member {name} has the timestamp {value!r}, which no file can carry "
                             "(bad_timestamp)")
    return float(value)


def _tar_members(tf: tarfile.TarFile) -> Iterator[Member]:
    for info in tf:  # iterating reads every header: a truncated archive fails here
        stored = _clean(info.name)
        if not stored:
            continue
        _mtime(info.name, info.mtime)
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
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"member {info.filename} is encrypted; encrypted zip archives cannot be "
                                 "checked (encrypted_member)")
        if info.compress_type not in ZIP_METHODS:
            raise ArchiveRefused(f"member {info.filename} uses zip compression method {info.compress_type}, "
                                 f"which is not supported (only {', '.join(ZIP_METHODS.values())}; "
                                 "unsupported_compression)")
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
            if joined == "." or m.path == joined or m.path.startswith(joined + "/"):
                raise ArchiveRefused(f"member {m.stored} is a link to {m.link}, a folder it sits in: "
                                     "a loop that no copy or export can follow (link_loop)")
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


class _Tee(io.RawIOBase):
    """A read-only stream that hashes every byte read through it (the archive's sha256)."""

    def __init__(self, fh: IO[bytes]):
        self.fh, self.hash, self.count = fh, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self.fh.readinto(b) or 0
        if n:
            self.hash.update(memoryview(b)[:n])
            self.count += n
        return n

    def drain(self) -> None:
        """Hash what the archive reader did not need (end-of-archive padding)."""
        buf = bytearray(CHUNK)
        while n := self.fh.readinto(buf):
            self.hash.update(memoryview(buf)[:n])
            self.count += n


def _stage_copy(path: Path, dest: Path) -> tuple[str, int]:
    """Copy the archive into `dest` while hashing it: (sha256, bytes) of exactly what was copied."""
    h, total = hashlib.sha256(), 0
    buf = bytearray(CHUNK)
    with open(path, "rb", buffering=0) as src, _writing(path.name), open(dest, "xb") as out:
        while n := src.readinto(buf):
            view = memoryview(buf)[:n]
            h.update(view)
            out.write(view)
            total += n
    return h.hexdigest(), total


@dataclass
class _Source:
    """An archive opened for one pass; `digest()` is the sha256 of the bytes the pass read."""

    fmt: str
    tee: _Tee | None = None
    staged: tuple[str, int] | None = None

    def digest(self) -> tuple[str, int]:
        if self.staged is not None:
            return self.staged
        assert self.tee is not None
        self.tee.drain()
        return self.tee.hash.hexdigest(), self.tee.count


@contextlib.contextmanager
def _opened(path: Path, fmt: str, *, buffer: int, stage: Path | None = None
            ) -> Iterator[tuple[_Source, Iterator[tuple[Member, object]]]]:
    """The archive's members in archive order, read once. A tar (compressed or not) is one
    stream through a hashing reader; a zip is first copied into `stage` (hashed while copied)
    and read from that copy, so the bytes extracted are the bytes hashed."""
    if fmt == "zip":
        if stage is None:
            with zipfile.ZipFile(path) as zf:
                yield _Source(fmt), ((m, zf) for m in _zip_members(zf))
            return
        staged = _stage_copy(path, stage)
        with zipfile.ZipFile(stage) as zf:
            yield _Source(fmt, staged=staged), ((m, zf) for m in _zip_members(zf))
        return
    with open(path, "rb", buffering=0) as raw:
        tee = _Tee(raw)
        # stream mode with a small buffer: the compressed read size bounds what decompresses at once
        with tarfile.open(fileobj=tee, mode="r|" if fmt == "tar" else "r|*", bufsize=buffer) as tf:
            yield _Source(fmt, tee=tee), ((m, tf) for m in _tar_members(tf))


@contextlib.contextmanager
def _errors(fmt: str) -> Iterator[None]:
    """Map what the archive libraries raise to a verdict: a read error is a corrupt archive; a
    feature they cannot read is a refusal; a write error says what happened on this machine."""
    try:
        yield
    except _Verdict:
        raise
    except _WriteFailed as failed:
        raise _write_verdict(failed) from failed.exc
    except RuntimeError as exc:  # zipfile: "... is encrypted, password required for extraction"
        raise ArchiveRefused(f"cannot read the {fmt} archive: {exc} (encrypted_member)") from exc
    except NotImplementedError as exc:  # zipfile: "That compression method is not supported"
        raise ArchiveRefused(f"cannot read the {fmt} archive: {exc} (unsupported_compression)") from exc
    except OverflowError as exc:  # a number in a header no platform type can hold
        raise ArchiveRefused(f"cannot read the {fmt} archive: a header value is out of range ({exc})") from exc
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, zlib_error) as exc:
        raise ArchiveCorrupt(f"cannot read the {fmt} archive: {exc or type(exc).__name__}") from exc


def list_archive(path: Path, *, max_bytes: int, max_members: int,
                 strip: tuple[str, ...] = (), buffer: int = CHUNK) -> Listing:
    """Every member, checked (raises ArchiveRefused / ArchiveCorrupt). Writes nothing."""
    fmt = archive_format(path.name)
    if fmt is None:
        raise ArchiveRefused(f"{path.name}: not a .tar, .tar.gz, .tgz or .zip archive")
    check = _Checker(max_bytes=max_bytes, max_members=max_members)
    members: list[Member] = []
    with _errors(fmt), _opened(path, fmt, buffer=buffer) as (_source, items):
        for m, _ in items:
            if check.add(m):
                members.append(m)
    return Listing(fmt, _apply_strip(members, _strip_prefix(members, strip)))


# --------------------------------------------------------------------------- extraction


@dataclass
class Extracted(Listing):
    root: Path | None = None  # folder holding the members (below the stripped top folder)
    digests: dict[str, tuple[str, int]] = field(default_factory=dict)  # stored path -> (sha256, bytes)
    archive_sha256: str = ""  # of the bytes the members were extracted from
    archive_bytes: int = 0


def _copy_stream(src: IO[bytes], dest: Path, expected: int, member: str) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with _writing(member):
        fd = os.open(dest, flags, 0o644)
    h = hashlib.sha256()
    total = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            total += len(chunk)
            if total > expected:
                raise ArchiveCorrupt(f"member {member} holds more bytes than its header says ({expected})")
            h.update(chunk)
            with _writing(member):
                out.write(chunk)
        with _writing(member):
            out.flush()
    if total != expected:
        raise ArchiveCorrupt(f"member {member} is truncated: {total} of {expected} bytes")
    return h.hexdigest(), total


def extract_archive(path: Path, dest: Path, *, max_bytes: int, max_members: int,
                    strip: tuple[str, ...] = (), progress=None, buffer: int = CHUNK) -> Extracted:
    """Check and extract the archive into the empty staging folder `dest`, in one pass.

    Every member is checked before it is written (and the limits as they accumulate), files
    are created with O_EXCL | O_NOFOLLOW and hashed while written, hard links become copies,
    symbolic links are created last. `Extracted.archive_sha256` is the digest of the bytes the
    members came from: compare it with the sidecar before using the folder. Raises
    ArchiveRefused / ArchiveCorrupt / ArchivePending; the caller removes `dest` then. A top
    folder named in `strip` that holds every member is dropped (`Extracted.root` points below it).
    """
    fmt = archive_format(path.name)
    if fmt is None:
        raise ArchiveRefused(f"{path.name}: not a .tar, .tar.gz, .tgz or .zip archive")
    with _errors(fmt):
        with _writing(dest.name):
            dest.mkdir(parents=True, exist_ok=True)
        check = _Checker(max_bytes=max_bytes, max_members=max_members)
        members: list[Member] = []
        digests: dict[str, tuple[str, int]] = {}

        def target(rel: str) -> Path:
            out = dest.joinpath(*rel.split("/"))
            with _writing(rel):
                out.parent.mkdir(parents=True, exist_ok=True)
            return out

        stage = dest.parent / f".{dest.name}.archive" if fmt == "zip" else None
        with _opened(path, fmt, buffer=buffer, stage=stage) as (source, items):
            for m, archive in items:
                if not check.add(m):
                    continue
                members.append(m)
                if m.kind == DIR:
                    with _writing(m.stored):
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
                        digests[m.stored] = _copy_stream(src, out, m.size, m.stored)
                    if m.mtime is not None:
                        with _writing(m.stored):
                            os.utime(out, (m.mtime, m.mtime))
                    if progress:
                        progress(m.size)
                elif m.kind == HARDLINK:  # an independent copy of an earlier file
                    with _writing(m.stored):
                        shutil.copyfile(dest.joinpath(*(m.link or "").split("/")), target(m.path))
            archive_sha256, archive_bytes = source.digest()
        if stage is not None:
            stage.unlink(missing_ok=True)
        prefix = _strip_prefix(members, strip)
        for m in members:  # links last: no file was ever written through one
            if m.kind == SYMLINK:
                link = target(m.path)
                with _writing(m.stored):
                    os.symlink(posixpath.relpath(m.link, posixpath.dirname(m.path) or "."), link)
    root = dest.joinpath(*prefix.split("/")) if prefix else dest
    return Extracted(fmt, _apply_strip(members, prefix), root=root, digests=digests,
                     archive_sha256=archive_sha256, archive_bytes=archive_bytes)
