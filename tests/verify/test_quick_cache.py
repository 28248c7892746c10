"""What quick mode remembers between runs changes no result: the per-file results of checks
that a partial (`--only`) run did not run, training pairs; and the contracts a report cites come
from the contract files and the installed code, never from the cache folder."""
from __future__ import annotations

import hashlib

import pytest

from lume.runtime.core import contract_ref, contracts_dir, load_all
from lume.verifiers import _predicate
from lume.verifiers._predicate import contract_refs


@pytest.fixture
def fresh_refs():
    contract_refs.cache_clear()
    yield
    contract_refs.cache_clear()


def test_contract_refs_from_the_generated_index_are_those_parsed(monkeypatch, fresh_refs):
    parsed = [contract_ref(c, with_file=True) for c in load_all()]
    monkeypatch.setattr(_predicate, "load_all", lambda: pytest.fail("parsed although indexed by codegen"))
    assert contract_refs() == parsed


def test_a_contract_changed_since_codegen_is_parsed(monkeypatch, fresh_refs):
    parsed = [contract_ref(c, with_file=True) for c in load_all()]
    stale = {**_predicate.CONTRACT_FILES,
             "contracts/labels.v1.yaml": {"id": "lume:contract:labels:v1", "sha256": "0" * 64}}
    monkeypatch.setattr(_predicate, "CONTRACT_FILES", stale)
    loaded = []
    monkeypatch.setattr(_predicate, "load_all", lambda: loaded.append(1) or load_all())
    assert contract_refs() == parsed and loaded == [1]


def test_nothing_in_the_cache_folder_changes_the_contracts_a_report_cites(tmp_path, monkeypatch, fresh_refs):
    """A shared cache folder once held a memo of `$id`s by file digest: whoever could write it
    made a full run's signed report cite a forged `$id` for a real contract file."""
    monkeypatch.setenv("LUME_CACHE_DIR", str(tmp_path))
    parsed = [contract_ref(c, with_file=True) for c in load_all()]
    labels = hashlib.sha256((contracts_dir() / "labels.v1.yaml").read_bytes()).hexdigest()
    (tmp_path / "contract-ids.json").write_text('{"ids": {"%s": "lume:contract:labels:v9"}}' % labels)
    assert contract_refs() == parsed
    assert [p.name for p in tmp_path.iterdir()] == ["contract-ids.json"]  # and nothing is written there


def test_a_partial_run_keeps_what_the_other_checks_remembered(tmp_path, monkeypatch):
    import orjson
    from verify_roots import copy_root, settle

    from lume.verifiers import _scan, _schema_conformance
    from lume.verifiers._digests import unseal
    from lume.verifiers._runner import default_root, run

    root, cache = settle(copy_root(default_root(), tmp_path / "root")), tmp_path / "cache"
    first = run(root, only=[_schema_conformance.ID], cache_folder=cache)
    run(root, only=["labels.table"], cache_folder=cache)
    memos = orjson.loads(unseal(first.context.cache.memo_path.read_bytes(), None))["memos"]  # no key
    assert {_schema_conformance.ID, "labels.table"} <= set(memos)

    def validate_again(*_):
        pytest.fail("an unchanged file was validated again in quick mode")

    monkeypatch.setattr(_scan, "_validation", validate_again)
    again = run(root, only=[_schema_conformance.ID], quick=True, cache_folder=cache)
    assert [c.status for c in again.checks] == [c.status for c in first.checks]
    assert [c.to_dict()["evidence"] for c in again.checks] == [c.to_dict()["evidence"] for c in first.checks]


def _pairs_run(root, cache, quick: bool) -> tuple[list[dict], bool]:
    """training.pairs over `root` in a fresh interpreter: its evidence, and whether numpy was imported."""
    import json
    import subprocess
    import sys

    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from lume.verifiers import run\n"
            f"r = run(Path({str(root)!r}), only=['training.pairs'], quick={quick},\n"
            f"        cache_folder=Path({str(cache)!r}))\n"
            "print(json.dumps([[e.to_dict() for e in r.checks[0].evidence], 'numpy' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    evidence, numpy = json.loads(done.stdout.splitlines()[-1])
    return evidence, numpy


def test_a_quick_run_takes_unchanged_training_pairs_from_the_cache_without_importing_numpy(tmp_path):
    from verify_roots import copy_root, settle

    from lume.verifiers._runner import default_root

    root, cache = settle(copy_root(default_root(), tmp_path / "root")), tmp_path / "cache"
    checked, numpy = _pairs_run(root, cache, quick=False)
    assert numpy and checked and all("outcome" not in e for e in checked)
    assert _pairs_run(root, cache, quick=True) == (checked, False)  # same rows, numpy never imported
    # a changed file is checked again
    from lume.runtime.training import read_npz, write_npz

    pairs = next(root.rglob("v6_pairs.npz"))
    arrays, _ = read_npz(pairs)
    arrays["conditioning"][0, 0] = float("nan")
    write_npz(pairs, arrays)
    again, numpy = _pairs_run(root, cache, quick=True)
    assert numpy and again != checked and any(e.get("outcome") == "violated" for e in again)
