"""What the indexer reads besides archives, read safely: sidecars and transport manifests.

Each is refused unless it is a regular file (a FIFO would block, a device never ends, a folder
cannot be read: issue 18) and read with the byte limit storage_root.v1 declares for its kind.
Text may carry a UTF-8 byte-order mark or be UTF-16 (PowerShell writes both). Names and
reasons that reach a log line or a terminal are made printable first: a member name with a
newline or an ANSI escape can neither forge a log line nor move the cursor.
"""
from __future__ import annotations

import codecs
import functools
import os
import stat
from pathlib import Path

import orjson

from lume.runtime.core import printable, rule_data  # noqa: F401 - printable: used by the indexer and extractor


class NotRegular(Exception):
    """The input is a folder, FIFO, device or link, or missing: nothing was read from it."""


class TooLarge(Exception):
    """The input is larger than its declared limit: nothing past the limit was read."""


@functools.cache
def limits() -> dict[str, int]:
    """Byte limits of storage_root.v1 `limits`."""
    return dict(rule_data("storage_root.v1")["limits"])


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opened without blocking and without
    following a final symbolic link, so a FIFO or a link is reported, never waited on."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotRegular("missing") from None
    except OSError as exc:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            raise NotRegular(exc.strerror or str(exc)) from exc
        raise NotRegular(kind_of(mode)) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # a folder opens fine on POSIX: refuse it before reading
            raise NotRegular(kind_of(st.st_mode))
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            raise TooLarge(f"{st.st_size} bytes, more than the limit of {limit}")
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while read
        raise TooLarge(f"more than the limit of {limit} bytes")
    return data


def decode_text(data: bytes) -> str:
    """Text with a UTF-8 or UTF-16 byte-order mark, or plain UTF-8 (UnicodeDecodeError if not)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def read_json_limited(path: Path, limit: int) -> object:
    """A JSON document read as `read_limited` does (BOM / UTF-16 accepted); ValueError if not JSON."""
    data = read_limited(path, limit)
    try:
        return orjson.loads(decode_text(data) if data[:3] == codecs.BOM_UTF8 or data[:2] in (
            codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else data)
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc

