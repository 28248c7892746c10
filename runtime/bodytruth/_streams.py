"""Read recorded BodyTruth input files: observation and gesture JSONL, checked line by line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lume.runtime import core as contracts
from lume.runtime.core import InputError, iter_jsonl

from ._inputs import GESTURE_CONTRACT, OBSERVATION_CONTRACT, InputRejected, check


def _kind(path: Path, first: Any) -> str:
    """Which input contract a file holds: from its name (`*.obs.jsonl`, `*.gestures.jsonl`) or
    its first record's shape."""
    try:
        c = contracts.contract_for(first, path)
    except contracts.ContractError:
        c = None
    if c is not None and c.stem in (OBSERVATION_CONTRACT, GESTURE_CONTRACT):
        return c.stem
    if isinstance(first, dict) and "label" in first:
        return GESTURE_CONTRACT
    if isinstance(first, dict) and "source" in first:
        return OBSERVATION_CONTRACT
    raise InputError(f"{path}:1: neither a {OBSERVATION_CONTRACT} nor a {GESTURE_CONTRACT} record")


def read_stream(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(contract stem, validated records) of one JSONL file (a bounded `jsonl_stream` input);
    InputError names file:line:field and the contract."""
    path = Path(path)
    lines = list(iter_jsonl(path))
    if not lines:
        return OBSERVATION_CONTRACT, []
    stem = _kind(path, lines[0][1])
    records = []
    for number, obj in lines:
        try:  # the contract, and what fusion needs beyond it (finite numbers, sane capture times)
            records.append(check(obj, stem, file=str(path), line=number))
        except InputRejected as exc:
            raise InputError(contracts.one_line(exc.problems)) from None
    return stem, records


def read_streams(paths: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(observations, gestures) of several files, each file classified on its own."""
    observations: list[dict[str, Any]] = []
    gestures: list[dict[str, Any]] = []
    for p in paths:
        stem, records = read_stream(p)
        (gestures if stem == GESTURE_CONTRACT else observations).extend(records)
    return observations, gestures
