"""Open input files the one bounded way: regular files only, at most their kind's limit.

Every reader of an input file opens it here (`read_json`, `iter_jsonl` and the configuration
loader build on it): a FIFO, a device such as /dev/zero, a directory or a socket is refused
without blocking (the file is opened non-blocking and checked with fstat, so nothing can swap
it between the check and the read), and a file larger than its kind's `max_bytes`
(contracts/input_limits.v1.yaml) is refused before a byte is read, or when it grows past the
limit while being read. The refusal is one InputError naming the file, the limit and the
contract.
"""
from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO, Iterator

from ._strict_json import depth_of

LIMITS = "input_limits.v1"
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_BINARY", 0))
_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


class InputError(ValueError):
    """Bad input: unreadable or malformed file. The message names the file and line."""


class NotRegularFile(InputError):
    """The path is a FIFO, a device, a directory or a socket: never read, never replaced."""


@functools.cache
def _table() -> dict[str, Any]:
    """input_limits.v1's data, validated against its meta-schema by jsonschema-rs. Every small
    command reads this table: it is not worth importing pydantic for."""
    from ._contracts import ContractError, get
    from ._validate import one_line, table_problems

    c = get(LIMITS)
    found = table_problems(c)
    if found:
        raise ContractError(one_line(found))
    return c.table_data()


@functools.cache
def _limits() -> dict[str, Any]:
    """input_limits.v1's rows as read-only rows with every field the meta-schema declares (an
    absent one is None, as in the generated `Limit`)."""
    from ._contracts import get, meta_for

    fields = meta_for(get(LIMITS)).raw["$defs"]["Limit"]["properties"]
    return {kind: SimpleNamespace(**{f: row.get(f) for f in fields})
            for kind, row in _table()["kinds"].items()}


def settle_ns() -> int:
    """input_limits.v1's `unchanged_files.settle_ms`, in nanoseconds: what was read of a file
    that changed less than this before the read is not trusted later on an unchanged stamp."""
    rule = _table().get("unchanged_files")
    if rule is None:
        from ._contracts import ContractError

        raise ContractError(f"{LIMITS} states no unchanged_files.settle_ms: nothing remembered of a "
                            f"file can be trusted without it [{LIMITS}]")
    return rule["settle_ms"] * 1_000_000


def settled(st: os.stat_result, read_at_ns: int) -> bool:
    """Whether a file stat'ed (`st`) at `read_at_ns`, just before it was read, had been left
    unchanged for `settle_ns()` by then: only then may what was read of it be trusted later on
    an unchanged stamp (a change within the file system's timestamp granularity of the read
    can leave size, mtime, ctime and inode as they were; a file dated ahead never settles)."""
    return max(st.st_mtime_ns, st.st_ctime_ns) <= read_at_ns - settle_ns()


def input_limit(kind: str) -> Any:
    """The row of input_limits.v1 for one kind of input (`max_bytes`, `max_line_bytes`,
    `max_depth`); KeyError naming the contract for a kind it does not declare."""
    try:
        return _limits()[kind]
    except KeyError:
        raise KeyError(f"{kind!r} is not a kind of input in {LIMITS}") from None


def size_text(n: int) -> str:
    """1536 -> '1.5 KiB': sizes in messages, in the binary units the contract's comments use."""
    value, unit = float(n), "bytes"
    for next_unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    return f"{n} bytes" if unit == "bytes" else f"{value:.3g} {unit}"


def _what(mode: int) -> str:
    return next((name for test, name in _NOT_REGULAR if test(mode)), "not a plain file")


def _not_regular(path: Path | str, mode: int, kind: str) -> NotRegularFile:
    return NotRegularFile(f"{path}: not a regular file ({_what(mode)}); every {kind} input must "
                          f"be one [{LIMITS}]")


def too_large(path: Path | str, size: int, kind: str, limit: Any, where: str = "") -> InputError:
    return InputError(f"{path}{where}: {size_text(size)} or more, over the {size_text(limit.max_bytes)} "
                      f"limit for {kind} inputs [{LIMITS}]")


def open_input(path: Path | str, kind: str) -> BinaryIO:
    """`path` opened for buffered binary reading when it is a regular file within its kind's
    `max_bytes`; InputError otherwise. Never blocks (a FIFO without a writer is refused); a
    final symbolic link is refused, not followed, for a kind with `refuse_symlink`."""
    limit = input_limit(kind)
    if getattr(limit, "accept_fifo", None):
        fifo = _open_if_fifo(path)
        if fifo is not None:
            return fifo
    nofollow = getattr(os, "O_NOFOLLOW", 0) if limit.refuse_symlink else 0
    try:
        fd = os.open(path, _OPEN_FLAGS | nofollow)
    except OSError as exc:
        try:  # a socket cannot even be opened (nor a link with O_NOFOLLOW): still say what it is
            mode = (os.lstat if nofollow else os.stat)(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode, kind) from exc
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode, kind)
        if st.st_size > limit.max_bytes:
            raise too_large(path, st.st_size, kind, limit)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # a regular file: plain blocking reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_if_fifo(path: Path | str) -> BinaryIO | None:
    """A FIFO of a stream kind, opened blocking: it waits for its producer, as a reader of
    standard input does (a non-blocking reader would see end-of-file before the producer
    starts, or miss a producer that came and went). None when `path` is no FIFO. The opened
    file must be the pipe that was checked, so nothing swapped in between (a device) is read."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # the ordinary path says why
    if not stat.S_ISFIFO(st.st_mode):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    again = os.fstat(fd)
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISFIFO(again.st_mode):
        os.close(fd)
        raise InputError(f"{path}: replaced while it was opened [{LIMITS}]")
    return os.fdopen(fd, "rb")


CHUNK = 1 << 20  # 1 MiB reads into one reused buffer


def hash_input(path: Path | str, kind: str) -> tuple[str, int]:
    """(lower-case hex SHA-256, size) of a regular file of `kind`, streamed in 1 MiB reads
    (bounded memory whatever its size); InputError like `open_input`, or when it grows past
    `max_bytes` while hashed."""
    import hashlib  # not at import: `lume validate` never hashes

    limit = input_limit(kind)
    h, total = hashlib.sha256(), 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open_input(path, kind) as fh:
        try:
            while n := fh.readinto(buf):
                total += n
                if total > limit.max_bytes:
                    raise too_large(path, total, kind, limit)
                h.update(view[:n])
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return h.hexdigest(), total


def bounded_lines(fh: BinaryIO, where: str, kind: str, errors: list[str]) -> Iterator[bytes]:
    """The lines of a stream of `kind`, none held longer than its `max_line_bytes`: an over-long
    line is reported in `errors`, read past and yielded empty (line numbers stay right); the
    stream ends with a report when it passes `max_bytes`."""
    limit = input_limit(kind)
    max_line = limit.max_line_bytes or limit.max_bytes
    total = number = 0
    while raw := fh.readline(max_line + 2):  # room for CR LF
        number += 1
        total += len(raw)
        if len(raw.rstrip(b"\r\n")) > max_line:
            cut = not raw.endswith(b"\n")
            while cut and total <= limit.max_bytes and (rest := fh.readline(CHUNK)):
                total += len(rest)
                cut = not rest.endswith(b"\n")
            errors.append(f"{where}:{number}: a line over {size_text(max_line)}, the line limit for "
                          f"{kind} inputs [{LIMITS}]")
            raw = b""
        if total > limit.max_bytes:
            errors.append(f"{where}:{number}: {size_text(total)} or more, over the "
                          f"{size_text(limit.max_bytes)} limit for {kind} inputs [{LIMITS}]; "
                          f"the rest was not read")
            return
        yield raw


def read_input(path: Path | str, kind: str) -> bytes:
    """The bytes of a regular file of `kind`, at most its `max_bytes` (see `open_input`)."""
    limit = input_limit(kind)
    with open_input(path, kind) as fh:
        try:
            # Ask for the size the file has (not max_bytes: a 64 MiB buffer per small read), then
            # for the rest up to the limit should it have grown since (or be a pipe).
            expected = min(os.fstat(fh.fileno()).st_size, limit.max_bytes)
            data = fh.read(expected + 1)
            if len(data) > expected:
                data += fh.read(limit.max_bytes + 1 - len(data))
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit.max_bytes:  # it grew after the size check
        raise too_large(path, len(data), kind, limit)
    return data


def depth_over(raw: bytes, max_depth: int) -> bool:
    """Whether the valid JSON text `raw` nests arrays/objects deeper than `max_depth`.

    Counting brackets in the bytes is a C-speed pre-check: a text with no more than
    `max_depth` opening brackets cannot nest deeper; the others are measured on the text
    (`depth_of`: strings removed, brackets counted in C), never walked object by object.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    return depth_of(raw) > max_depth


def too_deep(path: Path | str, kind: str, max_depth: int, where: str = "") -> InputError:
    return InputError(f"{path}{where}: JSON nested deeper than {max_depth} levels, the limit for "
                      f"{kind} inputs [{LIMITS}]")
