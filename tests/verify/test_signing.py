"""Signed readiness reports: DSSE envelope, in-toto Statement, trust, freshness, renderings."""
from __future__ import annotations

import base64
import copy
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from securesystemslib.dsse import Envelope

from lume.runtime.core import canonical_json, get, parse_time
from lume.runtime.core._keys import SigningKey
from lume.runtime.core._signing import (
    PAYLOAD_TYPE,
    STATEMENT_TYPE,
    InvalidPredicate,
    ReportRejected,
    sign_report,
    verify_report,
)
from lume.verifiers import write_report

SUBJECTS = get("readiness_report.v1").examples[0]["subjects"]  # v2 lists them in the Statement only


def predicate(age_s: float = 0) -> dict:
    p = copy.deepcopy(get("readiness_report.v2").examples[0])
    p["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age_s))
    return p


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def signed(key: SigningKey, age_s: float = 0) -> dict:
    return sign_report(predicate(age_s), SUBJECTS, key)


def test_envelope_is_dsse_around_an_in_toto_statement(key):
    env = signed(key)
    assert env["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    assert [s["keyid"] for s in env["signatures"]] == [key.keyid]
    stmt = json.loads(base64.b64decode(env["payload"]))
    assert stmt["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == get("readiness_report.v2").id
    # each digest once: the files are the Statement's subjects, the predicate does not repeat them
    assert stmt["subject"] == SUBJECTS and "subjects" not in stmt["predicate"]
    payload = base64.b64decode(env["payload"])
    assert all(payload.count(canonical_json(s)) == 1 for s in SUBJECTS)
    # the signature is Ed25519 over the DSSE v1 PAE, byte for byte as the spec defines it
    payload = base64.b64decode(env["payload"])
    pae = b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    Ed25519PublicKey.from_public_bytes(key.public_bytes).verify(
        base64.b64decode(env["signatures"][0]["sig"]), pae)
    # and an independent DSSE implementation accepts it
    assert key.keyid in Envelope.from_dict(env).verify([key.sslib_key()], 1)


def test_authentic_report_verifies(key):
    stmt = verify_report(signed(key), [key.trust_entry()], max_age_s=3600)
    assert stmt["predicate"]["verdicts"]["overall"] == "green"


def test_keyid_is_sha256_of_the_raw_public_key(key):
    import hashlib

    assert key.keyid == hashlib.sha256(key.public_bytes).hexdigest()
    assert len(key.public_hex) == 64


@pytest.mark.parametrize("offset", [0, 37, -5])
def test_one_changed_payload_byte_is_rejected(key, offset):
    env = signed(key)
    raw = bytearray(base64.b64decode(env["payload"]))
    raw[offset] ^= 0x01
    env["payload"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(ReportRejected, match="bad signature"):
        verify_report(env, [key.trust_entry()])


def test_payload_type_swap_is_rejected(key):
    env = signed(key)
    env["payloadType"] = "application/json"
    with pytest.raises(ReportRejected, match="payloadType"):
        verify_report(env, [key.trust_entry()])


def test_untrusted_key_is_rejected(key):
    other = SigningKey.generate()
    with pytest.raises(ReportRejected, match="untrusted key"):
        verify_report(signed(key), [other.trust_entry()])
    with pytest.raises(ReportRejected, match="untrusted key"):
        verify_report(signed(key), [])


def test_signature_by_another_key_under_a_trusted_keyid_is_rejected(key):
    forged = signed(SigningKey.generate())
    forged["signatures"][0]["keyid"] = key.keyid
    with pytest.raises(ReportRejected, match="bad signature"):
        verify_report(forged, [key.trust_entry()])


def test_unsigned_report_is_rejected(key):
    env = signed(key)
    env["signatures"] = []
    with pytest.raises(ReportRejected, match="unsigned"):
        verify_report(env, [key.trust_entry()])


def test_old_report_is_stale(key):
    env = signed(key, age_s=2 * 86400)
    with pytest.raises(ReportRejected, match="stale"):
        verify_report(env, [key.trust_entry()], max_age_s=86400)
    assert verify_report(env, [key.trust_entry()])  # no age limit asked


def test_report_from_the_future_is_rejected(key):
    env = signed(key)
    generated = parse_time(verify_report(env, [key.trust_entry()])["predicate"]["generated_at"])
    with pytest.raises(ReportRejected, match="future"):
        verify_report(env, [key.trust_entry()], now=generated - 3600)


def test_invalid_predicate_is_refused_at_signing_and_at_verification(key):
    p = predicate()
    p["checks"][0]["status"] = "inconclusive"  # inconclusive but still green: breaks the contract
    with pytest.raises(InvalidPredicate, match="readiness_report.v2"):
        sign_report(p, SUBJECTS, key)
    # a signer that skipped the check still gets rejected by verifiers
    from securesystemslib.dsse import Envelope as Dsse

    from lume.runtime.core._signing import statement

    body = json.dumps(statement(p, SUBJECTS)).encode()
    env = Dsse(body, PAYLOAD_TYPE, {})
    env.sign(key.signer())
    with pytest.raises(ReportRejected, match="predicate invalid"):
        verify_report(env.to_dict(), [key.trust_entry()])


def test_a_predicate_never_lists_the_subjects_again(key):
    p = predicate()
    p["subjects"] = SUBJECTS
    with pytest.raises(InvalidPredicate, match="'subjects' was unexpected"):
        sign_report(p, SUBJECTS, key)


def v1_report(key: SigningKey, subjects: list) -> dict:
    """A report as lume wrote it before readiness_report.v2: the predicate repeats the subjects."""
    from lume.runtime.core import sign_statement

    p = copy.deepcopy(get("readiness_report.v1").examples[0])
    p["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return sign_statement(p, subjects, key, contract="readiness_report.v1")


def test_a_v1_report_still_verifies_when_its_two_subject_lists_agree(key):
    stmt = verify_report(v1_report(key, SUBJECTS), [key.trust_entry()], max_age_s=3600)
    assert stmt["predicateType"] == get("readiness_report.v1").id and stmt["subject"] == SUBJECTS


OTHER_DIGEST = [{"name": SUBJECTS[0]["name"], "digest": {"sha256": "0" * 64}}, *SUBJECTS[1:]]


@pytest.mark.parametrize("subjects", [SUBJECTS[:1], [], OTHER_DIGEST], ids=["fewer", "none", "other digest"])
def test_a_v1_report_whose_statement_names_other_files_is_rejected(key, subjects):
    with pytest.raises(ReportRejected, match="Statement subjects differ"):
        verify_report(v1_report(key, subjects), [key.trust_entry()])


def test_not_an_envelope_is_rejected(key):
    for bad in ([], {"payload": "x"}, {"payload": "%%%", "payloadType": PAYLOAD_TYPE,
                                        "signatures": [{"keyid": key.keyid, "sig": "AA=="}]}):
        with pytest.raises(ReportRejected):
            verify_report(bad, [key.trust_entry()])


def test_url_safe_base64_is_accepted(key):
    env = signed(key)
    env["payload"] = base64.urlsafe_b64encode(base64.b64decode(env["payload"])).decode().rstrip("=")
    assert verify_report(env, [key.trust_entry()])


def test_write_report_writes_json_markdown_and_self_contained_html(key, tmp_path):
    p = predicate()
    p["checks"][1]["status"] = "fail"
    p["checks"][1]["evidence"][0]["message"] = "sha256 <differs> | here"
    p["verdicts"].update(overall="red", data_sound=False)
    env = sign_report(p, SUBJECTS, key)
    paths = write_report(env, tmp_path / "out" / "readiness.json")
    assert [x.name for x in paths] == ["readiness.json", "readiness.md", "readiness.html"]
    assert json.loads(paths[0].read_text()) == env
    md, html = paths[1].read_text(), paths[2].read_text()
    assert f"- subjects: {len(SUBJECTS)} files" in md and f"<td>{len(SUBJECTS)} files</td>" in html
    assert "**RED**" in md and "| `storage.integrity`" in md and "\\|" in md
    assert "FAIL" in html and "&lt;differs&gt;" in html and "<differs>" not in html
    assert "<script" not in html and "http://" not in html and "https://" not in html.replace(
        "https://in-toto.io", "")
    assert not list((tmp_path / "out").glob(".*tmp"))  # atomic writes leave no temp files
