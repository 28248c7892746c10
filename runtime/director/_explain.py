"""One readable line per frame problem: the field, what is wrong, and the allowed values.

jsonschema-rs reports `"rehearsal" is not one of "idle", "setup" or 3 other candidates` and,
for a nullable field, `… is not valid under any of the schemas listed in the 'anyOf'
keyword`. Here an `anyOf` is resolved to the one branch whose type the value has (its own,
deeper error is reported) or else to the list of what the field accepts; an enum lists every
value; unknown and missing keys name the frame's fields. Values are echoed shortened, so a
message stays one short line whatever a client sent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from lume.runtime.core import json_path

_SHOW = 48  # characters of a client value echoed in a message
_FIELD_PART = re.compile(r"^([a-z_][a-z0-9_]*|[0-9]+)$")  # director_frames.v2 ErrorFrame.field


@dataclass(frozen=True)
class Explained:
    field: str | None  # dotted frame key ("cue.kind"), None for the frame itself
    message: str
    allowed: tuple[Any, ...] | None = None


def show(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 1] + "…"


def _names(items: Any) -> str:
    items = [show(i) if not isinstance(i, str) else i[:32] for i in items]
    return ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")


def _kind(error: Any) -> str:
    return type(error.kind).__name__


def _dotted(path: list[Any]) -> str | None:
    """The dotted name of a frame key path, cut before the first part that is not a plain
    key or index (a client's key may be any string; the error frame names only clean ones)."""
    parts = []
    for p in path:
        text = str(p)
        if not _FIELD_PART.match(text) or (not parts and text.isdigit()):
            break
        parts.append(text)
    name = ".".join(parts)
    return name if name and len(name) <= 256 else None


def _at(schema: dict[str, Any], path: list[Any]) -> Any:
    node: Any = schema
    for part in path:
        node = node[part]
    return node


def _branch_text(schema: dict[str, Any], error: Any) -> str:
    """What one `anyOf` branch accepts, from the schema node its type error points into."""
    node = _at(schema, list(error.schema_path)[:-1])
    types = getattr(error.kind, "types", None) or ["value"]
    if "object" in types and node.get("required"):
        return f"an object with {', '.join(node['required'])}"
    if "string" in types and node.get("enum"):
        return f"one of {_names(node['enum'])}"
    return " or ".join("null" if t == "null" else f"a {t}" for t in types)


def _pick(errors: list[Any]) -> Any:
    """The most telling error of a list: the deepest, a specific one before an `anyOf`."""
    return max(errors, key=lambda e: (len(list(e.instance_path)), _kind(e) != "AnyOf"))


def _display(path: list[Any]) -> str:
    return ".".join(str(p)[:32] for p in path) if path else "the frame"


def explain(error: Any, schema: dict[str, Any], instance: Any, fields: list[str]) -> Explained:
    """One jsonschema-rs error of a frame validated against `schema` (the frame's definition
    with `$defs`); `fields` are the frame's own keys (for unknown / missing key messages)."""
    path = list(error.instance_path)
    field, loc = _dotted(path), _display(path)
    kind = _kind(error)
    try:
        value = _at(instance, path)
    except (KeyError, IndexError, TypeError):
        value = None
    k = error.kind
    if kind == "AnyOf":
        branches = [b for b in k.context if b]
        typed = [b for b in branches
                 if not (len(b) == 1 and _kind(b[0]) == "Type" and list(b[0].instance_path) == path)]
        if typed:  # the value has the type of a branch: that branch's own complaint is the news
            return explain(_pick([e for b in typed for e in b]), schema, instance, fields)
        accepted = [_branch_text(schema, b[0]) for b in branches]
        return Explained(field, f"{loc}: {show(value)} is not {' or '.join(accepted)}")
    if kind == "Enum":
        options = tuple(k.options)
        return Explained(field, f"{loc}: {show(value)} is not one of {_names(options)}", options)
    if kind == "Const":
        expected = getattr(k, "expected_value", None)
        return Explained(field, f"{loc}: {show(value)} is not {show(expected)}", (expected,))
    if kind == "AdditionalProperties":
        unexpected = list(k.unexpected)
        node = _at(schema, list(error.schema_path)[:-1])
        known = fields if not path else sorted(node.get("properties", {}))
        plural = "s" if len(unexpected) > 1 else ""
        return Explained(_dotted([*path, unexpected[0]]) if len(unexpected) == 1 else field,
                         f"{loc}: unknown field{plural} {_names(unexpected)}; the fields are {_names(known)}")
    if kind == "Required":
        return Explained(_dotted([*path, k.property]), f"{loc}: missing field {k.property!r}")
    if kind == "MinProperties" and not path:
        return Explained(None, f"give at least one of {_names(fields)}")
    if kind == "Type":
        types = getattr(k, "types", None) or ["of the right type"]
        return Explained(field, f"{loc}: {show(value)} is not {' or '.join(types)}")
    if kind in _LIMITS:
        return Explained(field, f"{loc}: {show(value)} {_LIMITS[kind]} {getattr(k, 'limit', '?')}")
    if kind == "Pattern":
        return Explained(field, f"{loc}: {show(value)} does not match {k.pattern}")
    if kind == "PropertyNames":
        node = _at(schema, list(error.schema_path))
        pattern = node.get("pattern") if isinstance(node, dict) else None
        bad = [n for n in (value or {}) if pattern is None or not re.search(pattern, n)]
        return Explained(field, f"{loc}: key {show(bad[0]) if bad else '?'} does not match "
                                f"{pattern or 'the allowed key names'}")
    if kind == "UniqueItems":
        return Explained(field, f"{loc}: items must be unique")
    message = error.message if len(error.message) <= 160 else error.message[:159] + "…"
    return Explained(field, f"{json_path(path)}: {message}")


_LIMITS = {"MaxLength": "is longer than", "MinLength": "is shorter than", "MaxItems": "has more items than",
           "MinItems": "has fewer items than", "MaxProperties": "has more keys than",
           "MinProperties": "has fewer keys than", "Maximum": "is greater than", "Minimum": "is less than",
           "ExclusiveMaximum": "is not less than", "ExclusiveMinimum": "is not greater than"}
