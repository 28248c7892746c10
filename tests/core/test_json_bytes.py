"""JSON bytes rendered by orjson are exactly the stdlib's: what LUME signs and digests
(`canonical_json`) and the files it writes (`write_json`) keep their bytes, whichever
renders them."""
from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lume.runtime.core import canonical_json
from lume.runtime.core._json_bytes import _orjson_exact, json_bytes

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=25)


def stdlib(value, *, sort_keys: bool, indent: bool) -> bytes:
    if indent:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys).encode("utf-8")
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def outcome(render):
    try:
        return render()
    except (UnicodeEncodeError, ValueError, TypeError) as exc:  # a lone surrogate: refused alike
        return type(exc)


@settings(max_examples=400)
@given(values, st.booleans(), st.booleans())
def test_the_bytes_are_the_stdlib_bytes(value, sort_keys, indent):
    assert outcome(lambda: json_bytes(value, sort_keys=sort_keys, indent=indent)) == \
        outcome(lambda: stdlib(value, sort_keys=sort_keys, indent=indent))


@pytest.mark.parametrize("number", [1e-05, 1e16, 1.5e16, 1e-07, 2.0**60, math.nan, math.inf, -math.inf])
def test_floats_orjson_prints_its_own_way_are_left_to_the_stdlib(number):
    doc = {"subjects": [{"name": "a"}], "duration_s": number}
    # how orjson prints these differs between its releases: only equal bytes take its path
    assert _orjson_exact(doc) == (orjson.dumps(number) == float.__repr__(number).encode())
    assert canonical_json(doc) == stdlib(doc, sort_keys=True, indent=False)
    assert json_bytes(doc, sort_keys=False, indent=True) == stdlib(doc, sort_keys=False, indent=True)


def test_a_float_printed_otherwise_is_never_rendered_by_orjson():
    if orjson.dumps(1e-05) == b"1e-05":
        pytest.skip("this orjson release prints 1e-05 as the stdlib does (older ones print 0.00001)")
    assert not _orjson_exact({"a": [1e-05]})


def test_a_report_shaped_statement_takes_the_one_buffer_path():
    subjects = [{"name": f"take/{i:05d}.png", "digest": {"sha256": f"{i:064x}"}} for i in range(2000)]
    stmt = {"subject": subjects, "predicate": {"subjects": subjects, "checks": [{"duration_ms": 0.25}]}}
    assert _orjson_exact(stmt)
    assert canonical_json(stmt) == stdlib(stmt, sort_keys=True, indent=False)


@pytest.mark.parametrize("odd", [2**64, {1: "int key"}, ("a", "tuple"), b"bytes", {"é": "\u2028\x00\x7f"}])
def test_what_orjson_cannot_or_would_not_render_alike(odd):
    assert outcome(lambda: json_bytes(odd, sort_keys=True, indent=False)) == \
        outcome(lambda: stdlib(odd, sort_keys=True, indent=False))
