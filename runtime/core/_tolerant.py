"""Documents other programs write are read tolerantly (issue 15; seed 004 Q2, failure mode E).

A contract declares who writes its documents in its envelope: `x-lume.producer: lume` (the
default) for documents LUME writes, which stay closed (`additionalProperties: false` refuses an
unknown key), and `x-lume.producer: external` for documents of programs LUME does not own (the
Mac4 recorder, MotionMix, Pose Coach, mocopi, the SAM3D worker, Mac4's output bridge, the MRT2
proof page). The schema of an external contract still lists every field LUME knows, closed as
written; a reader opens it (`opened`): unknown keys are accepted at every depth, kept when a
document is copied, and listed as warnings (`unknown_keys`: file, line and the key's path).
"""
from __future__ import annotations

import copy
import re
from typing import Any

from ._contracts import Contract

PRODUCERS = ("lume", "external")
_CLOSING = ("additionalProperties", "unevaluatedProperties")
_MAX_DEPTH = 64  # documents nest a few levels; a deeper instance is not walked for warnings


def is_tolerant(contract: Contract) -> bool:
    """Whether the contract's documents come from a program LUME does not own."""
    return not contract.is_meta and contract.producer == "external"


def opened(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every `additionalProperties: false` / `unevaluatedProperties: false`
    removed: what a tolerant reader validates against (required fields and types still hold)."""
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if not (k in _CLOSING and v is False)}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node
    return walk(copy.deepcopy(schema))


def _path(parts: list[Any]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


class _Walker:
    """Finds the keys of an instance that a closed schema (as written) does not declare."""

    def __init__(self, root: dict[str, Any]):
        self.defs = root.get("$defs", {})
        self.root = root

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 32:
            ref = node["$ref"]
            if ref == "#":
                node = self.root
            elif ref.startswith("#/$defs/"):
                node = self.defs.get(ref.removeprefix("#/$defs/"), {})
            else:
                return {}
            seen += 1
        return node

    @staticmethod
    def _excluded(branch: dict[str, Any], value: Any) -> bool:
        """A `oneOf` / `anyOf` branch this value cannot be meant for: a property const that
        differs (the discriminator) or a JSON type that differs."""
        kinds = branch.get("type")
        if isinstance(kinds, str):
            kinds = [kinds]
        if kinds:
            actual = {dict: "object", list: "array", str: "string", bool: "boolean",
                      type(None): "null"}.get(type(value))
            if actual is None:
                actual = "integer" if isinstance(value, int) else "number"
            if actual not in kinds and not (actual == "integer" and "number" in kinds):
                return True
        if isinstance(value, dict):
            for name, prop in (branch.get("properties") or {}).items():
                if isinstance(prop, dict) and "const" in prop and name in value and value[name] != prop["const"]:
                    return True
        return False

    def nodes(self, node: Any, value: Any, depth: int = 0) -> list[dict[str, Any]]:
        """The schema objects that apply to `value` here: the node and its combined branches."""
        node = self.resolve(node)
        if not isinstance(node, dict) or depth > 16:
            return []
        out = [node]
        for sub in node.get("allOf") or []:
            out += self.nodes(sub, value, depth + 1)
        for kw in ("anyOf", "oneOf"):
            for sub in node.get(kw) or []:
                branch = self.resolve(sub)
                if isinstance(branch, dict) and not self._excluded(branch, value):
                    out += self.nodes(branch, value, depth + 1)
        for kw in ("then", "else"):
            if kw in node:
                out += self.nodes(node[kw], value, depth + 1)
        return out

    def walk(self, node: Any, value: Any, parts: list[Any], out: list[tuple[str, str]]) -> None:
        if len(parts) > _MAX_DEPTH:
            return
        nodes = self.nodes(node, value)
        if isinstance(value, dict):
            closed = any(n.get("additionalProperties") is False or n.get("unevaluatedProperties") is False
                         for n in nodes)
            for key, item in value.items():
                schemas = [n["properties"][key] for n in nodes if key in (n.get("properties") or {})]
                if not schemas:
                    schemas = [s for n in nodes for pat, s in (n.get("patternProperties") or {}).items()
                               if re.search(pat, key)]
                if not schemas:
                    schemas = [n["additionalProperties"] for n in nodes
                               if isinstance(n.get("additionalProperties"), dict)]
                if schemas:
                    for schema in schemas[:1]:  # one declaration is enough to know its keys
                        self.walk(schema, item, [*parts, key], out)
                elif closed:
                    out.append((_path(parts), key))
        elif isinstance(value, list):
            for n in nodes:
                prefix = n.get("prefixItems") or []
                items = n.get("items")
                if prefix or isinstance(items, dict):
                    for i, item in enumerate(value):
                        schema = prefix[i] if i < len(prefix) else items
                        if isinstance(schema, dict):
                            self.walk(schema, item, [*parts, i], out)
                    break


def unknown_keys(instance: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON path of the object, key) of every key the schema, closed as written, does not
    declare. For a valid document of a tolerant contract these are the warnings."""
    out: list[tuple[str, str]] = []
    _Walker(schema).walk(schema, instance, [], out)
    return out
