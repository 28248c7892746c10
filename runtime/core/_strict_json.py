"""Strict JSON for signed documents: one meaning per byte string, bounded depth.

A signed envelope must mean one thing to every reader. JSON parsers disagree on duplicate keys
(most keep the last, some the first), so an envelope or payload with a duplicate key at any
level is refused, as is anything nested deeper than the limit (a 50 000-deep payload must be a
one-line refusal, never a RecursionError). orjson parses first (C, its own depth cap, strict
UTF-8, no NaN), then the standard parser reports duplicate keys on what orjson accepted.
"""
from __future__ import annotations

import json
from typing import Any

import orjson


class StrictJSONError(ValueError):
    """The bytes are not strict JSON (syntax, duplicate key, too deep); the message says which."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJSONError(f"duplicate key {key!r}")
        out[key] = value
    return out


def depth_of(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def loads_strict(data: bytes | str, *, max_depth: int) -> Any:
    """Parse `data`; StrictJSONError for invalid JSON, a duplicate key or depth > `max_depth`."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StrictJSONError(f"not valid JSON: {exc}") from None
    depth = depth_of(value)
    if depth > max_depth:
        raise StrictJSONError(f"nested {depth} levels deep, more than the limit of {max_depth}")
    try:
        json.loads(data, object_pairs_hook=_no_duplicates)
    except RecursionError:  # cannot happen within max_depth; refused all the same
        raise StrictJSONError("nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc, StrictJSONError):
            raise
        raise StrictJSONError(f"not valid JSON: {exc}") from None
    return value
