"""A large report is signed and written without holding its payload twice (issue 19, memory),
and the bytes are exactly those of the plain path: the same statement, PAE, signature and file.
"""
from __future__ import annotations

import copy
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from securesystemslib.dsse import Envelope

from lume.runtime.core import (
    SigningKey,
    _signing,
    canonical_json,
    get,
    read_envelope,
    seal_report,
    sign_report,
    verify_report,
    write_json,
    write_stream,
)
from lume.runtime.core._json_bytes import json_bytes
from lume.runtime.core._signing import PAYLOAD_TYPE, Sealed, _signed_bytes, _statement_parts, statement
from lume.verifiers import write_report

KEY = SigningKey.generate()

names = st.text(min_size=1, max_size=40)
digests = st.text("0123456789abcdef", min_size=64, max_size=64)
subject_lists = st.lists(st.builds(lambda n, d: {"name": n, "digest": {"sha256": d}}, names, digests),
                         max_size=20)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text() |
                           st.floats(allow_nan=False, allow_infinity=False),
                           lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def predicate() -> dict:
    p = copy.deepcopy(get("readiness_report.v2").examples[0])
    p["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return p


def many_subjects(n: int) -> list[dict]:
    return [{"name": f"takes/{i:06d}/body_truth.jsonl", "digest": {"sha256": f"{i:064x}"}} for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(subjects=subject_lists, extra=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
       at_once=st.integers(1, 4))
def test_the_statement_rendered_into_its_pae_is_its_canonical_bytes(subjects, extra, at_once):
    """The subject list is rendered a few subjects at a time, straight into the PAE: the payload
    is the canonical JSON, whatever the predicate holds (even the same list, or keys named
    `subject` or `subjects`), and the header is DSSE's."""
    pred = {**extra, "subjects": subjects, "nested": {"subject": subjects[:1]}}
    stmt = statement(pred, subjects)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_signing, "_SUBJECTS_AT_ONCE", at_once)
        signed, at = _signed_bytes(stmt)
    payload = canonical_json(stmt)
    assert bytes(signed[at:]) == payload
    assert bytes(signed) == Envelope(payload, PAYLOAD_TYPE, {}).pae()


def test_the_subject_list_is_spliced_in_once_never_rendered_whole():
    subjects = many_subjects(200)
    stmt = statement(predicate(), subjects)
    parts = _statement_parts(stmt)
    assert len(parts) == 3 and parts[1] is stmt["subject"]
    assert b"".join(p for p in parts if isinstance(p, bytes)).count(b"takes/") == 0


@pytest.mark.parametrize("n", [0, 1, 2, 500])
def test_the_sealed_envelope_is_the_securesystemslib_envelope_byte_for_byte(n):
    """Ed25519 is deterministic: the same payload and key give the same signature, so the lean
    signer must produce exactly the envelope securesystemslib's `Envelope` produces."""
    pred, subjects = predicate(), many_subjects(n)
    sealed = seal_report(pred, subjects, KEY)
    payload = canonical_json(statement(pred, subjects))
    reference = Envelope(payload, PAYLOAD_TYPE, {})
    assert bytes(sealed._pae) == reference.pae()
    reference.sign(KEY.signer())
    assert sealed.envelope() == reference.to_dict() == sign_report(pred, subjects, KEY)
    assert verify_report(sealed.envelope(), [KEY.trust_entry()], max_age_s=3600)


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=64), step=st.integers(1, 5))
def test_the_streamed_file_is_what_write_json_writes(payload, step, tmp_path_factory):
    """Whatever the payload's length against the base64 piece size, the pieces join to the
    indented JSON of the envelope and its newline."""
    header = b"DSSEv1 28 application/vnd.in-toto+json %d " % len(payload)
    sealed = Sealed(header + payload, len(header), [{"keyid": "k" * 64, "sig": "c2ln"}])
    sealed._STEP = 3 * step
    expected = json_bytes(sealed.envelope(), sort_keys=False, indent=True) + b"\n"
    assert b"".join(sealed.pieces()) == expected
    folder = tmp_path_factory.mktemp("w")
    write_stream(folder / "a.json", sealed.pieces())
    write_json(folder / "b.json", sealed.envelope())
    assert (folder / "a.json").read_bytes() == (folder / "b.json").read_bytes() == expected


def test_a_sealed_report_on_disk_verifies_and_reads_back_as_its_envelope(tmp_path):
    pred, subjects = predicate(), many_subjects(3000)
    sealed = seal_report(pred, subjects, KEY)
    written = write_report(sealed, tmp_path / "r.json", predicate=pred, subjects=subjects)
    assert [p.name for p in written] == ["r.json", "r.md", "r.html"]
    on_disk = read_envelope(tmp_path / "r.json")
    assert on_disk == sealed.envelope()
    stmt = verify_report(on_disk, [KEY.trust_entry()], max_age_s=3600)
    assert stmt["predicate"] == pred and stmt["subject"] == subjects
    assert "- subjects: 3000 files" in written[1].read_text()


@pytest.mark.parametrize("passed", [(), ("predicate",), ("subjects",)])
def test_a_sealed_envelope_needs_the_predicate_and_subjects_it_signed(tmp_path, passed):
    signed = {"predicate": predicate(), "subjects": many_subjects(2)}
    with pytest.raises(TypeError, match="predicate and subjects"):
        write_report(seal_report(signed["predicate"], signed["subjects"], KEY), tmp_path / "r.json",
                     **{k: signed[k] for k in passed})
    assert not (tmp_path / "r.json").exists()


def test_a_failed_stream_leaves_the_old_report_in_place(tmp_path):
    target = tmp_path / "r.json"
    target.write_bytes(b"old")

    def pieces():
        yield b"half"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_stream(target, pieces())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind
