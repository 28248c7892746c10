"""One read of a document serves every check that reads it (issue 19: one parse per JSONL per run).

schema.conformance and labels.table both read each document; whichever runs first scans it,
and the scan keeps what both need, compactly: the validation result, the label verdicts
(`_label_uses.py`) and, for a JSONL file, its SHA-256 for the digest cache, taken in the same
read. A JSONL file is read by the validator's streaming fast path, which shows its chunks to a
tap: the tap hashes them and decodes only the keys label fields start from. When the fast path
stops early (an invalid or odd line, a limit) the tap has not seen the whole file and what it
gathered is dropped: the labels are then read on their own, and the file is hashed with the rest.
"""
from __future__ import annotations

import hashlib
import os
import queue
import threading
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


class _Hasher:
    """SHA-256 of a stream of chunks on a thread of its own: the reading thread hands each chunk
    over and goes on validating (hashlib releases the GIL, so the two run on both cores); at
    most DEPTH chunks wait, so memory stays flat."""

    DEPTH = 4

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(self.DEPTH)
        self._thread = threading.Thread(target=self._run, name="lume-sha256-scan", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._sha.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        """The digest of every chunk handed over (ends the thread; call once)."""
        self._chunks.put(None)
        self._thread.join()
        return self._sha.hexdigest()


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
    path = ctx.path(rel)
    try:
        size = os.stat(path).st_size
    except OSError:
        size = -1
    stamp = ctx.cache.claim(rel)  # None: hashed elsewhere (cached, done or in flight)
    sha = _Hasher() if stamp is not None else None
    labels = JsonlLabels(uses) if uses is not None else None
    seen = 0

    def tap(chunk: bytes) -> None:
        nonlocal seen
        seen += len(chunk)
        if sha is not None:
            sha.update(chunk)
        if labels is not None:
            labels(chunk)

    whole = False
    try:
        validation = _validation(ctx, rel, tap)
        whole = seen == size
    finally:  # a claimed file is always handed back: hashed with the rest when not read whole
        if sha is not None:
            digest = sha.hexdigest()
            ctx.cache.offer(rel, stamp, digest if whole else None)
    if uses is None:
        return Scan(validation)
    if whole and not labels.failed:
        return Scan(validation, uses.memo())
    uses = LabelUses(fields, LabelIndex.load())  # read on its own, with the reader's errors
    try:
        with paused_gc():
            for line, doc in iter_jsonl(path):
                uses.add(line, doc)
    except InputError as exc:
        return Scan(validation, None, exc)
    return Scan(validation, uses.memo())
