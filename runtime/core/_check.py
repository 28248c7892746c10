"""Validate the contracts themselves: envelope, JSON Schema meta-schema, examples, tables."""
from __future__ import annotations

import jsonschema

from ._contracts import Contract, ContractError, load_all
from ._inline import self_contained
from ._validate import Problem, json_path, problems, table_problems


def _envelope() -> jsonschema.Draft202012Validator:
    meta = next(c for c in load_all() if c.is_meta and c.stem == "contract.v1")
    return jsonschema.Draft202012Validator(meta.raw)


def check_contract(c: Contract) -> list[Problem]:
    found: list[Problem] = []
    where = str(c.path)
    if not c.is_meta:
        found += [Problem(where, None, json_path(list(e.absolute_path)), e.message, "meta/contract.v1")
                  for e in _envelope().iter_errors(c.raw)]
        if found:
            return found
        if c.x.get("producer") == "external" and c.kind not in ("document", "record"):
            return [Problem(where, None, "$.x-lume.producer", f"a {c.kind} contract is LUME's own data; "
                            "only documents and records may be written by another program", "meta/contract.v1")]
    try:
        schema = self_contained(c)
    except ContractError as exc:
        return [Problem(where, None, "$", str(exc), c.stem)]
    if c.is_meta or c.kind in ("document", "record", "definitions"):
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            return [Problem(where, None, json_path(list(exc.absolute_path)), exc.message,
                            "https://json-schema.org/draft/2020-12/schema")]
    if not c.is_meta and c.kind in ("document", "record"):
        for i, example in enumerate(c.examples):
            found += [Problem(where, None, f"examples[{i}]{p.path[1:]}", p.message, c.stem)
                      for p in problems(example, c)]
    if not c.is_meta and c.kind == "table":
        found += table_problems(c)
    return found


def check_all() -> list[Problem]:
    return [p for c in load_all() for p in check_contract(c)]
