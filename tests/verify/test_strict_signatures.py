"""Strict Ed25519 and strict envelopes (issue 18): forged keys and signatures, duplicate keys,
every trusted signature verifies, odd key ids, deep payloads, size and file-type bounds, and a
hypothesis fuzz of DSSE envelopes that must never end in a traceback."""
from __future__ import annotations

import base64
import copy
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.cli import main
from lume.runtime.core import (
    KeyProblem,
    MalformedEnvelope,
    ReportRejected,
    get,
    load_trust,
    parse_envelope,
    public_key_problem,
    sign_report,
    trust,
    verify_ed25519,
    verify_report,
)
from lume.runtime.core._keys import SigningKey, keyid_of
from lume.runtime.core._signing import PAYLOAD_TYPE, pae

IDENTITY = bytes([1]) + bytes(31)  # the identity point: a small-order "public key"
FORGERY = IDENTITY + bytes(32)  # R = identity, S = 0: "verifies" any message under IDENTITY
L = 2**252 + 27742317777372353535851937790883648493  # the order of the prime subgroup


SUBJECTS = get("readiness_report.v1").examples[0]["subjects"]


def predicate(root: str = "fixtures/route_smoke") -> dict:
    p = copy.deepcopy(get("readiness_report.v2").examples[0])
    p["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    p["root"] = root
    return p


def envelope(payload: bytes, sigs: list[tuple[str, bytes]]) -> dict:
    return {"payload": base64.b64encode(payload).decode(), "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": k, "sig": base64.b64encode(s).decode()} for k, s in sigs]}


def statement_bytes(p: dict) -> bytes:
    stmt = {"_type": "https://in-toto.io/Statement/v1", "subject": SUBJECTS,
            "predicateType": get("readiness_report.v2").id, "predicate": p}
    return json.dumps(stmt).encode()


