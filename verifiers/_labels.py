"""labels.table: the label table is coherent, and every label used in the root is in it.

The table (lume:contract:labels:v1) is checked for the cross-row rules its meta-schema
cannot express: unique names and aliases; categories, lanes and promotion statuses that
exist; a gesture row naming an existing command label and copying its destructive flag;
every command label with a category, the command lane, a promotion status and its gate
parameters in safety_invariants.v1 (`commands`, destructive flag agreeing); only statuses
that allow a live command in a lane that may command. Then every label field the table
lists (`label_fields`) is read in every document of the root: each value must be a label
or an alias, and a recorded category must be the label's category. Documents are read in the
pass schema.conformance makes (`Context.scan`), and their uses kept as verdicts, not lists.
"""
from __future__ import annotations

from typing import Any, Iterator

from lume.generated.constants import SAFE_BURST_NONDESTRUCTIVE, SAFE_CMD_PROMOTED
from lume.runtime.core import ContractError, InputError, LabelIndex, commands, get

from ._context import Context
from ._framework import Evidence, held, unchecked, verifier, violated
from ._label_uses import PLACES, TABLE, table_data

ID = "labels.table"


def _uses(ctx: Context, rel: str) -> dict[str, Any]:
    """The label verdicts of one document (LabelUses.memo), from the read it shares with
    schema.conformance; InputError when it cannot be read."""
    found = ctx.scan(rel)
    if found.labels_error is not None:
        raise found.labels_error
    if found.labels is None:  # no label field of its contract: nothing used
        return {"used": 0, "mismatched": [], "unknown": []}
    return found.labels


def _table_problems(data: dict[str, Any]) -> Iterator[Evidence]:
    file = f"contracts/{TABLE}.yaml"
    rows = data["labels"]
    categories = {c["name"]: c for c in data["categories"]}
    lanes = {lane["name"]: lane for lane in data["lanes"]}
    statuses = {s["name"]: s for s in data["promotion_statuses"]}
    names: dict[str, int] = {}
    for i, row in enumerate(rows):
        for spelling in (row["name"], *row.get("aliases", [])):
            if spelling in names:
                yield violated(f"`{spelling}` is used by two rows", file=file,
                               field=f"labels[{i}]", expected="unique names and aliases",
                               found=f"also labels[{names[spelling]}]")
            names.setdefault(spelling, i)
    index = LabelIndex(data)
    gate = commands()
    for i, row in enumerate(rows):
        where = f"labels[{i}] {row['name']}"
        category = categories.get(row["category"])
        if category is None or category.get("scope") != "label":
            yield violated("category is not a label category of the table", file=file,
                           field=f"{where}.category", expected=sorted(c for c, v in categories.items()
                                                                       if v.get("scope") == "label"),
                           found=row["category"])
        lane = lanes.get(row["lane"])
        status = statuses.get(row["promotion_status"])
        if lane is None:
            yield violated("lane is not in the table", file=file, field=f"{where}.lane",
                           expected=sorted(lanes), found=row["lane"])
        if status is None:
            yield violated("promotion status is not in the table", file=file,
                           field=f"{where}.promotion_status", expected=sorted(statuses),
                           found=row["promotion_status"])
        if status and status["allows_live_command"] and not (lane and lane["may_command"]):
            yield violated("a live-command status on a lane that may not command", file=file,
                           field=f"{where}.promotion_status", expected="a command lane",
                           found=row["lane"])
        if not (lane and lane["may_command"]):
            continue
        if row.get("gesture"):  # a gesture row resolves to its command label
            found = index.resolve_command(row["name"])
            if found is None:
                yield violated("gesture names no command label of the table", file=file,
                               field=f"{where}.gesture", expected="a command label", found=row["gesture"])
            elif found.command_row["destructive"] != row["destructive"]:
                yield violated("gesture row disagrees with its command's destructive flag", file=file,
                               field=f"{where}.destructive", expected=found.command_row["destructive"],
                               found=row["destructive"])
            continue
        rule = gate.get(row["name"])
        if rule is None:
            yield violated("command label has no gate parameters in safety_invariants.v1 `commands`",
                           file=file, field=where, expected="threshold, hold_ms, cooldown_ms",
                           found=None)
        elif "destructive" in rule and rule["destructive"] != row["destructive"]:
            yield violated("destructive flag differs between labels.v1 and safety_invariants.v1",
                           file=file, field=f"{where}.destructive", expected=rule["destructive"],
                           found=row["destructive"])
    for name in sorted(set(gate) - {r["name"] for r in rows if r.get("command")}):
        yield violated("safety_invariants.v1 `commands` names a label that is no command label",
                       file="contracts/safety_invariants.v1.yaml", field=f"commands.{name}",
                       expected="a command label of labels.v1", found=name)
    commanding = [r for r in rows if lanes.get(r["lane"], {}).get("may_command")]
    yield held(f"{len(rows)} labels, {len(commanding)} command labels: each with a category, a lane, "
               f"a promotion status and gate parameters", file=file, expected="coherent table",
               found=len(rows))


@verifier(ID, "Every label used is in the label table; every command label is complete",
          invariants=(SAFE_CMD_PROMOTED, SAFE_BURST_NONDESTRUCTIVE), domain="rig")
def label_table(ctx: Context) -> Iterator[Evidence]:
    data = table_data()
    yield from _table_problems(data)
    stems: set[str] = set()  # contracts with label fields (their fields: _label_uses.fields_by_stem)
    for f in data.get("label_fields", []):
        try:
            stems.add(get(f["contract"]).stem)
        except ContractError:
            yield violated("label field names an unknown contract", file=f"contracts/{TABLE}.yaml",
                           field="label_fields", expected="a contract $id", found=f["contract"])
    used = files = 0
    for stem in sorted(stems):
        for rel in ctx.documents_of(stem):
            try:
                uses = ctx.cache.memo(ID, rel, lambda rel=rel: _uses(ctx, rel))
            except InputError as exc:
                yield unchecked(f"cannot read: {exc}", file=rel, expected="readable JSON", found=None)
                continue
            files += 1
            used += uses["used"]
            for at, value, expected, category in uses["mismatched"]:
                yield violated(f"label `{value}` recorded with another category", file=rel,
                               field=at, expected=expected, found=category)
            for value, n, places in sorted(uses["unknown"], key=lambda u: str(u[0])):
                more = f" (+{n - PLACES} more)" if n > PLACES else ""
                yield violated(f"label `{value}` is not in {TABLE} ({n} use(s))", file=rel,
                               field="; ".join(places) + more,
                               expected=f"a label or alias of {TABLE}", found=value)
    yield held(f"{used} label uses in {files} documents checked against {TABLE}",
               expected="every label in the table", found=used)
