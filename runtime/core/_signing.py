"""Signed readiness reports: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

The envelope is exactly DSSE v1 (securesystemslib's `Envelope`: PAE
`DSSEv1 <len(type)> <type> <len(payload)> <payload>`, base64 payload and signatures), so any
DSSE / in-toto verifier can check a report offline with the signer's public key. The
Statement's predicate follows lume:contract:readiness_report:v1, and its `predicateType` is
that contract's `$id`. A report counts only when it is signed, by a trusted key, over the
exact bytes shipped, is fresh, and its predicate is valid: anything else raises
ReportRejected with the reason.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import Signature

from lume.generated.constants import SAFE_MAC5_GATE

from ._contracts import get
from ._keys import SigningKey, load_trust, sslib_key
from ._rules import parameters
from ._time import parse_time
from ._validate import problems

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
REPORT_CONTRACT = "readiness_report.v1"


class ReportRejected(Exception):
    """The report does not count (unsigned, untrusted, modified, stale or invalid)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidPredicate(ValueError):
    """sign_report was given a predicate that breaks readiness_report.v1."""


def predicate_type() -> str:
    return get(REPORT_CONTRACT).id


def _predicate_problems(predicate: Any) -> list[str]:
    return [f"{p.path}: {p.message}" for p in problems(predicate, get(REPORT_CONTRACT),
                                                        file="predicate")]


def _subject_map(subjects: Any) -> dict[str, str]:
    return {s["name"]: s["digest"]["sha256"] for s in subjects}


