"""The verify cache's two files (each file's digest; what checks remembered) live in a folder
other programs and users can write: whatever sits there, a run finishes with the same verdicts,
trusts nothing it cannot check, never blocks, and leaves both files sound for the next run.
Both are sealed under a secret derived from the signing key: a cache made without that key is
never trusted, however well it names the files' stamps."""
from __future__ import annotations

import os

import orjson
import pytest
from verify_roots import copy_root, settle

from lume.runtime.core import SigningKey
from lume.verifiers import _schema_conformance
from lume.verifiers._digests import CACHE_VERSION, SECRET_PURPOSE, seal, unseal
from lume.verifiers._runner import default_root, run

ONLY = [_schema_conformance.ID, "labels.table"]
KEY = SigningKey.generate()
SECRET = KEY.derive(SECRET_PURPOSE)
OTHER = SigningKey.generate().derive(SECRET_PURPOSE)


def _write(path, doc, secret=SECRET):
    path.unlink()
    path.write_bytes(seal(orjson.dumps(doc), secret))


def _doc(path):
    return orjson.loads(unseal(path.read_bytes(), SECRET))


def _statuses(result):
    return [(c.id, c.status, [e.message for e in c.evidence]) for c in result.checks]


def _tamper_seal(path, doc):
    data = bytearray(path.read_bytes())
    at = data.index(b"\n") - 1
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    path.write_bytes(bytes(data))


HOSTILE = {
    "junk bytes": lambda path, doc: path.write_bytes(b"\x00\xffnot json"),
    "a JSON list": lambda path, doc: _write(path, [doc]),
    "another root": lambda path, doc: _write(path, {**doc, "root": "/elsewhere"}),
    "an older version": lambda path, doc: _write(path, {**doc, "version": CACHE_VERSION - 1}),
    "other contracts": lambda path, doc: _write(path, {**doc, "fingerprint": "0" * 64}),
    "the wrong type inside": lambda path, doc: _write(path, {k: (["x"] if k in ("entries", "memos") else v)
                                                              for k, v in doc.items()}),
    "a FIFO": lambda path, doc: (path.unlink(), os.mkfifo(path)),
    "no seal": lambda path, doc: path.write_bytes(orjson.dumps(doc)),
    "sealed without a key": lambda path, doc: _write(path, doc, None),
    "sealed under another key": lambda path, doc: _write(path, doc, OTHER),
    "its seal edited": _tamper_seal,
    "its body edited": lambda path, doc: path.write_bytes(path.read_bytes().replace(b'"root"', b'"root" ')),
}


@pytest.fixture
def cached(tmp_path):
    root, cache = copy_root(default_root(), tmp_path / "root"), tmp_path / "cache"
    first = run(root, only=ONLY, cache_folder=cache, key=KEY)
    return root, cache, first


@pytest.mark.parametrize("which", ["entries", "memos"])
@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_a_hostile_cache_file_costs_a_quick_run_nothing_but_time(cached, which, hostile):
    if hostile == "a FIFO" and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs need a POSIX system")
    root, cache, first = cached
    [path] = [p for p in cache.glob("verify-*.json") if p.name.endswith(".memos.json") == (which == "memos")]
    HOSTILE[hostile](path, _doc(path) if path.is_file() else {})
    again = run(root, only=ONLY, quick=True, cache_folder=cache, key=KEY)
    assert _statuses(again) == _statuses(first)
    if which == "entries" and hostile != "other contracts":  # digests do not depend on contracts
        assert again.context.cache.trusted == 0  # every file hashed again
    for left in cache.glob("verify-*.json"):  # both rewritten, sound, for this root
        doc = _doc(left)
        assert doc["version"] == CACHE_VERSION and doc["root"] == str(root.resolve())


def _forge(cache, rel, stamp_of, secret):
    """Whoever can write the cache folder rewrites it: `rel`'s entry names the file's stamp now
    and the digest it had, every memo of it the result it had."""
    [entries] = [p for p in cache.glob("verify-*.json") if not p.name.endswith(".memos.json")]
    [memos] = cache.glob("verify-*.memos.json")
    doc = _doc(entries)
    doc["entries"][rel][:4] = stamp_of(rel)
    _write(entries, doc, secret)
    doc = _doc(memos)
    for per_file in doc["memos"].values():
        if rel in per_file:
            per_file[rel][:4] = stamp_of(rel)
    _write(memos, doc, secret)


@pytest.mark.parametrize("forger", ["no key", "another key", "the run's own key"])
def test_a_cache_forged_without_the_key_never_hides_a_changed_file(tmp_path, forger):
    root, cache = settle(copy_root(default_root(), tmp_path / "root")), tmp_path / "cache"
    checks = ["storage.integrity", *ONLY]
    run(root, only=checks, cache_folder=cache, key=KEY)
    rel = "_processed/20260529-route-smoke-02/sources/mac4_tier0/raw/labels/labels.jsonl"
    data = (root / rel).read_bytes()
    (root / rel).write_bytes(data.replace(b'"', b"'", 1))  # same size: not JSON, not its digest
    full = run(root, only=checks, cache_folder=tmp_path / "elsewhere", key=KEY)
    found_out = {"storage.integrity": "fail", _schema_conformance.ID: "fail"}
    assert found_out.items() <= {c.id: c.status for c in full.checks}.items()

    def stamp_of(r):
        st = os.stat(root / r)
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    secret = {"no key": None, "another key": OTHER, "the run's own key": SECRET}[forger]
    _forge(cache, rel, stamp_of, secret)
    quick = run(root, only=checks, quick=True, cache_folder=cache, key=KEY)
    if forger == "the run's own key":  # only the holder of the signing key could have done this
        assert dict.fromkeys(found_out, "pass").items() <= {c.id: c.status for c in quick.checks}.items()
    else:
        assert _statuses(quick)[1:] == _statuses(full)[1:]  # the changed file read, found out
        assert [c.status for c in quick.checks] == [c.status for c in full.checks]
        assert quick.context.cache.trusted == 0
