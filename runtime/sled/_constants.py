"""The sled constants and their relations (lume:contract:sled_constants:v1), checked.

`shipped()` is the contract's own set; `check(values)` holds any set of values against every
relation whose names it states and says, with the numbers, which hold. A set as a source states
it (lume:contract:sled_constants_set:v1) may give a constant one value per reading (the seed's
prose and its code sketch); `check_statements` checks it once per reading and names every
constant given two values.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

from lume.runtime.core import ContractError, get, table_problems

from ._expr import Expression, number, parse

CONTRACT = "sled_constants.v1"
SET_CONTRACT = "sled_constants_set.v1"
_SHOWN_OP = {"==": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}


@dataclass(frozen=True)
class Relation:
    id: str
    left: Expression
    op: str
    right: Expression
    description: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.left.names + self.right.names))

    @property
    def text(self) -> str:
        return f"{self.left.text} {self.op} {self.right.text}"


@dataclass(frozen=True)
class Outcome:
    relation: Relation
    ok: bool
    left: float
    right: float
    message: str


@dataclass(frozen=True)
class Constants:
    """The contract: constants in declaration order, relations, decisions, SCAD settings."""

    rows: tuple[dict[str, Any], ...]
    relations: tuple[Relation, ...]
    decisions: tuple[dict[str, Any], ...]
    scad: dict[str, Any]
    contract_id: str
    source: str

    @property
    def values(self) -> dict[str, float]:
        return {r["name"]: float(r["value"]) for r in self.rows}

    @property
    def tolerance(self) -> float:
        return float(self.scad["tolerance"])


@functools.cache
def shipped() -> Constants:
    """The contract's constants, validated (meta-schema, unique names, relations over declared names)."""
    c = get(CONTRACT)
    bad = table_problems(c)  # the meta-schema (JSON Schema), so codegen can render before models exist
    if bad:
        raise ContractError(f"{CONTRACT}: {bad[0]}")
    data = c.table_data()
    names = [r["name"] for r in data["constants"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{CONTRACT}: constants declared twice: {', '.join(twice)}")
    relations = []
    for r in data["relations"]:
        rel = Relation(r["id"], parse(r["left"]), r["op"], parse(r["right"]), r["description"])
        unknown = [n for n in rel.names if n not in names]
        if unknown:
            raise ValueError(f"{CONTRACT}: relation {rel.id} uses undeclared {', '.join(unknown)}")
        relations.append(rel)
    ids = [r.id for r in relations]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{CONTRACT}: relation ids repeat")
    return Constants(tuple(data["constants"]), tuple(relations), tuple(data["decisions"]), data["scad"],
                     c.id, f"contracts/{c.path.name}")


def holds(op: str, left: float, right: float, tolerance: float) -> bool:
    if op == "==":
        return abs(left - right) <= tolerance
    if op == "<=":
        return left <= right + tolerance
    if op == ">=":
        return left + tolerance >= right
    if op == "<":
        return left < right
    return left > right


def _side(e: Expression, values: Mapping[str, float], v: float) -> str:
    if e.is_name:
        return f"{e.text} = {number(v)}"
    shown = e.shown(values)
    if shown.replace(" ", "") == number(v):
        return number(v)
    return f"{e.text} = {shown} = {number(v)}"


def check(values: Mapping[str, float], relations: tuple[Relation, ...] | None = None,
          tolerance: float | None = None) -> tuple[list[Outcome], list[Relation]]:
    """(outcome of every relation whose names `values` all states, the relations it cannot check)."""
    c = shipped()
    relations = c.relations if relations is None else relations
    tol = c.tolerance if tolerance is None else tolerance
    outcomes, skipped = [], []
    for rel in relations:
        if any(n not in values for n in rel.names):
            skipped.append(rel)
            continue
        left, right = rel.left.value(values), rel.right.value(values)
        ok = holds(rel.op, left, right, tol)
        shown = f"{_side(rel.left, values, left)} {_SHOWN_OP[rel.op]} {_side(rel.right, values, right)}"
        broken = " ≠" if rel.op == "==" else f", not {_SHOWN_OP[rel.op]}"
        message = (f"{rel.id} holds: {shown}" if ok else
                   f"{rel.id} broken ({rel.description}): {_side(rel.left, values, left)}{broken} "
                   f"{_side(rel.right, values, right)}")
        outcomes.append(Outcome(rel, ok, left, right, message))
    return outcomes, skipped


@dataclass
class Reading:
    """The values one reading of a statement set gives (None = the set has a single reading)."""

    name: str | None
    values: dict[str, float] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)


@dataclass
class SetResult:
    readings: list[tuple[Reading, list[Outcome], list[Relation]]]
    conflicts: list[str]
    unknown: list[str]

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.unknown and all(
            o.ok for _, outcomes, _ in self.readings for o in outcomes)


def check_statements(doc: Mapping[str, Any]) -> SetResult:
    """Check a lume.sled_constants_set.v1 document (already valid against its contract)."""
    known = set(shipped().values)
    statements = list(doc["statements"])
    unknown = sorted({s["name"] for s in statements if s["name"] not in known})
    shared = [s for s in statements if not s.get("reading")]
    names = sorted({s["reading"] for s in statements if s.get("reading")})
    conflicts = []
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in statements:
        by_name.setdefault(s["name"], []).append(s)
    for name, said in by_name.items():
        values = {float(s["value"]) for s in said}
        if len(values) > 1:
            conflicts.append(f"{name} is given {len(said)} values: " + "; ".join(
                f"{number(s['value'])}" + (f" ({s['reading']})" if s.get("reading") else "")
                + f" - {s['where']}" for s in said))
    readings = []
    for reading in names or [None]:
        r = Reading(reading)
        for s in shared + [s for s in statements if reading and s.get("reading") == reading]:
            r.values[s["name"]] = float(s["value"])
            r.where[s["name"]] = s["where"]
        outcomes, skipped = check(r.values)
        readings.append((r, outcomes, skipped))
    return SetResult(readings, conflicts, unknown)
