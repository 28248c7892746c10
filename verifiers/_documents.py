"""The documents of one contract in a root, each parsed and validated, or the evidence why not."""
from __future__ import annotations

from typing import Any, Iterator

from lume.runtime.core import InputError, get, problems

from ._context import Context
from ._framework import Evidence, violated


def valid_documents(ctx: Context, stem: str, what: str) -> Iterator[tuple[str, Any, Evidence | None]]:
    """(file, document, None) for each valid document of `stem`; (file, None, violation) otherwise."""
    contract = get(stem)
    for rel in ctx.documents_of(stem):
        try:
            doc = ctx.json(rel)
        except InputError as exc:
            yield rel, None, violated(f"cannot read: {exc}", file=rel, expected="valid JSON",
                                      found="unreadable")
            continue
        bad = problems(doc, contract, file=rel)
        if bad:
            yield rel, None, violated(f"not a valid {what}: {bad[0].path}: {bad[0].message}", file=rel,
                                      field=bad[0].path, expected=f"conforms to {stem}", found="violation")
            continue
        yield rel, doc, None
