"""schema.conformance: every JSON / JSONL document in the root against its contract.

The contract of a document comes from its `schema` / `type` field or its path
(lume.runtime.core.validate_file); each document is read once per run for this check and
labels.table together (`Context.scan`). Every violation is evidence naming the file, the line
and JSON path, and the contract. Unreadable JSON and an unknown `lume.*` schema are failures;
a document no contract describes is listed, not failed (the report says how many). Unknown keys
in documents other programs write (tolerant contracts) are warnings: one per key and place.
"""
from __future__ import annotations

from typing import Iterator

from ._context import Context
from ._framework import Evidence, held, unchecked, verifier, violated, warned

ID = "schema.conformance"


@verifier(ID, "Every document in the root conforms to its contract", domain="data")
def schema_conformance(ctx: Context) -> Iterator[Evidence]:
    files = documents = violations = 0
    uncovered: list[str] = []
    for rel in ctx.documents:
        result = ctx.cache.memo(ID, rel, lambda rel=rel: ctx.scan(rel).validation)
        if "error" in result:
            violations += 1
            yield violated(result["message"], file=rel, expected="a document of a known contract",
                           found=result["error"])
            continue
        if result["skipped"]:
            uncovered.append(rel)
            continue
        files += 1
        documents += result["documents"]
        violations += len(result["problems"])
        for p in result["problems"]:
            field = f"line {p['line']}: {p['path']}" if p["line"] else p["path"]
            yield violated(p["message"], file=rel, field=field,
                           expected=f"conforms to {result['contract']}", found="violation")
        for w in result.get("warnings") or []:
            field = f"line {w['line']}: {w['path']}" if w["line"] else w["path"]
            yield warned(w["message"], file=rel, field=field, expected=f"a key {result['contract']} declares",
                         found=w["path"].rsplit(".", 1)[-1])
    if uncovered:
        yield held(f"{len(uncovered)} JSON file(s) no contract describes (not validated): "
                   + ", ".join(uncovered[:20]) + (" …" if len(uncovered) > 20 else ""),
                   expected="covered by a contract", found=len(uncovered))
    if files:
        # counts say what they count: documents checked, violations found (those are the rows above)
        summary = f"{documents} documents in {files} files checked against their contracts, {violations} violations"
        make = held if not violations else violated
        yield make(summary, field="violations", expected=0, found=violations)
    else:
        yield unchecked("no document in the root matched a contract", expected=">= 1 document",
                        found=0)
