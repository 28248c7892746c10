"""Label alignment over the canonical label table (labels.v1, seed 000 Wave 4).

Every Mac4 marker, Pose Coach and AirDeck label maps to one row: its canonical name, unified
category, lane, the command it stands for (a gesture row resolves through the command label
it names) and the label the AirDeck gate dispatches on. An unknown label is an error that
names the closest known spellings (difflib), never a silent pass.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from ._contracts import get
from ._models import table

TABLE = "labels.v1"


class UnknownLabel(ValueError):
    """A label that is neither a name nor an alias of labels.v1; `suggestions` are the closest."""

    def __init__(self, label: str, suggestions: list[str], where: str | None = None) -> None:
        self.label = label
        self.suggestions = suggestions
        self.where = where
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}label {label!r} is not in {TABLE}{hint}")


@dataclass(frozen=True)
class LabelMapping:
    """One label aligned into the unified vocabulary."""

    label: str  # as given
    canonical: str
    via: str  # "name" or "alias"
    origin: str
    category: str
    lane: str
    may_command: bool
    promotion_status: str
    allows_live_command: bool
    command: str | None  # the command label it stands for (gesture rows: their target)
    deck: int | None
    action: str | None
    destructive: bool
    dispatch_label: str | None  # what the AirDeck gate dispatches on (command lane only)
    aliases: tuple[str, ...]
    description: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d


class LabelIndex:
    """The label table as a lookup. `LabelIndex.load()` reads (and validates) labels.v1 once."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.rows: dict[str, dict[str, Any]] = {r["name"]: r for r in data["labels"]}
        self.aliases: dict[str, str] = {a: r["name"] for r in data["labels"] for a in r["aliases"]}
        self.lanes: dict[str, dict[str, Any]] = {lane["name"]: lane for lane in data["lanes"]}
        self.statuses = {s["name"]: s for s in data["promotion_statuses"]}
        self.categories = {c["name"]: c for c in data["categories"]}
        # a command label that a gesture row maps to is dispatched under that gesture's name
        self._gesture_of = {r["gesture"]: r["name"] for r in data["labels"] if r["gesture"]}

    @classmethod
    @functools.cache
    def load(cls) -> "LabelIndex":
        table(TABLE)  # validates the table against its meta-schema
        return cls(get(TABLE).table_data())

    # ---- lookups --------------------------------------------------------------------------
    def canonical(self, label: str) -> str | None:
        return label if label in self.rows else self.aliases.get(label)

    def suggestions(self, label: str, n: int = 3) -> list[str]:
        """Closest known names and aliases (difflib's default similarity cutoff)."""
        known = sorted(set(self.rows) | set(self.aliases))
        return difflib.get_close_matches(label, known, n=n)

    def require(self, label: str, where: str | None = None) -> str:
        """The canonical name, or UnknownLabel with suggestions."""
        name = self.canonical(label)
        if name is None:
            raise UnknownLabel(label, self.suggestions(label), where)
        return name

    def map(self, label: str, where: str | None = None) -> LabelMapping:
        name = self.require(label, where)
        row = self.rows[name]
        target = self.rows.get(row["gesture"]) if row["gesture"] else row
        spec = target["command"] if target else None
        lane = self.lanes[row["lane"]]
        return LabelMapping(
            label=label, canonical=name, via="name" if label == name else "alias",
            origin=row["origin"], category=row["category"], lane=row["lane"],
            may_command=bool(lane["may_command"]), promotion_status=row["promotion_status"],
            allows_live_command=bool(self.statuses[row["promotion_status"]]["allows_live_command"]),
            command=target["name"] if spec else None,
            deck=spec["deck"] if spec else None, action=spec["action"] if spec else None,
            destructive=bool(row["destructive"]),
            dispatch_label=self.dispatch_label(name),
            aliases=tuple(row["aliases"]), description=" ".join(row["description"].split()))

    def map_all(self, labels: Iterable[str]) -> tuple[list[LabelMapping], list[UnknownLabel]]:
        """Map several labels; unknown ones are collected instead of raised."""
        found, unknown = [], []
        for label in labels:
            try:
                found.append(self.map(label))
            except UnknownLabel as exc:
                unknown.append(exc)
        return found, unknown

    def show(self, lane: str | None = None) -> list[LabelMapping]:
        """Every row (optionally of one lane), in table order."""
        if lane is not None and lane not in self.lanes:
            raise ValueError(f"lane {lane!r} is not a lane of {TABLE} "
                             f"({', '.join(self.lanes)})")
        return [self.map(name) for name, row in self.rows.items()
                if lane is None or row["lane"] == lane]

    def dispatch_label(self, name: str) -> str | None:
        """The label the AirDeck gate dispatches for a command-lane label, else None.

        A gesture row is itself; a command label that a gesture row maps to is that gesture
        (d1_play_pause -> left_hand_raise); any other command label is itself.
        """
        row = self.rows[name]
        if not self.lanes[row["lane"]]["may_command"]:
            return None
        if row["gesture"]:
            return name
        return self._gesture_of.get(name, name)

    def dispatch_labels(self) -> list[str]:
        """Every label the gate may dispatch on (one per command), in table order."""
        out: list[str] = []
        for name in self.rows:
            d = self.dispatch_label(name)
            if d is not None and d not in out:
                out.append(d)
        return out
