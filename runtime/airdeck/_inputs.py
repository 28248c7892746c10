"""Reading the gate's inputs: JSONL streams validated line by line, and the machine config.

Every record is validated against its contract with jsonschema-rs before the gate sees it;
a bad line is an InputError naming the file, the line, the field and the contract.
"""
from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Iterator

import orjson

from lume.runtime.core import InputError, get, iter_jsonl, problems, read_json

GESTURE = "gesture_event.v1"
FRAME = "body_truth.v0"
OBSERVATION = "body_observation.v1"
CONFIG = "machine_config.v1"
CONFIG_ENV = "LUME_CONFIG"


def check(record: Any, stem: str, *, file: str, line: int | None) -> dict[str, Any]:
    found = problems(record, get(stem), file=file, line=line)
    if found:
        raise InputError(str(found[0]) + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""))
    return record


def read_records(path: Path, stem: str) -> list[dict[str, Any]]:
    """Every record of a JSONL file, validated against `stem`."""
    return [check(obj, stem, file=str(path), line=n) for n, obj in iter_jsonl(path)]


def stream_kind(record: Any, default: str) -> str:
    """A mixed live stream holds BodyTruth frames (type lume_body_truth) and `default` records."""
    return FRAME if isinstance(record, dict) and record.get("type") == "lume_body_truth" else default


def iter_stream(fh: IO[bytes], where: str, default: str,
                errors: list[str]) -> Iterator[dict[str, Any]]:
    """Validated records of a live JSONL stream; a bad line is reported in `errors` and skipped."""
    for n, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            errors.append(f"{where}:{n}: not valid JSON: {exc}")
            continue
        try:
            yield check(obj, stream_kind(obj, default), file=where, line=n)
        except InputError as exc:
            errors.append(str(exc))


def load_config(path: Path | None) -> dict[str, Any] | None:
    """The machine config (machine_config.v1): `path`, else LUME_CONFIG, else none."""
    if path is None:
        from lume.runtime.core import load_config as configured

        return configured()
    return check(read_json(path), CONFIG, file=str(path), line=None)