def statement(predicate: dict[str, Any], subjects: list[dict[str, Any]]) -> dict[str, Any]:
    """The in-toto Statement v1 around a readiness predicate."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": s["name"], "digest": {"sha256": s["digest"]["sha256"]}} for s in subjects],
        "predicateType": predicate_type(),
        "predicate": predicate,
    }


def sign_report(predicate: dict[str, Any], subjects: list[dict[str, Any]],
                key: SigningKey) -> dict[str, Any]:
    """Sign a readiness predicate; returns the DSSE envelope as a JSON-ready dict.

    Raises InvalidPredicate when the predicate breaks readiness_report.v1 or its `subjects`
    differ from `subjects` (the Statement's subjects repeat the predicate's).
    """
    found = _predicate_problems(predicate)
    if found:
        raise InvalidPredicate(f"predicate breaks {REPORT_CONTRACT}: " + "; ".join(found))
    if _subject_map(subjects) != _subject_map(predicate["subjects"]):
        raise InvalidPredicate("Statement subjects differ from the predicate's `subjects`")
    payload = json.dumps(statement(predicate, subjects), sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(key.signer())
    return envelope.to_dict()


def mac5_gate_parameters() -> dict[str, Any]:
    return parameters(SAFE_MAC5_GATE)


def default_max_age_s() -> float:
    """The freshness limit of SAFE-MAC5-GATE (safety_invariants.v1)."""
    return float(mac5_gate_parameters()["max_age_s"])


def _check_envelope_shape(envelope: Any) -> None:
    if not isinstance(envelope, dict):
        raise ReportRejected("not a DSSE envelope: expected a JSON object")
    for name in ("payload", "payloadType", "signatures"):
        if name not in envelope:
            raise ReportRejected(f"not a DSSE envelope: `{name}` is missing")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise ReportRejected(f"payloadType is {envelope['payloadType']!r}, expected {PAYLOAD_TYPE!r}")
    sigs = envelope["signatures"]
    if not isinstance(sigs, list) or not all(isinstance(s, dict) and "keyid" in s and "sig" in s
                                             for s in sigs):
        raise ReportRejected("not a DSSE envelope: `signatures` must be a list of {keyid, sig}")
    if not sigs:
        raise ReportRejected("unsigned: the envelope carries no signature")


def _b64(text: Any) -> bytes:
    """Standard or URL-safe base64, padded or not (DSSE accepts both encodings)."""
    if not isinstance(text, str):
        raise ValueError("expected a base64 string")
    padded = text + "=" * (-len(text) % 4)
    alphabet = b"-_" if ("-" in text or "_" in text) else None
    return base64.b64decode(padded, altchars=alphabet, validate=True)


def _decode_payload(envelope: dict[str, Any]) -> bytes:
    try:
        return _b64(envelope["payload"])
    except (TypeError, ValueError, binascii.Error) as exc:
        raise ReportRejected(f"payload is not base64: {exc}") from exc


def verify_report(envelope: dict[str, Any], trust: list[dict[str, Any]] | None = None, *,
                  max_age_s: float | None = None, now: float | None = None) -> dict[str, Any]:
    """The Statement of an authentic, unmodified, trusted and fresh report.

    `trust` is a list of trust-file entries (default: the local trust file); `max_age_s`
    None skips the age check; `now` (Unix seconds) is for tests. Raises ReportRejected.
    """
    _check_envelope_shape(envelope)
    trust = load_trust() if trust is None else trust
    trusted = {e["keyid"]: e for e in trust}
    signers = [s["keyid"] for s in envelope["signatures"]]
    known = [k for k in signers if k in trusted]
    if not known:
        raise ReportRejected(f"signed by an untrusted key: {', '.join(signers)} is not in the "
                             f"trust file ({len(trusted)} trusted key(s))")
    payload = _decode_payload(envelope)
    try:
        sigs = {s["keyid"]: Signature(s["keyid"], _b64(s["sig"]).hex())
                for s in envelope["signatures"] if s["keyid"] in trusted}
        dsse = Envelope(payload, PAYLOAD_TYPE, sigs)
        dsse.verify([sslib_key(trusted[k]) for k in known], 1)
    except VerificationError as exc:
        raise ReportRejected(f"bad signature: the payload was modified or the signature does not "
                             f"match trusted key {', '.join(known)} ({exc})") from exc
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ReportRejected(f"malformed signature: {exc}") from exc
    try:
        stmt = json.loads(payload)
    except ValueError as exc:
        raise ReportRejected(f"payload is not JSON: {exc}") from exc
    return _check_statement(stmt, max_age_s=max_age_s, now=now)


def _check_statement(stmt: Any, *, max_age_s: float | None, now: float | None) -> dict[str, Any]:
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise ReportRejected(f"payload is not an in-toto Statement v1 (`_type` must be {STATEMENT_TYPE})")
    if stmt.get("predicateType") != predicate_type():
        raise ReportRejected(f"predicateType is {stmt.get('predicateType')!r}, expected {predicate_type()!r}")
    predicate = stmt.get("predicate")
    found = _predicate_problems(predicate)
    if found:
        raise ReportRejected(f"predicate invalid against {REPORT_CONTRACT}: " + "; ".join(found))
    try:
        if _subject_map(stmt.get("subject") or []) != _subject_map(predicate["subjects"]):
            raise ReportRejected("Statement subjects differ from the predicate's `subjects`")
    except (KeyError, TypeError) as exc:
        raise ReportRejected(f"Statement subject malformed: {exc}") from exc
    generated = parse_time(predicate["generated_at"])
    moment = time.time() if now is None else now
    skew = float(mac5_gate_parameters().get("max_clock_skew_s", 0))
    if generated - moment > skew:
        raise ReportRejected(f"dated in the future: generated_at {predicate['generated_at']} is "
                             f"{generated - moment:.0f} s ahead of this clock (skew allowed {skew:.0f} s)")
    if max_age_s is not None and moment - generated > max_age_s:
        raise ReportRejected(f"stale: generated_at {predicate['generated_at']} is "
                             f"{moment - generated:.0f} s old, max age {max_age_s:.0f} s")
    return stmt


def decode_statement(envelope: dict[str, Any]) -> dict[str, Any]:
    """The Statement inside an envelope WITHOUT verifying it (rendering, diagnostics)."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str):
        raise ReportRejected("not a DSSE envelope: `payload` is missing")
    try:
        return json.loads(_decode_payload(envelope))
    except ValueError as exc:
        raise ReportRejected(f"payload is not JSON: {exc}") from exc