def signed_by(key: SigningKey, payload: bytes) -> tuple[str, bytes]:
    return key.keyid, key.private.sign(pae(PAYLOAD_TYPE, payload))


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def trusted(key, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "trusted_keys.json"
    path.write_text(json.dumps([key.trust_entry("test")]))
    monkeypatch.setenv("LUME_TRUST_FILE", str(path))
    return path


def lume(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write(path: Path, doc) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


# ---------------------------------------------------------------------------- strict Ed25519
def test_the_identity_point_forgery_verifies_nothing():
    assert public_key_problem(IDENTITY) is not None
    assert not verify_ed25519(IDENTITY, b"any report at all", FORGERY)


def test_identity_key_is_refused_when_trusted(tmp_path):
    path = tmp_path / "trust.json"
    with pytest.raises(KeyProblem, match="small-order"):
        trust(IDENTITY.hex(), path)
    r = lume("keys", "trust", IDENTITY.hex(), "--trust-file", path)
    assert r.exit_code == 2 and "small-order" in r.output and "Traceback" not in r.output
    assert not path.exists()


def test_identity_key_in_a_hand_edited_trust_file_is_refused(tmp_path):
    path = write(tmp_path / "trust.json", [{"keyid": keyid_of(IDENTITY), "scheme": "ed25519",
                                            "public": IDENTITY.hex()}])
    with pytest.raises(KeyProblem, match="small-order"):
        load_trust(path)


def test_forged_report_with_an_identity_key_is_refused_at_verify_time(tmp_path):
    """Even handed the bad key directly (no trust-file loader), the verifier refuses it."""
    p = predicate(root="/somewhere/else")
    env = envelope(statement_bytes(p), [(keyid_of(IDENTITY), FORGERY)])
    bad_trust = [{"keyid": keyid_of(IDENTITY), "scheme": "ed25519", "public": IDENTITY.hex()}]
    with pytest.raises(ReportRejected, match="unusable.*small-order"):
        verify_report(env, bad_trust)
    # and through the CLI with a hand-edited trust file: bad input, never AUTHENTIC
    write(tmp_path / "trust.json", bad_trust)
    r = lume("report", "verify", write(tmp_path / "forged.json", env), "--trust-file", tmp_path / "trust.json")
    assert r.exit_code == 2 and "AUTHENTIC" not in r.output and "small-order" in r.output


def test_non_canonical_s_is_refused(key):
    p = predicate()
    good = sign_report(p, SUBJECTS, key)
    raw = base64.b64decode(good["signatures"][0]["sig"])
    s = int.from_bytes(raw[32:], "little")
    malleated = raw[:32] + (s + L).to_bytes(32, "little")
    good["signatures"][0]["sig"] = base64.b64encode(malleated).decode()
    with pytest.raises(ReportRejected, match="bad signature"):
        verify_report(good, [key.trust_entry()])


def test_small_order_r_is_refused(key):
    payload = statement_bytes(predicate())
    with pytest.raises(ReportRejected, match="bad signature"):
        verify_report(envelope(payload, [(key.keyid, IDENTITY + bytes(32))]), [key.trust_entry()])


# ---------------------------------------------------------------------------- every signature counts
def test_bad_then_good_signature_with_the_same_keyid_is_refused(key):
    payload = statement_bytes(predicate())
    good = signed_by(key, payload)
    bad = (key.keyid, bytes(64))
    assert verify_report(envelope(payload, [good]), [key.trust_entry()])
    for sigs in ([bad, good], [good, bad]):
        with pytest.raises(ReportRejected, match="bad signature #"):
            verify_report(envelope(payload, sigs), [key.trust_entry()])


def test_an_untrusted_extra_signature_is_ignored(key):
    payload = statement_bytes(predicate())
    other = SigningKey.generate()
    env = envelope(payload, [("somebody-else", bytes(64)), signed_by(key, payload), signed_by(other, payload)])
    assert verify_report(env, [key.trust_entry()])


# ---------------------------------------------------------------------------- strict JSON
def test_duplicate_outer_payload_key_is_refused(key, trusted, tmp_path):
    p = predicate()
    env = sign_report(p, SUBJECTS, key)
    text = json.dumps(env)
    evil = text[:-1] + ', "payload": "' + base64.b64encode(b'{"x": 1}').decode() + '"}'
    with pytest.raises(MalformedEnvelope, match="duplicate key 'payload'"):
        parse_envelope(evil)
    r = lume("report", "verify", write(tmp_path / "dup.json", evil))
    assert r.exit_code == 2 and "duplicate key" in r.output and "Traceback" not in r.output


def test_duplicate_key_inside_a_signed_payload_is_refused(key):
    p = predicate()
    body = statement_bytes(p)
    evil = body[:-1] + b', "predicateType": "lume:contract:other:v1"}'
    with pytest.raises(ReportRejected, match="duplicate key 'predicateType'"):
        verify_report(envelope(evil, [signed_by(key, evil)]), [key.trust_entry()])


@pytest.mark.parametrize("keyid", [None, {"a": 1}, [1, 2], 7, True])
def test_odd_keyids_are_bad_input_not_a_traceback(key, trusted, tmp_path, keyid):
    p = predicate()
    env = sign_report(p, SUBJECTS, key)
    env["signatures"][0]["keyid"] = keyid
    r = lume("report", "verify", write(tmp_path / "odd.json", env))
    assert r.exit_code == 2, r.output
    assert "keyid" in r.output and "Traceback" not in r.output and r.exception is None or \
        isinstance(r.exception, SystemExit)


def test_a_50k_deep_payload_is_refused_with_a_reason(key, trusted, tmp_path):
    deep = b"[" * 50_000 + b"]" * 50_000
    # signed by a trusted key, so the payload is really parsed
    r = lume("report", "verify", write(tmp_path / "deep.json", envelope(deep, [signed_by(key, deep)])))
    assert r.exit_code == 1 and "depth" in r.output and "Traceback" not in r.output
    # an envelope that is itself 50k deep is bad input
    r = lume("report", "verify", write(tmp_path / "deeper.json", '{"payload":' + "[" * 50_000 + "]" * 50_000 + "}"))
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_an_oversized_envelope_is_refused_before_it_is_read(key, trusted, tmp_path, monkeypatch):
    from lume.runtime.core import _files

    real = _files.input_limit
    monkeypatch.setattr(_files, "input_limit", lambda kind: SimpleNamespace(
        **{**vars(real(kind)), "max_bytes": 1000}) if kind == "dsse_envelope" else real(kind))
    p = predicate()
    r = lume("report", "verify", write(tmp_path / "big.json", sign_report(p, SUBJECTS, key)))
    assert r.exit_code == 2 and "over the 1000 bytes limit for dsse_envelope inputs [input_limits.v1]" in r.output
    assert "SAFE-SIGNED-EVIDENCE" in r.output


def test_the_envelope_bounds_have_one_owner_the_input_limits_row() -> None:
    """SAFE-SIGNED-EVIDENCE names input_limits.v1's `dsse_envelope` row; it holds no second number."""
    from lume.runtime.core import input_limit, parameters

    row, params = input_limit("dsse_envelope"), parameters("SAFE-SIGNED-EVIDENCE")
    assert row.max_bytes > 0 and row.max_depth > 0
    assert not any(isinstance(v, int) and not isinstance(v, bool) for v in params.values())
    assert params["max_envelope_bytes"] == "input_limits.v1 kinds.dsse_envelope.max_bytes"


def test_a_fifo_is_refused_not_waited_on(trusted, tmp_path):
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    r = lume("report", "verify", fifo)
    assert r.exit_code == 2 and "not a regular file" in r.output


# ---------------------------------------------------------------------------- fuzz
def _verify_bytes(data: bytes, key: SigningKey) -> None:
    """What `report verify` does with a file's bytes: only ReportRejected may come out."""
    try:
        env = parse_envelope(data)
        verify_report(env, [key.trust_entry()], max_age_s=3600)
    except ReportRejected as exc:
        assert exc.reason and "\n" not in exc.reason
        assert "Traceback" not in exc.reason


FUZZ_KEY = SigningKey.generate()
_P = predicate()
GOOD = sign_report(_P, SUBJECTS, FUZZ_KEY)
GOOD_TEXT = json.dumps(GOOD).encode()


@given(st.binary(max_size=2048))
def test_fuzz_envelope_bytes(data):
    _verify_bytes(data, FUZZ_KEY)


@given(st.data())
def test_fuzz_envelope_byte_mutations(data):
    raw = bytearray(GOOD_TEXT)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    _verify_bytes(bytes(raw), FUZZ_KEY)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10)


@given(st.data())
def test_fuzz_envelope_structure(data):
    """Replace, drop or add a field anywhere in the envelope (and in its decoded Statement)."""
    env = copy.deepcopy(GOOD)
    stmt = json.loads(base64.b64decode(env["payload"]))
    target = data.draw(st.sampled_from(["envelope", "signature", "statement", "predicate"]))
    node = {"envelope": env, "signature": env["signatures"][0], "statement": stmt,
            "predicate": stmt["predicate"]}[target]
    name = data.draw(st.sampled_from(sorted(node) + ["extra"]))
    action = data.draw(st.sampled_from(["replace", "drop"]))
    if action == "drop":
        node.pop(name, None)
    else:
        node[name] = data.draw(JSON_VALUES)
    if target in ("statement", "predicate"):
        payload = json.dumps(stmt).encode()
        env["payload"] = base64.b64encode(payload).decode()
        if data.draw(st.booleans()):  # re-sign, so the mutated Statement itself is judged
            env["signatures"] = [{"keyid": FUZZ_KEY.keyid, "sig": base64.b64encode(
                FUZZ_KEY.private.sign(pae(PAYLOAD_TYPE, payload))).decode()}]
    _verify_bytes(json.dumps(env).encode(), FUZZ_KEY)


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@given(JSON_VALUES)
def test_depth_of_json_text_is_the_nesting_depth(value):
    from lume.runtime.core._strict_json import depth_of

    assert depth_of(json.dumps(value).encode()) == _depth(value)
    assert depth_of(json.dumps(value, ensure_ascii=False).encode()) == _depth(value)


class Obj(list):
    """A JSON object as written: its (key, value) pairs, duplicates allowed."""


def _text(v) -> str:
    if isinstance(v, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{_text(x)}" for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_text(x) for x in v) + "]"
    return json.dumps(v)


def _has_duplicate(v) -> bool:
    if isinstance(v, Obj):
        keys = [k for k, _ in v]
        return len(keys) != len(set(keys)) or any(_has_duplicate(x) for _, x in v)
    if isinstance(v, list):
        return any(_has_duplicate(x) for x in v)
    return False


PAIRS_JSON = st.recursive(
    st.none() | st.integers(-2**63, 2**63 - 1) | st.text(alphabet='ab:"\\\\{}[]', max_size=4),
    lambda c: st.lists(c, max_size=3) | st.lists(st.tuples(st.sampled_from(["a", "b", ":", '"', "{"]), c),
                                                 max_size=4).map(Obj),
    max_leaves=12)


@given(PAIRS_JSON)
def test_duplicate_keys_are_refused_at_any_depth_and_only_then(value):
    from lume.runtime.core import StrictJSONError, loads_strict

    text = _text(value)
    if _has_duplicate(value):
        with pytest.raises(StrictJSONError, match="duplicate key"):
            loads_strict(text, max_depth=64)
    else:
        assert loads_strict(text, max_depth=64) == json.loads(text)
