"""The label table (labels.v1) as the one lookup every component uses.

Every Mac4 marker, Pose Coach and AirDeck label maps to one row: its canonical name, unified
category, lane, the command it stands for (`resolve_command`: a gesture row resolves through
the command label it names) and the label the AirDeck gate dispatches on. An unknown label is
an error that names the closest known spellings (difflib), never a silent pass. Nothing else
reads labels.v1's rows: storage, BodyTruth, the AirDeck gate, templates and the label
verifier all ask a `LabelIndex`.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from ._rules import rule_data

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
class CommandOf:
    """The command a label stands for (`LabelIndex.resolve_command`)."""

    label: str  # the label's canonical name
    row: dict[str, Any]  # the label's row
    command_row: dict[str, Any]  # the command label's row (the row itself for a command label)
    command: str  # the command label
    deck: int | None  # the deck the command names (None: both decks / global)
    action: str
    may_command: bool  # whether the command row's lane may ever command

    @property
    def rows(self) -> tuple[dict[str, Any], ...]:
        """The label's row and, when it is a gesture row, its command's row."""
        return (self.row,) if self.row is self.command_row else (self.row, self.command_row)


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
    # what the table can say of that status (labels.v1 `table_says`): what the label may become;
    # whether it IS promoted only a signed promoted manifest says
    table_says: str
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
    """The label table as a lookup. `LabelIndex.load()` reads (and validates) labels.v1 once;
    `LabelIndex(data)` indexes another table's data (tests build rule variants with it)."""

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
        return cls(rule_data(TABLE))

    # ---- lookups --------------------------------------------------------------------------
    def canonical(self, label: str) -> str | None:
        return label if label in self.rows else self.aliases.get(label)

    def row(self, label: str) -> dict[str, Any] | None:
        """The row of a label name or alias, or None."""
        name = self.canonical(label)
        return None if name is None else self.rows[name]

    def category(self, label: str) -> str | None:
        row = self.row(label)
        return None if row is None else row["category"]

    def resolve_command(self, label: str) -> CommandOf | None:
        """The command a label (name or alias) stands for, or None when it is unknown or stands
        for none. A gesture row stands for the command label it names; a command label for itself.
        """
        name = self.canonical(label)
        if name is None:
            return None
        row = self.rows[name]
        target = self.rows.get(row["gesture"]) if row["gesture"] else row
        if target is None or target["command"] is None:
            return None
        spec = target["command"]
        lane = self.lanes.get(target["lane"])
        return CommandOf(label=name, row=row, command_row=target, command=target["name"],
                         deck=spec["deck"], action=spec["action"],
                         may_command=bool(lane and lane["may_command"]))

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
        cmd = self.resolve_command(name)
        lane = self.lanes[row["lane"]]
        return LabelMapping(
            label=label, canonical=name, via="name" if label == name else "alias",
            origin=row["origin"], category=row["category"], lane=row["lane"],
            may_command=bool(lane["may_command"]), promotion_status=row["promotion_status"],
            table_says=self.statuses[row["promotion_status"]].get("table_says", row["promotion_status"]),
            allows_live_command=bool(self.statuses[row["promotion_status"]]["allows_live_command"]),
            command=cmd.command if cmd else None,
            deck=cmd.deck if cmd else None, action=cmd.action if cmd else None,
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
