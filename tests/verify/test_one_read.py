"""One read of a JSONL document serves schema.conformance and labels.table (verifiers/_scan.py):
what the read gathers is what reading the file on its own gives."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lume.runtime.core import LabelIndex, get, iter_jsonl
from lume.verifiers._context import Context
from lume.verifiers._label_uses import PLACES, JsonlLabels, LabelUses, fields_by_stem

MAC4 = "mac4_label_record.v1"
LABELS = sorted(LabelIndex.load().rows)[:3] + ["not_a_label", "also_unknown"]
VALUES = st.sampled_from([*LABELS, None, 7])


def _record(label, category) -> dict:
    doc = dict(get(MAC4).examples[0])
    if label is not None:
        doc["label"] = label
    else:
        doc.pop("label", None)
    if category is not None:
        doc["category"] = category
    return doc


def _alone(path, fields) -> dict:
    uses = LabelUses(fields, LabelIndex.load())
    for line, doc in iter_jsonl(path):
        uses.add(line, doc)
    return uses.memo()


lines = st.lists(st.one_of(
    st.tuples(VALUES, st.sampled_from([None, "stillness", "wrong"])).map(lambda t: orjson.dumps(_record(*t))),
    st.sampled_from([b"", b"   ", b"[1, 2]", b'"text"'])), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(lines=lines, cuts=st.lists(st.integers(1, 40), max_size=6), crlf=st.booleans())
def test_label_uses_gathered_from_chunks_are_those_read_alone(tmp_path_factory, lines, cuts, crlf):
    """Any split of the file at line ends, blank lines, CR LF, records that are not objects:
    the chunks give the uses, places and line numbers `iter_jsonl` gives."""
    fields = tuple(dict(f, category="category") if f["path"] == "label" else f
                   for f in fields_by_stem()[MAC4])
    path = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + end
    path.write_bytes(data)
    gathered = JsonlLabels(LabelUses(fields, LabelIndex.load()))
    rows = data.split(b"\n")[:-1]
    start = 0
    for cut in sorted(set(cuts)) + [len(rows)]:
        if cut > start:
            gathered(b"".join(r + b"\n" for r in rows[start:cut]))
            start = cut
    assert not gathered.failed
    assert gathered.uses.memo() == _alone(path, fields)


def test_unknown_labels_are_counted_and_listed_once_per_label(tmp_path):
    fields = fields_by_stem()[MAC4]
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"".join(orjson.dumps(_record("nope", None)) + b"\n" for _ in range(PLACES + 5)))
    memo = _alone(path, fields)
    assert memo["used"] == PLACES + 5
    [(value, n, places)] = memo["unknown"]
    assert (value, n, len(places)) == ("nope", PLACES + 5, PLACES)
    assert places[0] == "line 1: $.label"


def test_a_file_the_fast_path_leaves_has_its_labels_read_on_their_own(tmp_path):
    """When the fast path stops early (here an invalid first record) the tap has not seen the
    whole file: the labels are read on their own, with the same places and counts."""
    root = tmp_path / "root"
    folder = root / "raw" / "labels"
    folder.mkdir(parents=True)
    good = orjson.dumps(_record(LABELS[0], None))
    (folder / "labels.jsonl").write_bytes(b'{"label": 5}\n' + good + b"\n")
    ctx = Context(root, cache_folder=tmp_path / "cache")
    found = ctx.scan("raw/labels/labels.jsonl")
    assert found.validation["problems"]
    assert found.labels["used"] == 2 and found.labels["unknown"] == [[5, 1, ["line 1: $.label"]]]


def test_a_valid_file_is_read_once_for_both_checks(tmp_path, monkeypatch):
    from lume.verifiers import _scan

    root = tmp_path / "root"
    (root / "raw" / "labels").mkdir(parents=True)
    examples = get(MAC4).examples
    data = b"".join(orjson.dumps(examples[i % len(examples)]) + b"\n" for i in range(50))
    (root / "raw" / "labels" / "labels.jsonl").write_bytes(data)
    monkeypatch.setattr(_scan, "iter_jsonl", lambda *_: pytest.fail("read a second time"))
    ctx = Context(root, cache_folder=tmp_path / "cache")
    found = ctx.scan("raw/labels/labels.jsonl")
    assert found.validation["problems"] == [] and found.validation["documents"] == 50
    assert found.labels == _alone(root / "raw" / "labels" / "labels.jsonl", fields_by_stem()[MAC4])
    assert found.labels["used"] == 50
