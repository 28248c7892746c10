"""The msgspec fast path for bulk JSONL never accepts what the contract's schema refuses."""
from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.core import get, load_all, problems, validate_file
from lume.runtime.core._fastpath import _ecma_to_python, accepts_lines, decoder

TRANSLATED = [c.stem for c in load_all()
              if not c.is_meta and c.kind in ("record", "document") and decoder(c.stem) is not None]


def _schema_values(node, out):
    """Every const and enum value of a schema: the values its if/then/else rules turn on."""
    if isinstance(node, dict):
        if "const" in node:
            out.append(node["const"])
        out += node.get("enum", [])
        for v in node.values():
            _schema_values(v, out)
    elif isinstance(node, list):
        for v in node:
            _schema_values(v, out)
    return out

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats(-2, 3, allow_nan=False)
    | st.sampled_from(["", "x", "deck1", "depth", "abc\n", "ABC", "a_b", "٣", "2026-05-28T10:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["x", "y", "z", "q"]),
                                                                 inner, max_size=3),
    max_leaves=6)


def test_the_body_observation_record_is_translated():
    assert "body_observation.v1" in TRANSLATED


@pytest.mark.parametrize("stem", ["body_truth.v0", "pose_coach_training_record.v1", "mac4_label_record.v1",
                                  "storage_index_record.v1", "airdeck_decision.v1"])
def test_allof_if_then_and_nullable_enums_are_translated(stem):
    """The bulk JSONL of a verify run (BodyTruth frames, Pose Coach records, labels, the storage
    index) takes the fast path: cross-field rules and enums with null are compiled too."""
    assert stem in TRANSLATED


@pytest.mark.parametrize("stem", [s for s in TRANSLATED if decoder(s).rules is not None])
@given(data=st.data())
def test_rules_refuse_what_the_schema_refuses(stem, data):
    """Swap fields among the values the schema's rules turn on: whatever the fast path accepts
    the schema accepts, and a valid swap is still accepted (the rules are exact, not looser)."""
    from lume.runtime.core import bundled_schema

    contract = get(stem)
    pool = _schema_values(bundled_schema(contract), []) + [None, True, False, "x", 0]
    doc = copy.deepcopy(data.draw(st.sampled_from(contract.examples)))
    for key in data.draw(st.lists(st.sampled_from(sorted(doc)), min_size=1, max_size=4)):
        doc[key] = data.draw(st.sampled_from(pool))
    line = orjson.dumps(doc)
    valid = problems(orjson.loads(line), contract) == []
    fast = accepts_lines(stem, line)
    if fast:
        assert valid


@pytest.mark.parametrize("stem", TRANSLATED)
def test_examples_take_the_fast_path(stem):
    data = b"\n".join(orjson.dumps(e) for e in get(stem).examples)
    assert accepts_lines(stem, data) == len(get(stem).examples)


@pytest.mark.parametrize("stem", TRANSLATED)
@given(data=st.data())
def test_fast_acceptance_implies_schema_validity(stem, data):
    contract = get(stem)
    doc = copy.deepcopy(data.draw(st.sampled_from(contract.examples)))
    # mutate: replace, drop or add fields, at the top level or one level down
    target = doc
    if isinstance(doc, list):  # a document that is a list of objects (the trust file)
        if not doc:
            doc.append({})
        target = doc[data.draw(st.integers(0, len(doc) - 1))]
    nested = [k for k, v in target.items() if isinstance(v, dict)]
    if nested and data.draw(st.booleans()):
        target = target[data.draw(st.sampled_from(nested))]
    keys = sorted(target)
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace" and keys:
        target[data.draw(st.sampled_from(keys))] = data.draw(json_values)
    elif action == "drop" and keys:
        del target[data.draw(st.sampled_from(keys))]
    else:
        target[data.draw(st.sampled_from(["extra", "q", *keys]))] = data.draw(json_values)
    line = orjson.dumps(doc)
    if accepts_lines(stem, line):
        assert problems(orjson.loads(line), contract) == []


def test_patterns_are_not_looser_than_ecma():
    import re

    anchored = re.compile(_ecma_to_python("^[a-z]+$"))
    assert anchored.search("abc") and not anchored.search("abc\n")
    assert not re.compile(_ecma_to_python(r"^\d+$")).search("٣")  # Arabic-Indic digit
    assert re.compile(_ecma_to_python("^[$a]+$")).search("$a")     # `$` inside a class stays literal


def test_invalid_file_still_reports_every_error_with_its_line(tmp_path):
    good = get("body_observation.v1").examples
    lines = [orjson.dumps(e) for e in good]
    lines.insert(1, orjson.dumps(dict(good[0], confidence=2)))
    lines.append(orjson.dumps(dict(good[1], source="sonar")))
    path = tmp_path / "take.obs.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = validate_file(path)
    assert result.contract == "body_observation.v1" and result.documents == len(lines)
    assert sorted(p.line for p in result.problems) == [2, len(lines)]
    fine = tmp_path / "fine.obs.jsonl"
    fine.write_bytes(b"\n".join(orjson.dumps(e) for e in good) + b"\n")
    assert validate_file(fine).ok and validate_file(fine).documents == len(good)


def test_a_line_nested_deeper_than_the_limit_never_takes_the_fast_path():
    from lume.runtime.core import input_limit
    from lume.runtime.core._validate import _maybe_too_deep

    depth = input_limit("jsonl_stream").max_depth
    flat = b"\n".join(orjson.dumps({"a": [1, {"b": 2}]}) for _ in range(200))  # many brackets, none deep
    deep = b'{"x": ' + b"[" * depth + b"]" * depth + b"}"
    assert not _maybe_too_deep(flat, depth)
    assert _maybe_too_deep(flat + b"\n" + deep, depth)


@pytest.mark.parametrize("stem", TRANSLATED[:3])
def test_validate_refuses_a_deep_line_as_every_reader_does(stem, tmp_path):
    from lume.runtime.core import input_limit

    depth = input_limit("jsonl_stream").max_depth
    record = copy.deepcopy(get(stem).examples[0])
    path = tmp_path / "deep.jsonl"
    path.write_bytes(orjson.dumps(record) + b"\n" + orjson.dumps(record)[:-1]
                     + b', "deep": ' + b"[" * (depth + 1) + b"]" * (depth + 1) + b"}\n")
    from lume.runtime.core import Unreadable

    with pytest.raises(Unreadable, match="nested deeper than"):  # exit 2, as iter_jsonl says
        validate_file(path, contract=get(stem))


# --- patterns checked after decoding, per chunk (nested, nullable, through $ref) ---------------

DEFERRED = [s for s in TRANSLATED if decoder(s).deferred]
near_misses = st.sampled_from(["", "a", "A", "a b", "a\n", "-a", "a-", "a_b", "a.b", "0" * 64, "0" * 63,
                               "F" * 64, "é", "frames/display/1.png", "frames/raw/x/1.png",
                               "20260528-weighted-freestyle-01", "x" * 129, "SAFE-X", "ab\u0000"])


@pytest.mark.parametrize("stem", DEFERRED)
@given(data=st.data())
def test_a_deferred_pattern_gives_the_exact_verdict(stem, data):
    """Every string a pattern checks after decoding (at the top, inside objects, nullable or
    through `$ref`): the fast path accepts a changed record exactly when the schema does."""
    contract, fast = get(stem), decoder(stem)
    doc = copy.deepcopy(data.draw(st.sampled_from([e for e in contract.examples if isinstance(e, dict)])))
    steps, _ = data.draw(st.sampled_from(fast.deferred))
    *parents, name = fast.names(steps)
    target = doc
    for key in parents:
        target = target.get(key) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        return
    target[name] = data.draw(near_misses | st.text(max_size=8) | st.none())
    line = orjson.dumps(doc)
    valid = problems(orjson.loads(line), contract) == []
    fast_verdict = accepts_lines(stem, line)
    if fast_verdict:
        assert valid
    if valid and isinstance(target[name], str):
        assert fast_verdict == 1, "a valid string the pattern accepts must not leave the fast path"


def test_nested_and_nullable_patterns_are_checked_after_decoding():
    names = {s: {decoder(s).names(steps) for steps, _ in decoder(s).deferred} for s in DEFERRED}
    assert ("keyframes", "display") in names["pose_coach_training_record.v1"]  # inside an object
    assert ("archive_sha256",) in names["storage_index_record.v1"]  # oneOf [$ref Sha256, null]
    assert ("session_id",) in names["storage_index_record.v1"]  # type [string, null]


def test_distinct_values_keep_memory_flat():
    """No value is remembered past its chunk: checking 4x the distinct ids peaks no higher."""
    import tracemalloc

    from lume.runtime.core import _fastpath
    from lume.runtime.core._jsonl import line_slices

    stem = "mac4_label_record.v1"
    example = next(e for e in get(stem).examples if "session_id" in e)

    def lines(n):
        return b"".join(orjson.dumps(dict(example, session_id=f"take-{i}")) + b"\n" for i in range(n))

    def peak(data):
        chunks = list(line_slices(data))
        tracemalloc.start()
        try:
            assert _fastpath.accepts_chunks(stem, iter(chunks)) == data.count(b"\n")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(lines(20_000)), peak(lines(80_000))
    assert large < small * 1.5


# --- the JSONL reader of the fast path: whole lines, limits checked without splitting -----------

@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       size=st.integers(1, 64), trailing=st.booleans(), cut=st.integers(0, 2000))
def test_slices_are_views_of_whole_lines_that_join_back_to_the_bytes(lines, size, trailing, cut):
    from lume.runtime.core._jsonl import line_slices

    data = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    end = min(cut, len(data))
    slices = list(line_slices(data, end, size))
    assert all(isinstance(s, memoryview) and len(s) for s in slices)
    assert b"".join(slices) == data[:end]
    longest = max((len(line) for line in data[:end].split(b"\n")), default=0)
    for s in slices[:-1]:  # every slice but the last ends a line, and is no longer than it needs
        assert bytes(s).endswith(b"\n")
        assert len(s) <= size + longest + 1

@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       block=st.integers(1, 64), max_line=st.integers(1, 64), trailing=st.booleans())
def test_chunks_are_whole_lines_and_a_long_line_always_stops_the_fast_path(lines, block, max_line, trailing):
    import io
    from types import SimpleNamespace

    from lume.runtime.core import _validate

    data = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    limit = SimpleNamespace(max_bytes=10**9, max_line_bytes=max_line)
    state = {"breach": False}
    original, slice_size = _validate.BLOCK, _validate.SLICE
    _validate.BLOCK, _validate.SLICE = block, max(1, block // 3)  # blocks are cut into slices too
    try:
        chunks = [bytes(c) for c in _validate._line_chunks(io.BytesIO(data).read, Path("x.jsonl"), limit, state)]
    finally:
        _validate.BLOCK, _validate.SLICE = original, slice_size
    too_long = any(len(line) > max_line for line in data.split(b"\n"))
    assert state["breach"] == too_long
    if not too_long:
        assert b"".join(chunks) == data
        assert all(c.endswith(b"\n") for c in chunks[:-1])
