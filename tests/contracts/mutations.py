"""Generic mutations of a contract example: an extra key, a missing field, a wrong enum value."""
from __future__ import annotations

import copy
from typing import Any, Iterator

BOGUS = "__not_a_contract_value__"


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = schema
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def object_branches(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    node = resolve(schema, node)
    if "properties" in node:
        return [node]
    out = []
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, []):
            out += object_branches(schema, branch)
    return out


def root_required(schema: dict[str, Any], example: dict[str, Any]) -> list[str]:
    for branch in object_branches(schema, schema):
        if all(k in example for k in branch.get("required", [])):
            return list(branch.get("required", []))
    return []


def enum_mutations(schema: dict[str, Any], node: dict[str, Any], value: Any,
                   path: tuple = ()) -> Iterator[tuple]:
    """Paths (tuples of keys) in `value` whose schema is a closed enum of strings or numbers."""
    node = resolve(schema, node)
    if "enum" in node and all(v is not None for v in node["enum"]) or "const" in node:
        yield path
        return
    for key in ("anyOf", "oneOf"):
        for branch in node.get(key, []):
            yield from enum_mutations(schema, branch, value, path)
    if isinstance(value, dict):
        for branch in object_branches(schema, node):
            for name, sub in branch.get("properties", {}).items():
                if name in value:
                    yield from enum_mutations(schema, sub, value[name], path + (name,))


def set_at(doc: Any, path: tuple, new: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return doc
