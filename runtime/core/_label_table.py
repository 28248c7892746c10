"""The label table (labels.v1) as a lookup: a label name or alias -> its row."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ._contracts import get


@dataclass(frozen=True)
class LabelTable:
    rows: dict[str, dict[str, Any]]

    @classmethod
    @functools.cache
    def load(cls) -> "LabelTable":
        rows: dict[str, dict[str, Any]] = {}
        for row in get("labels.v1").table_data()["labels"]:
            rows[row["name"]] = row
            for alias in row.get("aliases") or []:
                rows.setdefault(alias, row)
        return cls(rows)

    def row(self, label: str) -> dict[str, Any] | None:
        return self.rows.get(label)

    def canonical(self, label: str) -> str | None:
        row = self.rows.get(label)
        return row["name"] if row else None

    def category(self, label: str) -> str | None:
        row = self.rows.get(label)
        return row["category"] if row else None
