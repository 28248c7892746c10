"""One read of a document serves every check that reads it (issue 19: one parse per JSONL per run).

schema.conformance and labels.table both read each document; whichever runs first scans it,
and the scan keeps what both need, compactly: the validation result and the label verdicts
(`_label_uses.py`). A JSONL file is read by the validator's streaming fast path, which shows its
chunks to a tap that decodes only the keys label fields start from. When the fast path stops
early (an invalid or odd line, a limit) the tap has not seen the whole file and what it gathered
is dropped: the labels are then read on their own.

The digest is not taken in this read: handing the chunks to a hashing thread cost more (queue,
thread, the validator waiting on it) than the prefetching threads' second read of the same bytes
from the page cache (benches/bench_verify_root.py; in-process A/B on the 1 h root: 2.52-2.88 s
with the hand-over, 2.49-2.52 s without).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from lume.runtime.core import (
    ContractError,
    InputError,
    LabelIndex,
    UnknownContract,
    Unreadable,
    iter_jsonl,
    paused_gc,
    validate_file,
)

from ._label_uses import JsonlLabels, LabelUses, fields_by_stem

if TYPE_CHECKING:
    from ._context import Context


@dataclass
class Scan:
    validation: dict[str, Any]  # schema.conformance's result for the file
    labels: dict[str, Any] | None = None  # LabelUses.memo(), when the document has label fields
    labels_error: InputError | None = None  # why the document could not be read for its labels


def _validation(ctx: "Context", rel: str, tap: Callable[[bytes], None] | None = None) -> dict[str, Any]:
    try:
        r = validate_file(ctx.path(rel), tap=tap)
    except Unreadable as exc:
        return {"error": "unreadable", "message": str(exc).replace(str(ctx.root) + "/", "")}
    except UnknownContract as exc:
        return {"error": "unknown_contract", "message": str(exc)}
    except ContractError as exc:
        return {"error": "contract", "message": str(exc)}
    return {"contract": r.contract, "documents": r.documents, "skipped": r.skipped,
            "problems": [{"line": p.line, "path": p.path, "message": p.message} for p in r.problems],
            "warnings": [{"line": w.line, "path": w.path, "message": w.message} for w in r.warnings]}


def _label_fields(ctx: "Context", rel: str) -> tuple[dict[str, Any], ...] | None:
    """The label fields of the document's contract (labels.table reads the documents
    `documents_of` gives it, so the contract is chosen the same way), or None."""
    try:
        contract = ctx.contract_of(rel)
    except (InputError, ContractError):
        return None
    return None if contract is None else fields_by_stem().get(contract.stem)


def scan(ctx: "Context", rel: str) -> Scan:
    fields = _label_fields(ctx, rel)
    uses = LabelUses(fields, LabelIndex.load()) if fields else None
    if not rel.endswith(".jsonl"):
        validation = _validation(ctx, rel)
        if uses is None:
            return Scan(validation)
        try:
            uses.add(None, ctx.json(rel))
        except InputError as exc:
            return Scan(validation, None, exc)
        return Scan(validation, uses.memo())
    if uses is None:
        return Scan(_validation(ctx, rel))
    path = ctx.path(rel)
    try:
        size = os.stat(path).st_size
    except OSError:
        size = -1
    labels = JsonlLabels(uses)
    seen = 0

    def tap(chunk: bytes) -> None:
        nonlocal seen
        seen += len(chunk)
        labels(chunk)

    validation = _validation(ctx, rel, tap)
    if seen == size and not labels.failed:
        return Scan(validation, uses.memo())
    uses = LabelUses(fields, LabelIndex.load())  # read on its own, with the reader's errors
    try:
        with paused_gc():
            for line, doc in iter_jsonl(path):
                uses.add(line, doc)
    except InputError as exc:
        return Scan(validation, None, exc)
    return Scan(validation, uses.memo())
