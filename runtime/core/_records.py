"""Validated JSONL: the one reader that parses each record and validates it against its contract.

Every component that reads a JSONL input file (label markers, training records, observations,
gesture events, BodyTruth frames, index records, worker output) reads it here, so a bad line
is always one InputError in one wording, `FILE:LINE: $.path: message [contract] (and N more)`,
and file checks added to `iter_jsonl` reach every reader.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from ._contracts import Contract, get
from ._jsonl import InputError, iter_jsonl
from ._validate import Problem, grouped, one_line, problems, tolerated


def _contract(contract: str | Contract) -> Contract:
    return contract if isinstance(contract, Contract) else get(contract)


def validated(record: Any, contract: str | Contract, *, file: str = "<memory>",
              line: int | None = None) -> Any:
    """`record` when it satisfies `contract`, else InputError naming file, line, field, contract."""
    found = problems(record, _contract(contract), file=file, line=line)
    if found:
        raise InputError(one_line(found))
    return record


def iter_records(path: Path, contract: str | Contract) -> Iterator[tuple[int, Any]]:
    """(line number, record) of every record of a JSONL file, each validated against `contract`."""
    c = _contract(contract)
    for line, record in iter_jsonl(path):
        yield line, validated(record, c, file=str(path), line=line)


def scan_records(lines: Iterable[bytes], contract: str | Contract | Callable[[Any], str], *,
                 file: str, errors: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, record) of every valid record of a JSONL stream that goes on past bad
    lines (a live stream, a report of every problem): each line that is not JSON or breaks its
    contract adds one message to `errors` instead. `contract` may pick the contract per record."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            errors.append(f"{file}:{number}: not valid JSON: {exc}")
            continue
        chosen = contract(record) if callable(contract) else contract
        try:
            yield number, validated(record, chosen, file=file, line=number)
        except InputError as exc:
            errors.append(str(exc))


def read_records(path: Path, contract: str | Contract, *, notes: list[Problem] | None = None) -> list[Any]:
    """Every record of a JSONL file, validated against `contract`. With `notes`, the unknown keys
    of a tolerant contract's records are added to it (one per key and place, tolerant.py)."""
    c = _contract(contract)
    records = []
    found: list[Problem] = []
    for line, record in iter_records(path, c):
        records.append(record)
        if notes is not None:
            found += tolerated(record, c, file=str(path), line=line)
    if notes is not None:
        notes += grouped(found)
    return records
