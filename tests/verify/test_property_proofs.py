"""A passing property check is remembered as a signed proof; `--quick` reuses it only when it
is signed by this run's key, bound to the code, contracts, dependencies and profile computed
now, and younger than its evidence_freshness.v1 row (property_proof.v1). Anything else runs
the check again; nothing can make a check pass that did not pass."""
from __future__ import annotations

import datetime as dt
import dis
import os
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lume.runtime.core import (
    CheckResult,
    SigningKey,
    held,
    load_or_create_key,
    read_envelope,
    rfc3339,
    sign_statement,
    verify_report,
    violated,
    write_json,
)
from lume.verifiers import default_root, report, run
from lume.verifiers._catalog import all_verifiers
from lume.verifiers._proofs import Proofs

CHECK = "lumf.codec.properties"  # the cheapest property check


def verify(cache: Path, *, quick: bool, key: SigningKey):
    [result] = [c for c in run(default_root(), only=[CHECK], quick=quick, cache_folder=cache,
                               key=key).checks if c.id == CHECK]
    return result


def remembered(result: CheckResult) -> bool:
    return result.evidence[0].field == f"proof:{CHECK}"


@pytest.fixture
def key() -> SigningKey:
    return load_or_create_key()


@pytest.fixture
def proven(tmp_path: Path, key: SigningKey) -> Path:
    """A cache folder holding the proof of a full run."""
    first = verify(tmp_path, quick=False, key=key)
    assert first.status == "pass" and not remembered(first)
    assert (tmp_path / "proofs" / f"{CHECK}.json").is_file()
    return tmp_path


def test_a_quick_run_reuses_the_proof_of_a_full_run_and_says_so(proven, key):
    again = verify(proven, quick=True, key=key)
    assert again.status == "pass" and remembered(again)
    origin = again.evidence[0]
    assert "remembered" in origin.message and "--quick" in origin.message
    assert origin.found["proof_key"] == origin.expected["proof_key"]
    # the rows of the run that proved it follow, unchanged
    full = verify(proven, quick=False, key=key)
    assert [e.message for e in again.evidence[1:]] == [e.message for e in full.evidence]


def test_a_full_run_never_reuses_a_proof(proven, key):
    assert not remembered(verify(proven, quick=False, key=key))


def test_the_report_of_a_quick_run_signs_and_verifies(proven, key, tmp_path):
    result = run(default_root(), quick=True, cache_folder=proven, key=key)
    assert {c.id for c in result.checks if c.evidence and c.evidence[0].field and
            c.evidence[0].field.startswith("proof:")} == {CHECK}  # only the one proven
    sealed = report(result, key, tmp_path / "r.json")
    assert verify_report(read_envelope(tmp_path / "r.json"), [key.trust_entry()])
    assert sealed.envelope() == read_envelope(tmp_path / "r.json")


def test_a_proof_signed_by_another_key_is_not_reused(proven):
    assert not remembered(verify(proven, quick=True, key=SigningKey.generate()))


def test_an_edited_proof_is_not_reused(proven, key):
    path = proven / "proofs" / f"{CHECK}.json"
    envelope = orjson.loads(path.read_bytes())
    payload = bytearray(envelope["payload"].encode())
    payload[40] = ord("A") if payload[40] != ord("A") else ord("B")
    envelope["payload"] = payload.decode()
    path.write_bytes(orjson.dumps(envelope))
    assert not remembered(verify(proven, quick=True, key=key))


def test_a_proof_of_other_code_is_not_reused(proven, key, monkeypatch):
    from lume.verifiers import _proofs

    monkeypatch.setattr(_proofs, "code_digest", lambda: "0" * 64)
    assert not remembered(verify(proven, quick=True, key=key))


def test_a_proof_under_another_profile_is_not_reused(proven, key, monkeypatch):
    monkeypatch.setenv("LUME_PROPERTY_PROFILE", "report")
    assert not remembered(verify(proven, quick=True, key=key))


def _signed(proofs: Proofs, *, proven_at: str, evidence=None, check: str = CHECK) -> None:
    v = all_verifiers()[CHECK]
    doc = {"schema": "lume.property_proof.v1", "proven_at": proven_at,
           "tool": {"name": "lume", "version": "0"}, "check": check, "proof_key": proofs.proof_key,
           "inputs": proofs.inputs, "budget": {"profile": "smoke", "seed": 1, "max_examples": 1},
           "status": "pass", "duration_ms": 1.0,
           "evidence": evidence or [held("ok", field="property:x").to_dict()]}
    subjects = [{"name": f"property-proof:{v.id}", "digest": {"sha256": proofs.proof_key}}]
    write_json(proofs.path(v.id), sign_statement(doc, subjects, proofs.key, contract="property_proof.v1"))


def _ago(hours: float) -> str:
    return rfc3339(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours))


