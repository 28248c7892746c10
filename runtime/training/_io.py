"""Reading what the training checks rest on: validated documents and tables, file digests."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import (
    ContractError,
    InputError,
    get,
    hash_input,
    problems,
    read_json,
    table_problems,
)


def sha256_file(path: Path) -> str:
    """SHA-256 of a training input, streamed (a `hashed_file` input: no FIFO, no device)."""
    return hash_input(path, INPUT_HASHED_FILE)[0]


def load_document(path: Path, stem: str) -> dict[str, Any]:
    """A JSON document valid against contract `stem` (InputError naming the file and field otherwise)."""
    doc = read_json(path)
    bad = problems(doc, get(stem), file=str(path))
    if bad:
        raise InputError(f"{path}: not a valid {stem}: {bad[0].path}: {bad[0].message}")
    return doc


@functools.cache
def table_data(stem: str) -> dict[str, Any]:
    """A rule table's data, validated against its meta-schema once."""
    c = get(stem)
    bad = table_problems(c)
    if bad:
        raise ContractError(f"{stem}: {bad[0]}")
    return c.table_data()
