"""Atomic writes: temp file in the same folder, fsync, rename. Readers never see half a file.

The only place that writes files durably: `write_bytes` (replace), `write_below` (replace, in
a folder others may write: no symbolic link under it is followed), `write_stream` (replace,
from pieces never joined in memory), `publish_once` (create, never replace), `Staged` (write
aside, check, then commit or drop), `write_durable` (a file of a folder that is itself staged
and renamed into place as a whole) and `write_group` (a group commit: several files of one
folder, one fsync for the lot).

Files get the mode an ordinary `open()` would give them (0666 minus the umask), not the 0600 of
the temporary file they start as; only secrets ask for `mode=SECRET` (0600).
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Sequence

from ._files import CHUNK
from ._json_bytes import json_bytes

SECRET = 0o600  # private keys: readable by their owner only, whatever the umask


@functools.cache
def _umask() -> int:
    """The process umask (read once: reading it means setting it, which is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode() -> int:
    """The mode `open(path, "w")` creates files with: 0666 minus the umask."""
    return 0o666 & ~_umask()


def write_durable(path: Path, data: bytes) -> None:
    """Write `data` to a new file and fsync it (no rename: for files of a staged folder)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _aside(path: Path, data: bytes, mode: int | None = None) -> Path:
    """`data` in a durable temp file beside `path` (same folder, so a rename is atomic), with
    `mode` (default: what the umask gives a new file; mkstemp alone would leave it 0600)."""
    return _aside_pieces(path, (data,), mode)


def _aside_pieces(path: Path, pieces: Iterable[bytes], mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; Windows files have no such mode bits
            os.fchmod(fd, default_mode() if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            for piece in pieces:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


class Staged:
    """`data` written aside `path`: read or check `.path`, then `commit()` (atomic replace) or
    leave the block (the temp file is removed). Use as a context manager."""

    def __init__(self, path: Path, data: bytes, *, mode: int | None = None) -> None:
        self.target = Path(path)
        self.path = _aside(self.target, data, mode)

    def commit(self) -> None:
        os.replace(self.path, self.target)

    def __enter__(self) -> "Staged":
        return self

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC  # a FIFO there never blocks the open


def _holds(path: Path | str, data: bytes, *, dir_fd: int | None = None, flags: int = 0) -> bool:
    """Whether `path` is a regular file holding exactly `data`, read a piece at a time (a large
    cache or report is not read whole beside its new bytes). The file is opened without
    blocking and checked once open, so a FIFO or device there (even one swapped in) is never
    read; anything unreadable counts as different."""
    try:
        fd = os.open(path, _READ | flags, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
                return False
            view, at = memoryview(data), 0
            while piece := fh.read(CHUNK):
                if view[at:at + len(piece)] != piece:
                    return False
                at += len(piece)
        return at == len(data)
    except OSError:
        return False


def write_bytes(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically. Returns False (and writes nothing) when unchanged."""
    path = Path(path)
    if _holds(path, data):
        return False
    with Staged(path, data) as staged:
        staged.commit()
    return True


# Opening, creating and renaming relative to an open folder: POSIX (Linux, macOS), not Windows.
# (`supports_dir_fd` lists os.rename for os.replace, which takes the same dir_fd arguments.)
_RELATIVE = bool(_NOFOLLOW and getattr(os, "O_DIRECTORY", 0)) and {
    os.open, os.mkdir, os.rename, os.unlink} <= os.supports_dir_fd


def _folder_below(root: Path, names: Sequence[str]) -> int:
    """An open descriptor of `root/names...`, each name created if missing and opened without
    following a symbolic link (ELOOP or ENOTDIR when one is not a real folder). `root` itself is
    configured by the user and followed."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        for name in names:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_below(root: Path, rel: str, data: bytes) -> bool:
    """Write `data` atomically to `root/rel`, where others may write under `root` (a shared cache
    folder): each folder of `rel` is opened without following a symbolic link and the file is
    created and renamed relative to it, so no folder swapped for a link can send these bytes
    anywhere else (OSError instead). Returns False (and writes nothing) when unchanged. `rel`
    is a relative POSIX path that never leaves `root` (ValueError otherwise). Without relative
    opening (Windows) it is `write_bytes`."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ValueError(f"write_below: {rel!r} is not a path inside {root}")
    root = Path(root)
    if not _RELATIVE:
        return write_bytes(root.joinpath(*parts), data)
    root.mkdir(parents=True, exist_ok=True)
    fd = _folder_below(root, parts[:-1])
    name = parts[-1]
    try:
        if _holds(name, data, dir_fd=fd, flags=_NOFOLLOW):
            return False
        tmp = f".{name}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        out = os.open(tmp, flags, default_mode(), dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            # a link in `name`'s place is replaced, never followed
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise
    finally:
        os.close(fd)
    return True


def write_stream(path: Path, pieces: Iterable[bytes]) -> None:
    """Write the concatenation of `pieces` to `path` atomically, one piece in memory at a time
    (a readiness report of a large root is tens of MB: never held twice to be written)."""
    path = Path(path)
    os.replace(_aside_pieces(path, pieces), path)


def write_group(items: Sequence[tuple[Path, bytes]]) -> None:
    """Group commit of files in one folder: each is written to a temp file and renamed into
    place (readers never see half a file), then the LAST file and the folder are fsynced once.
    When this returns the last file is durable; the earlier ones were written in the same pass
    without an fsync of their own (after a power cut one of them may be missing or short, so
    their readers must skip what does not parse). A kill of the process loses none of them.
    On an error the files already renamed stay; the caller decides what they mean."""
    if not items:
        return
    folder = Path(items[0][0]).parent
    folder.mkdir(parents=True, exist_ok=True)
    last = len(items) - 1
    for i, (path, data) in enumerate(items):
        if i == last:
            tmp = _aside(Path(path), data)  # fsynced
        else:
            fd, name = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".tmp", dir=folder)
            tmp = Path(name)
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, default_mode())
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def publish_once(path: Path, data: bytes, *, mode: int | None = None) -> bool:
    """Write `data` to `path` only if it does not exist yet (temp file + hard link, race-free).
    Returns False when the file already existed (it is left as it was). `mode=SECRET` for keys."""
    tmp = _aside(Path(path), data, mode)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> bool:
    return write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """The one JSON rendering used for every file LUME writes (stable, readable)."""
    return json_bytes(obj, sort_keys=False, indent=True).decode("utf-8") + "\n"


def write_json(path: Path, obj: Any) -> bool:
    return write_bytes(path, json_bytes(obj, sort_keys=False, indent=True) + b"\n")


def write_jsonl(path: Path, records: Iterable[Any]) -> bool:
    lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    return write_text(path, lines)
