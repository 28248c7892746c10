"""JSON text as bytes, rendered by orjson when its bytes are exactly the stdlib's.

LUME's canonical form (what it signs and digests) and its file form are defined by the stdlib
`json.dumps` (`ensure_ascii=False`); orjson renders the same bytes for str, int, bool, None,
lists and str-keyed dicts (tested over every code point and with hypothesis) and differs only
in how some floats are printed (`1e-05` against `0.00001`). A large statement (a readiness
report lists every file of the root twice) renders through orjson in one buffer, where
`json.dumps` holds a list of every token and then joins it: about 7 times the memory.
"""
from __future__ import annotations

import json
from typing import Any

import orjson

_PLAIN = (str, int, bool, type(None))


def _orjson_exact(value: Any) -> bool:
    """Whether orjson renders `value` byte for byte as `json.dumps` does: only JSON types, and
    every float printed alike (an int orjson cannot hold raises in orjson: the caller falls back)."""
    stack = [value]
    push, pop = stack.append, stack.pop
    while stack:
        v = pop()
        t = type(v)
        if t is dict:
            for k, item in v.items():
                if type(k) is not str:
                    return False
                if type(item) not in _PLAIN:
                    push(item)
        elif t is list or t is tuple:
            for item in v:
                if type(item) not in _PLAIN:
                    push(item)
        elif t is float:
            if orjson.dumps(v) != float.__repr__(v).encode():
                return False  # 1e-05, 1e+16, nan, inf: stdlib prints these its own way
        elif t not in _PLAIN:
            return False  # subclasses, dataclasses, datetimes: json.dumps decides (or refuses)
    return True


def json_bytes(value: Any, *, sort_keys: bool, indent: bool) -> bytes:
    """`json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)` as UTF-8, compact
    (`,` `:`) or indented by 2, rendered by orjson whenever that gives the same bytes."""
    if _orjson_exact(value):
        option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (orjson.OPT_INDENT_2 if indent else 0)
        try:
            return orjson.dumps(value, option=option)
        except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits, a lone surrogate
            pass
    if indent:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys).encode("utf-8")
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
