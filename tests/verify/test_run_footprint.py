"""A finished run keeps its results and subjects and nothing the checks read: the report is
signed after the run, and whatever the run still held would count at the report's peak
(issue 19: memory that grows with the root)."""
from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from verify_roots import copy_root, settle

from lume.verifiers import _schema_conformance
from lume.verifiers._context import Context
from lume.verifiers._digests import DigestCache
from lume.verifiers._properties import budget, run_property, scheduled
from lume.verifiers._runner import default_root, run


@pytest.fixture
def root(tmp_path):
    return copy_root(default_root(), tmp_path / "root")


def test_a_finished_run_holds_no_document_scan_or_cache_entry(root, tmp_path):
    result = run(root, only=[_schema_conformance.ID], cache_folder=tmp_path / "cache")
    ctx = result.context
    assert (ctx._json, ctx._scans, ctx._contracts) == ({}, {}, {})
    assert (ctx.cache.entries, ctx.cache.memos, ctx.cache.stored, ctx.cache.stored_memos) == ({}, {}, {}, {})
    assert len(result.subjects) == len(ctx.files) > 0  # the digests live on as the subjects
    assert ctx.cache.hashed == len(ctx.files)  # and the counters the report states


def test_a_context_is_not_kept_alive_by_a_cache_of_its_methods(root, tmp_path):
    ctx = Context(root, cache_folder=tmp_path / "cache")
    document = next(rel for rel in ctx.documents if rel.endswith(".json"))
    ctx.json(document), ctx.contract_of(document)
    gone = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert gone() is None


def test_only_a_partial_run_reads_the_old_cache_back(root, tmp_path, monkeypatch):
    read_back = []
    earlier = DigestCache._earlier_memos
    monkeypatch.setattr(DigestCache, "_earlier_memos", lambda self: read_back.append(1) or earlier(self))
    run(root, cache_folder=tmp_path / "cache")  # every check ran: nothing earlier is worth keeping
    assert read_back == []
    run(root, only=[_schema_conformance.ID], cache_folder=tmp_path / "cache")  # --only keeps the rest
    assert read_back == [1]


def test_a_quick_run_holds_each_stored_entry_once(root, tmp_path):
    settle(root)
    run(root, only=[_schema_conformance.ID], cache_folder=tmp_path / "cache")
    quick = DigestCache(root, quick=True, folder=tmp_path / "cache")
    assert quick.stored
    rels = list(quick.stored)
    quick.digest_many(rels)
    assert quick.trusted == len(rels) and quick.stored == {}  # each taken out as it is trusted


def test_this_process_takes_property_checks_only_once_the_root_is_let_go(tmp_path, monkeypatch, held_helper):
    """The verifying process helps with property checks after its file checks, but only once the
    digest cache is saved, what the checks read is released and the free heap handed back: the
    property checks' peak must not stack on the root's (it grows with the root)."""
    from lume.verifiers import _runner

    events = []
    here = _runner._run_here

    def watching(v, ctx, *rest):
        if ctx is None:
            events.append(("property check here", any((tmp_path / "cache").glob("verify-*.json"))))
        return here(v, ctx, *rest)

    release = Context.release
    monkeypatch.setattr(Context, "release", lambda self: events.append(("released", None)) or release(self))
    monkeypatch.setattr(_runner, "return_free_memory", lambda: events.append(("heap trimmed", None)))
    monkeypatch.setattr(_runner, "_run_here", watching)
    properties = ["lumf.codec.properties", "director.ownership.properties", "safety.bodytruth.properties"]
    result = run(default_root(), only=[*properties, _schema_conformance.ID], cache_folder=tmp_path / "cache")
    assert [c.status for c in result.checks] == ["pass"] * 4
    assert held_helper.asked == [scheduled(properties)[:1]]  # the other two ran here
    assert events == [("released", None), ("heap trimmed", None), *[("property check here", True)] * 2]


def test_a_partial_run_reads_back_the_other_checks_memos_not_every_files_entry(root, tmp_path, monkeypatch):
    """Memos (a few KB) live apart from the entries (one per file of the root): keeping the other
    checks' memos costs a small read, not the whole cache."""
    from lume.verifiers import _digests

    run(root, cache_folder=tmp_path / "cache")
    read = []
    real = _digests.read_input
    monkeypatch.setattr(_digests, "read_input",
                        lambda path, kind: read.append(Path(path).name) or real(path, kind))
    run(root, only=[_schema_conformance.ID], cache_folder=tmp_path / "cache")
    assert len(read) == 1 and read[0].endswith(".memos.json")


def test_a_property_runs_with_the_long_lived_heap_out_of_the_collectors_passes():
    """The examples a property generates trigger full collections: they do not walk what was
    alive before the property started (imports, contracts, strategies), which is given back after."""
    from hypothesis import strategies as st

    gc.unfreeze()  # a director server that ran in this process froze its start-up heap
    frozen: list[int] = []

    def prop(value, counts):
        frozen.append(gc.get_freeze_count())

    out = run_property("frozen", (), st.integers(), prop, budget("lumf.codec.properties"))
    assert not out.failed and frozen and min(frozen) > 0
    assert gc.get_freeze_count() == 0
