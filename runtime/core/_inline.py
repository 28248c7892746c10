"""Inline cross-contract `$ref`s so every schema handed to validators and codegen stands alone."""
from __future__ import annotations

import copy
from typing import Any

from ._contracts import Contract, ContractError, by_id


def _qualified(node: Any, owner: str) -> Any:
    """A definition taken from contract `owner`, its local refs (`#/$defs/X`) naming their owner:
    inside another contract they mean the owner's definitions, not the host's."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            node["$ref"] = owner + ref
        for value in node.values():
            _qualified(value, owner)
    elif isinstance(node, list):
        for value in node:
            _qualified(value, owner)
    return node


def self_contained(contract: Contract) -> dict[str, Any]:
    """The contract's schema with every `lume:...#/$defs/NAME` ref copied into its own `$defs`.

    Only refs into `$defs` are allowed across files: that keeps the shared pieces named, so
    generated models get one class per shared definition instead of anonymous copies.
    """
    ids = by_id()
    schema = copy.deepcopy(contract.raw)
    schema.pop("x-lume", None)
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    inlined: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("lume:"):
                uri, _, pointer = ref.partition("#")
                parts = pointer.split("/")
                if uri not in ids or len(parts) != 3 or parts[1] != "$defs":
                    raise ContractError(f"{contract.path}: unresolvable $ref {ref!r}")
                name = parts[2]
                target = ids[uri].raw.get("$defs", {}).get(name)
                if target is None:
                    raise ContractError(f"{contract.path}: {ref!r} names no definition")
                if name not in defs:
                    inlined.add(name)
                    defs[name] = {}  # reserve first: shared defs may refer to each other
                    defs[name] = walk(_qualified(copy.deepcopy(target), uri))
                elif name not in inlined and uri != contract.id:
                    raise ContractError(f"{contract.path}: local $defs/{name} shadows {ref!r}; "
                                        f"rename one of them")
                node["$ref"] = f"#/$defs/{name}"
            for value in list(node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        return node

    walk(schema)
    if not defs:
        schema.pop("$defs")
    return schema
