"""Read JSON and JSONL with errors that name the file and the line.

`read_json` and `iter_jsonl` are the only places that parse JSON input files (documents, JSONL
streams, the machine configuration, the trust file). Both open the file through `open_input`
(files.py): regular files only, within the limits input_limits.v1 declares for the kind of
input (`max_bytes`, `max_line_bytes`, `max_depth`). `iter_records` (records.py) adds
validation against a contract on top of `iter_jsonl`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import orjson

from lume.generated.constants import INPUT_JSON_DOCUMENT, INPUT_JSONL_STREAM

from ._files import (
    LIMITS,
    InputError,
    depth_over,
    input_limit,
    open_input,
    read_input,
    size_text,
    too_deep,
    too_large,
)

__all__ = ["InputError", "iter_jsonl", "line_slices", "read_json"]

SLICE = 1 << 16  # bulk records are decoded ~64 KiB at a time: one slice's records stay in cache


def line_slices(data: bytes, end_all: int | None = None, size: int = SLICE) -> Iterator[memoryview]:
    """`data[:end_all]` (all of it by default) as views of about `size` bytes that each end at a
    line end (the last one at `end_all`), without copying."""
    view = memoryview(data)
    start, end_all = 0, len(data) if end_all is None else end_all
    while start < end_all:
        end = data.find(b"\n", min(start + size, end_all), end_all)
        end = end_all if end < 0 else end + 1
        yield view[start:end]
        start = end


def loads_bounded(raw: bytes, max_depth: int | None, *, file: str = "<memory>",
                  kind: str = INPUT_JSON_DOCUMENT, where: str = "") -> Any:
    """Parse JSON bytes, refusing invalid JSON and nesting deeper than `max_depth`."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{file}{where}: not valid JSON: {exc}") from exc
    if max_depth is not None and depth_over(raw, max_depth):
        raise too_deep(file, kind, max_depth, where)
    return value


def read_json(path: Path, kind: str = INPUT_JSON_DOCUMENT) -> Any:
    """The parsed JSON document at `path`, a regular file within `kind`'s limits; InputError
    naming the file otherwise."""
    data = read_input(path, kind)
    return loads_bounded(data, input_limit(kind).max_depth, file=str(path), kind=kind)


def iter_jsonl(path: Path, kind: str = INPUT_JSONL_STREAM) -> Iterator[tuple[int, Any]]:
    """Yield (line number, object) for every non-blank line of a regular file within `kind`'s
    limits: a line longer than `max_line_bytes`, or the file growing past `max_bytes` while it
    is read, is an InputError naming the line."""
    limit = input_limit(kind)
    max_line = limit.max_line_bytes or limit.max_bytes
    with open_input(path, kind) as fh:
        total = number = 0
        while True:
            raw = fh.readline(max_line + 2)  # room for CR LF; a longer line is cut, never held whole
            if not raw:
                return
            number += 1
            total += len(raw)
            if total > limit.max_bytes:
                raise too_large(path, total, kind, limit, f":{number}")
            body = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
            if len(body) > max_line:
                raise InputError(f"{path}:{number}: a line over {size_text(max_line)}, the line "
                                 f"limit for {kind} inputs [{LIMITS}]")
            if not body.strip():
                continue
            yield number, loads_bounded(body, limit.max_depth, file=str(path), kind=kind,
                                        where=f":{number}")
