"""The verify cache's two files (each file's digest; what checks remembered) live in a folder
other programs and users can write: whatever sits there, a run finishes with the same verdicts,
trusts nothing it cannot check, never blocks, and leaves both files sound for the next run."""
from __future__ import annotations

import os

import orjson
import pytest
from verify_roots import copy_root

from lume.verifiers import _schema_conformance
from lume.verifiers._digests import CACHE_VERSION
from lume.verifiers._runner import default_root, run

ONLY = [_schema_conformance.ID, "labels.table"]


def _write(path, doc):
    path.unlink()
    path.write_bytes(orjson.dumps(doc))


def _statuses(result):
    return [(c.id, c.status, [e.message for e in c.evidence]) for c in result.checks]


HOSTILE = {
    "junk bytes": lambda path, doc: path.write_bytes(b"\x00\xffnot json"),
    "a JSON list": lambda path, doc: _write(path, [doc]),
    "another root": lambda path, doc: _write(path, {**doc, "root": "/elsewhere"}),
    "an older version": lambda path, doc: _write(path, {**doc, "version": CACHE_VERSION - 1}),
    "other contracts": lambda path, doc: _write(path, {**doc, "fingerprint": "0" * 64}),
    "the wrong type inside": lambda path, doc: _write(path, {k: (["x"] if k in ("entries", "memos") else v)
                                                              for k, v in doc.items()}),
    "a FIFO": lambda path, doc: (path.unlink(), os.mkfifo(path)),
}


@pytest.fixture
def cached(tmp_path):
    root, cache = copy_root(default_root(), tmp_path / "root"), tmp_path / "cache"
    first = run(root, only=ONLY, cache_folder=cache)
    return root, cache, first


@pytest.mark.parametrize("which", ["entries", "memos"])
@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_a_hostile_cache_file_costs_a_quick_run_nothing_but_time(cached, which, hostile):
    if hostile == "a FIFO" and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs need a POSIX system")
    root, cache, first = cached
    [path] = [p for p in cache.glob("verify-*.json") if p.name.endswith(".memos.json") == (which == "memos")]
    HOSTILE[hostile](path, orjson.loads(path.read_bytes()) if path.is_file() else {})
    again = run(root, only=ONLY, quick=True, cache_folder=cache)
    assert _statuses(again) == _statuses(first)
    if which == "entries" and hostile != "other contracts":  # digests do not depend on contracts
        assert again.context.cache.trusted == 0  # every file hashed again
    for left in cache.glob("verify-*.json"):  # both rewritten, sound, for this root
        doc = orjson.loads(left.read_bytes())
        assert doc["version"] == CACHE_VERSION and doc["root"] == str(root.resolve())
