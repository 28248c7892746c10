"""Read JSON and JSONL with errors that name the file and the line.

`read_json` and `iter_jsonl` are the only places that open JSON input files (documents, JSONL
streams, the machine configuration, the trust file): file-type checks and size limits belong
here. `iter_records` (records.py) adds validation against a contract on top of `iter_jsonl`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import orjson


class InputError(ValueError):
    """Bad input: unreadable or malformed file. The message names the file and line."""


def read_json(path: Path) -> Any:
    """The parsed JSON document at `path`; InputError naming the file."""
    try:
        return orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from exc


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, object) for every non-blank line."""
    try:
        fh = Path(path).open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON: {exc}") from exc
