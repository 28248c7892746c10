"""Strict JSON for signed documents: one meaning per byte string, bounded depth.

A signed envelope must mean one thing to every reader. JSON parsers disagree on duplicate keys
(most keep the last, some the first), so an envelope or payload with a duplicate key at any
level is refused, as is anything nested deeper than the limit (a 50 000-deep payload must be a
one-line refusal, never a RecursionError). orjson parses (C, its own depth cap, strict UTF-8,
no NaN); depth and duplicates are then counted on the text with strings removed.
"""
from __future__ import annotations

import itertools
import json
import operator
import re
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


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: no per-character alternation
# Brackets only, an opening one as 2 and a closing one as 0: after k brackets the running sum
# is twice the openings so far, and the depth there is that sum minus k.
_BRACKETS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))


def _without_strings(data: bytes) -> bytes:
    return _STRING.sub(b'""', data)


def depth_of(data: bytes) -> int:
    """Nesting depth of valid JSON text (a scalar is 0): strings are removed, then the running
    count of opening and closing brackets is taken (C iterators: no Python code per byte)."""
    return _depth(_without_strings(data))


def _depth(bare: bytes) -> int:
    brackets = bare.translate(_BRACKETS, _NOT_BRACKET)
    if not brackets:
        return 0
    return max(map(operator.sub, itertools.accumulate(brackets), itertools.count(1)))


def loads_strict(data: bytes | str, *, max_depth: int) -> Any:
    """Parse `data`; StrictJSONError for invalid JSON, a duplicate key or depth > `max_depth`.

    Duplicates are found without a Python hook per object: outside strings every key is
    followed by one `:`, so the text has more colons than orjson's re-serialisation of what it
    kept exactly when a key was repeated; only then does the standard parser name the key."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StrictJSONError(f"not valid JSON: {exc}") from None
    bare = _without_strings(raw)
    depth = _depth(bare)
    if depth > max_depth:
        raise StrictJSONError(f"nested {depth} levels deep, more than the limit of {max_depth}")
    if bare.count(b":") != _without_strings(orjson.dumps(value)).count(b":"):
        try:
            json.loads(raw, object_pairs_hook=_no_duplicates)
        except StrictJSONError:
            raise
        except (ValueError, RecursionError):
            pass
        raise StrictJSONError("duplicate key")
    return value