def test_a_proof_older_than_its_maximum_age_is_not_reused(tmp_path, key):
    proofs = Proofs(key, tmp_path / "proofs")
    _signed(proofs, proven_at=_ago(1))
    assert proofs.recall(all_verifiers()[CHECK]) is not None  # the same proof, an hour old
    _signed(proofs, proven_at=_ago(25))  # evidence_freshness.v1 property_proof: 24 h
    assert proofs.recall(all_verifiers()[CHECK]) is None
    _signed(proofs, proven_at=_ago(-1))  # dated an hour ahead: beyond the clock-skew allowance
    assert proofs.recall(all_verifiers()[CHECK]) is None


def test_a_proof_with_a_row_that_did_not_hold_is_not_reused(tmp_path, key):
    proofs = Proofs(key, tmp_path / "proofs")
    _signed(proofs, proven_at=_ago(0), evidence=[violated("broken", field="property:x").to_dict()])
    assert proofs.recall(all_verifiers()[CHECK]) is None


@pytest.mark.parametrize("row", [
    {"file": None, "field": "property:x", "expected": None, "found": None, "message": ""},
    {"file": None, "field": "property:x", "expected": None, "found": None, "message": "ok", "extra": 1},
    {"file": None, "field": "property:x", "expected": None, "found": None, "message": "ok", "warning": False},
    {"file": None, "field": "", "expected": None, "found": None, "message": "ok"},
    {"file": None, "field": "property:x", "message": "ok"},  # expected / found are required
    {"file": None, "field": "property:x", "expected": None, "found": None, "message": "ok",
     "outcome": "unchecked"},
], ids=["empty-message", "unknown-key", "warning-false", "empty-field", "missing-keys",
        "unchecked"])
def test_a_proof_whose_row_is_not_a_held_readiness_report_row_is_not_reused(tmp_path, key, row):
    proofs = Proofs(key, tmp_path / "proofs")
    _signed(proofs, proven_at=_ago(0), evidence=[held("ok", field="property:x").to_dict(), row])
    assert proofs.recall(all_verifiers()[CHECK]) is None


def test_a_proof_filed_under_another_check_is_not_reused(tmp_path, key):
    proofs = Proofs(key, tmp_path / "proofs")
    _signed(proofs, proven_at=_ago(0), check="safety.airdeck.properties")
    assert proofs.recall(all_verifiers()[CHECK]) is None


def test_a_failing_check_is_never_remembered(tmp_path, key):
    proofs = Proofs(key, tmp_path / "proofs")
    v = all_verifiers()[CHECK]
    proofs.remember(v, CheckResult(v.id, v.title, "fail", [], [violated("x", field="f")], 1.0, "rig"))
    proofs.remember(v, CheckResult(v.id, v.title, "inconclusive", [], [], 1.0, "rig"))
    assert not proofs.path(v.id).exists()


def test_a_proofs_folder_swapped_for_a_link_is_not_written_through(tmp_path, key):
    """The cache folder may be shared: whoever can write it must not steer where proofs land."""
    v = all_verifiers()[CHECK]
    passed = CheckResult(v.id, v.title, "pass", [], [held("ok", field="property:x")], 1.0, "rig")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "proofs").symlink_to(elsewhere)
    Proofs(key, tmp_path / "cache" / "proofs").remember(v, passed)
    assert list(elsewhere.iterdir()) == []  # best effort: not remembered, so run again next time
    (tmp_path / "cache" / "proofs").unlink()
    Proofs(key, tmp_path / "cache" / "proofs").remember(v, passed)  # the control: a real folder
    assert (tmp_path / "cache" / "proofs" / f"{CHECK}.json").is_file()


def test_a_proof_that_is_not_a_regular_file_is_ignored(tmp_path, key):
    proofs = Proofs(key, tmp_path / "proofs")
    proofs.path(CHECK).parent.mkdir(parents=True)
    os.mkfifo(proofs.path(CHECK))  # a FIFO must never block the run
    assert proofs.recall(all_verifiers()[CHECK]) is None


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_in_place_of_a_proof_are_ignored(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("proofs")
    proofs = Proofs(SigningKey.generate(), folder)
    proofs.path(CHECK).write_bytes(data)
    assert proofs.recall(all_verifiers()[CHECK]) is None


def test_the_proof_key_does_not_depend_on_the_folder_lume_runs_from(tmp_path, monkeypatch):
    from lume.verifiers._proofs import proof_inputs

    here = proof_inputs()
    (tmp_path / "other-0.1.dist-info").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert proof_inputs() == here


def _reads(fn, name: str) -> bool:
    code = fn.__code__
    return any(i.argval == name for i in dis.get_instructions(code)
               if i.opname in {"LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_FAST_CHECK"})


def test_only_checks_that_never_read_the_root_are_remembered():
    proven = {v.id for v in all_verifiers().values() if v.proof}
    assert proven == {"safety.airdeck.properties", "safety.bodytruth.properties",
                      "director.ownership.properties", "lumf.codec.properties"}
    for vid in proven:
        assert not _reads(all_verifiers()[vid].check, "ctx"), f"{vid} reads its Context"
