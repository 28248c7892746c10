"""What the indexer reads besides archives, read safely: sidecars and transport manifests.

Each is read through core's one bounded reader (`read_input`) with its one row of
input_limits.v1 (`checksum_sidecar`, `transport_manifest`): a folder, FIFO, device, socket or
final symbolic link is refused without blocking (issue 18), and nothing past the row's
`max_bytes` is read. Text may carry a UTF-8 byte-order mark or be UTF-16 (PowerShell writes
both). Names and reasons that reach a log line or a terminal are made printable first: a member
name with a newline or an ANSI escape can neither forge a log line nor move the cursor.
"""
from __future__ import annotations

import codecs
import functools
import stat
from pathlib import Path

from lume.runtime.core import (
    InputError,
    input_limit,
    loads_bounded,
    read_input,
    rule_data,
)

STORAGE_ROOT = "storage_root.v2"


class InputRefused(Exception):
    """The input was not read: not a regular file, unreadable, or over its kind's limit. The
    message says why, names the limit and input_limits.v1, but not the path (the caller names
    the file the way its report does)."""


@functools.cache
def stream_buffer_bytes() -> int:
    """The compressed read buffer of a streamed tar member (storage_root `limits`)."""
    return int(rule_data(STORAGE_ROOT)["limits"]["archive_stream_buffer_bytes"])


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def read_limited(path: Path, kind: str) -> bytes:
    """The bytes of the regular file at `path`, within input_limits.v1's row for `kind`;
    InputRefused otherwise (never blocks on a FIFO, never follows a final link)."""
    try:
        return read_input(path, kind)
    except InputError as exc:
        raise InputRefused(str(exc).removeprefix(f"{path}: ")) from exc


def decode_text(data: bytes) -> str:
    """Text with a UTF-8 or UTF-16 byte-order mark, or plain UTF-8 (UnicodeDecodeError if not)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def read_json_limited(path: Path, kind: str) -> object:
    """A JSON document read as `read_limited` does (BOM / UTF-16 accepted), at most the row's
    `max_depth` deep; ValueError if it is not such JSON."""
    data = read_limited(path, kind)
    try:
        if data[:3] == codecs.BOM_UTF8 or data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            data = decode_text(data).encode()
        return loads_bounded(data, input_limit(kind).max_depth, file="", kind=kind)
    except InputError as exc:
        raise ValueError(str(exc).removeprefix(": ")) from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc
