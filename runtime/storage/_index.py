"""The K11 storage index: `index.json` (the current verdicts) and `index.jsonl` (their history).

`index.json` (lume.storage_index.v1) holds one entry per archive seen in `_incoming`, sorted
by name, with counts per status. `index.jsonl` (storage_index_record.v1) gains one record each
time an archive's verdict changes, so its last record per archive equals the index.json entry.
Both are written atomically and only when their content changes: a rerun over an unchanged
root rewrites nothing.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from lume.generated.constants import STORAGE_INDEX_FILE, STORAGE_INDEX_MACHINE, STORAGE_INDEX_RECORDS_FILE
from lume.runtime.core import InputError, dumps, get, problems, read_json, read_records, write_bytes

STATUSES = ("indexed", "refused", "corrupt", "missing_checksum", "pending")
# an entry's verdict without the time it was written (what "changed" compares)
_VOLATILE = ("indexed_at_unix",)


def same_verdict(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return ({k: v for k, v in a.items() if k not in _VOLATILE}
            == {k: v for k, v in b.items() if k not in _VOLATILE})


def load_index(root: Path) -> dict[str, Any] | None:
    """The current index.json, validated; None when there is none yet."""
    path = root / STORAGE_INDEX_FILE
    if not path.exists():
        return None
    doc = read_json(path)
    found = problems(doc, get("storage_index.v1"), file=str(path))
    if found:
        raise InputError("; ".join(str(p) for p in found[:5]))
    return doc


def load_history(root: Path) -> list[dict[str, Any]]:
    path = root / STORAGE_INDEX_RECORDS_FILE
    if not path.exists():
        return []
    return read_records(path, "storage_index_record.v1")


def counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    by = Counter(e["status"] for e in entries)
    return {"total": len(entries), **{s: by.get(s, 0) for s in STATUSES}}


def write_index(root: Path, root_name: str, entries: list[dict[str, Any]],
                previous: dict[str, Any] | None, history: list[dict[str, Any]],
                changed: list[dict[str, Any]], now: float) -> list[Path]:
    """Write index.json / index.jsonl when something changed; returns the files written."""
    entries = sorted(entries, key=lambda e: e["archive_name"])
    doc = {
        "schema": "lume.storage_index.v1",
        "root": root_name,
        "machine": STORAGE_INDEX_MACHINE,
        "updated_at_unix": now,
        "entries": entries,
        "counts": counts(entries),
    }
    if previous is not None and all(previous.get(k) == doc[k] for k in ("root", "machine", "entries", "counts")):
        doc["updated_at_unix"] = previous["updated_at_unix"]
    found = problems(doc, get("storage_index.v1"), file=str(root / STORAGE_INDEX_FILE))
    if found:  # a bug of ours, never the user's input: refuse to write a bad index
        raise AssertionError("; ".join(str(p) for p in found[:5]))
    written = []
    records = history + sorted(changed, key=lambda e: e["archive_name"])
    jsonl = b"".join(orjson.dumps(r) + b"\n" for r in records)
    if write_bytes(root / STORAGE_INDEX_RECORDS_FILE, jsonl):
        written.append(root / STORAGE_INDEX_RECORDS_FILE)
    if write_bytes(root / STORAGE_INDEX_FILE, dumps(doc).encode()):
        written.append(root / STORAGE_INDEX_FILE)
    return written
