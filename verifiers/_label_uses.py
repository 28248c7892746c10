"""The labels one document uses at the label fields labels.v1 lists, gathered as it is read.

labels.table needs of a document only its verdicts, so they are taken while the bytes go by
and kept aggregated (flat memory however many records use a label): the number of uses, each
use recorded with another category than the table's (a violation row each), and per unknown
value its number of uses and its first places. A JSONL file is read in the schema pass
(`_scan.py`): its records are decoded here keeping only the keys a label field starts from
(msgspec skips the rest in C), so no record is parsed into a Python dict twice.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterator

import msgspec
import orjson

from lume.runtime.core import ContractError, LabelIndex, get, rule_data

TABLE = "labels.v1"
PLACES = 10  # places listed per unknown label (the rest are counted)
_TOKEN = re.compile(r"([A-Za-z0-9_]+)(\[\*\])?")

Tokens = tuple[tuple[str, bool], ...]


def table_data() -> dict[str, Any]:
    return rule_data(TABLE)


def tokens_of(path: str) -> Tokens:
    return tuple((m.group(1), bool(m.group(2))) for m in _TOKEN.finditer(path))


def values(node: Any, tokens: Tokens, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(JSON path, value, parent object) for every value a label-field path selects."""
    if not tokens:
        return
    (name, each), rest = tokens[0], tokens[1:]
    if not isinstance(node, dict) or name not in node:
        return
    child = node[name]
    items = list(enumerate(child)) if each and isinstance(child, list) else [(None, child)]
    for i, item in items:
        here = f"{path}.{name}" + (f"[{i}]" if i is not None else "")
        if rest:
            yield from values(item, rest, here)
        else:
            yield here, item, node


@functools.cache
def fields_by_stem() -> dict[str, tuple[dict[str, Any], ...]]:
    """The label fields of labels.v1 by the stem of the contract they are in (unknown
    contracts left out: labels.table reports those)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for f in table_data().get("label_fields", []):
        try:
            out.setdefault(get(f["contract"]).stem, []).append(f)
        except ContractError:
            continue
    return {stem: tuple(fs) for stem, fs in out.items()}


def _place(line: int | None, where: str) -> str:
    return f"line {line}: {where}" if line else where


class LabelUses:
    """The label uses of one document, classified against the table as they are added."""

    def __init__(self, fields: tuple[dict[str, Any], ...], index: LabelIndex):
        self.paths = [(tokens_of(f["path"]), f.get("category")) for f in fields]
        self.index = index
        self.used = 0
        self.mismatched: list[list[Any]] = []  # [place, label, table's category, recorded category]
        self.unknown: dict[Any, list[Any]] = {}  # label -> [uses, first places]

    def add(self, line: int | None, doc: Any) -> None:
        """Every label field of one record (line None for a JSON document)."""
        for tokens, category_field in self.paths:
            for where, value, parent in values(doc, tokens, "$"):
                recorded = category_field and isinstance(parent, dict)
                self.use(line, where, value, parent.get(category_field) if recorded else None)

    def use(self, line: int | None, where: str, value: Any, category: Any) -> None:
        """One value at one place (None is no use), with the category recorded beside it."""
        if value is None:
            return
        self.used += 1
        row = self.index.row(value) if isinstance(value, str) else None
        if row is None:
            seen = self.unknown.setdefault(value, [0, []])
            seen[0] += 1
            if len(seen[1]) < PLACES:
                seen[1].append(_place(line, where))
        elif category is not None and category != row["category"]:
            self.mismatched.append([_place(line, where), value, row["category"], category])

    def memo(self) -> dict[str, Any]:
        """The verdicts as plain JSON (the quick-mode cache keeps them)."""
        return {"used": self.used, "mismatched": self.mismatched,
                "unknown": [[value, n, places] for value, (n, places) in self.unknown.items()]}


class JsonlLabels:
    """Feeds the records of JSONL chunks (each ending at a line end, as the schema pass reads
    them) to a LabelUses, numbering lines as `iter_jsonl` does. `failed` is set when a line
    is not JSON: the caller then reads the file on its own, and gets the reader's error."""

    def __init__(self, uses: LabelUses):
        self.uses = uses
        self.line = 0  # lines before the current chunk
        self.failed = False
        top = sorted({tokens[0][0] for tokens, _ in uses.paths if tokens}
                     | {cat for tokens, cat in uses.paths if cat and len(tokens) == 1})
        self.keys = top
        pruned = msgspec.defstruct("LabelKeys", [(k, Any, msgspec.UNSET) for k in top])
        self.decoder = msgspec.json.Decoder(pruned) if all(k.isidentifier() for k in top) else None
        # every label field a top-level key (the usual JSONL record): read straight off the record
        simple = [(tokens[0][0], f"$.{tokens[0][0]}", cat) for tokens, cat in uses.paths]
        self.simple = simple if all(len(t) == 1 and not t[0][1] for t, _ in uses.paths) else None

    def __call__(self, chunk: bytes) -> None:
        if self.failed:
            return
        lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
        records = None
        if self.decoder is not None:
            try:
                records = self.decoder.decode_lines(chunk)
            except (msgspec.ValidationError, msgspec.DecodeError):
                records = None
        if records is not None and len(records) == lines:  # no blank line: line numbers follow
            unset, use = msgspec.UNSET, self.uses.use
            if self.simple is not None:  # top-level fields: no document rebuilt per record
                for i, r in enumerate(records, self.line + 1):
                    for name, where, category_field in self.simple:
                        value = getattr(r, name)
                        if value is not unset and value is not None:
                            category = getattr(r, category_field) if category_field else None
                            use(i, where, value, None if category is unset else category)
            else:
                keys, add = self.keys, self.uses.add
                for i, r in enumerate(records, self.line + 1):
                    add(i, {k: v for k in keys if (v := getattr(r, k)) is not unset})
        else:  # blank lines, or records that are not objects: line by line, as iter_jsonl reads
            for i, raw in enumerate(chunk.split(b"\n")[:lines], self.line + 1):
                body = raw[:-1] if raw.endswith(b"\r") else raw
                if not body.strip():
                    continue
                try:
                    doc = orjson.loads(body)
                except orjson.JSONDecodeError:
                    self.failed = True
                    return
                self.uses.add(i, doc)
        self.line += lines
