"""sled.constraints: the universal sled's constants satisfy every declared relation.

The shipped constants of lume:contract:sled_constants:v1 are held against each relation (a broken
one fails, with its numbers). Seed 004 Q3 as written (the example of
lume:contract:sled_constants_set:v1) is checked too and every contradiction in it is reported
with its numbers, as resolved when the shipped set holds the relation it breaks. Any
lume.sled_constants_set.v1 document in the root (a CAD tree's numbers) must hold every relation
it states all names of, once per reading, and give no constant two values.
"""
from __future__ import annotations

from typing import Any, Iterator

from lume.runtime.core import get
from lume.runtime.sled import CONTRACT, SET_CONTRACT, Constants, check, check_statements, number, shipped

from ._context import Context
from ._documents import valid_documents
from ._framework import Evidence, held, verifier, violated

ID = "sled.constraints"


def _set_evidence(doc: dict[str, Any], rel: str) -> Iterator[Evidence]:
    result = check_statements(doc)
    for name in result.unknown:
        yield violated(f"{name} is not a constant of {CONTRACT}", file=rel, field="statements",
                       expected="a declared constant", found=name)
    for text in result.conflicts:
        yield violated(text, file=rel, field="statements", expected="one value per constant", found=text)
    for reading, outcomes, skipped in result.readings:
        label = f" ({reading.name} reading)" if reading.name else ""
        for o in outcomes:
            if not o.ok:
                yield violated(f"{o.message}{label}", file=rel, field=o.relation.id,
                               expected=f"{o.relation.text}", found=number(o.left))
        good = sum(o.ok for o in outcomes)
        if good == len(outcomes):
            yield held(f"{good} relation(s) hold{label}; {len(skipped)} not stated in full", file=rel,
                       expected="every stated relation holds", found=good)


@verifier(ID, "The sled constants satisfy every declared relation (seed 004 Q3)")
def sled_constraints(ctx: Context) -> Iterator[Evidence]:
    c = shipped()
    outcomes, _ = check(c.values)
    for o in outcomes:
        if not o.ok:
            yield violated(o.message, file=c.source, field=f"relations.{o.relation.id}",
                           expected=o.relation.text, found=number(o.left))
    ok = [o for o in outcomes if o.ok]
    if len(ok) == len(outcomes):
        yield held(f"{len(outcomes)} relations hold for the {len(c.rows)} shipped constants", file=c.source,
                   expected="every relation holds", found=len(ok))
    yield from _seed(c)
    for rel, doc, bad in valid_documents(ctx, SET_CONTRACT, "constants set"):
        yield from [bad] if bad is not None else _set_evidence(doc, rel)


def _seed(c: Constants) -> Iterator[Evidence]:
    """The seed as written: its contradictions, each with the shipped set's answer."""
    seed = get(SET_CONTRACT).examples[0]
    where = f"contracts/{SET_CONTRACT}.yaml examples[0]"
    result = check_statements(seed)
    mine = {o.relation.id: o for o in check(c.values)[0]}
    for text in result.conflicts:
        name = text.split(" ", 1)[0]
        yield held(f"seed 004 Q3 contradiction: {text}; the shipped set gives one value, "
                   f"{number(c.values[name])}",
                   file=where, field=name, expected="one value", found=text)
    for reading, outcomes, _ in result.readings:
        for o in outcomes:
            if o.ok:
                continue
            fixed = mine[o.relation.id]
            state = "resolved" if fixed.ok else "NOT resolved"
            evidence = held if fixed.ok else violated
            yield evidence(f"seed 004 Q3 contradiction ({reading.name} reading): {o.message}; {state} in the "
                           f"shipped set: {fixed.message.split(': ', 1)[1]}", file=where, field=o.relation.id,
                           expected=o.relation.text, found=number(o.left))
