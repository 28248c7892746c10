"""Signed statements: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

The envelope is exactly DSSE v1 (PAE `DSSEv1 <len(type)> <type> <len(payload)> <payload>`,
base64 payload and signatures; the signer renders the payload straight into its PAE, which
tests hold equal to securesystemslib's `Envelope`, the verifier's PAE), so any
DSSE / in-toto verifier can check a statement offline with the signer's public key. Readiness
and completion-gate reports carry a lume:contract:readiness_report:v2 predicate (readers also
take a v1 one, whose `subjects` must repeat the Statement's); AirDeck
dry-run reports and promoted manifests carry theirs (`sign_statement`, `verify_statement`):
`predicateType` is always the predicate contract's `$id`.

A statement counts only when (SAFE-SIGNED-EVIDENCE) the envelope is within its limits and
has no duplicate JSON key at any level, at least one signature is by a trusted key and EVERY
signature whose key id is trusted verifies under strict Ed25519 (`_ed25519.verify_ed25519`,
libsodium), the payload is a strict-JSON Statement of the expected predicate type whose
predicate is valid, and (readiness reports) it is fresh (SAFE-EVIDENCE-FRESH). Anything else
raises ReportRejected with the reason; a file that is not a well-formed envelope raises
MalformedEnvelope, which is also bad input (InputError: exit 2).
"""
from __future__ import annotations

import base64
import binascii
import itertools
import math
import secrets
from pathlib import Path
from typing import Any, Iterator

from securesystemslib.dsse import Envelope

from lume.generated.constants import (
    FRESH_READINESS_REPORT,
    INPUT_DSSE_ENVELOPE,
    SAFE_MAC5_GATE,
    SAFE_SIGNED_EVIDENCE,
)

from ._contracts import get
from ._ed25519 import public_key_problem, verify_ed25519
from ._files import input_limit, read_input
from ._freshness import freshness, limit
from ._json_bytes import json_bytes
from ._jsonl import InputError
from ._keys import SigningKey, load_trust
from ._rules import parameters
from ._strict_json import StrictJSONError, loads_strict
from ._validate import problems

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
REPORT_CONTRACT = "readiness_report.v2"  # what a signer writes
REPORT_CONTRACTS = (REPORT_CONTRACT, "readiness_report.v1")  # what a reader takes
ENVELOPE_CONTRACT = "dsse_envelope.v1"


def _printable(text: str) -> str:
    """One line with no control characters: a reason quotes untrusted bytes (keys, values)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ReportRejected(Exception):
    """The statement does not count (unsigned, untrusted, modified, stale or invalid)."""

    def __init__(self, reason: str):
        reason = _printable(reason)
        super().__init__(reason)
        self.reason = reason


class MalformedEnvelope(ReportRejected, InputError):
    """Not a well-formed DSSE envelope within its limits: refused, and bad input (exit 2)."""


class InvalidPredicate(ValueError):
    """A signer was given a predicate that breaks its contract."""


def predicate_type(contract: str = REPORT_CONTRACT) -> str:
    return get(contract).id


# --- reading an envelope -----------------------------------------------------------------

def read_envelope(path: Path, *, shape: bool = True) -> Any:
    """A DSSE envelope file, read through core's one bounded reader with input_limits.v1's
    `dsse_envelope` row (the bounds SAFE-SIGNED-EVIDENCE names): a regular file within
    `max_bytes`, strict JSON (no duplicate key, at most `max_depth` deep), the shape of
    dsse_envelope.v1 (unless `shape` is False: then any strict JSON value, for readers that
    say themselves why a bare document is not an envelope). MalformedEnvelope names the file
    and what is wrong."""
    try:
        data = read_input(path, INPUT_DSSE_ENVELOPE)
    except InputError as exc:  # not a regular file, unreadable or over the limit
        raise MalformedEnvelope(f"{exc} ({SAFE_SIGNED_EVIDENCE})") from exc
    return parse_envelope(data, where=str(path), shape=shape)


def _max_depth() -> int:
    """How deep an envelope or its payload may nest (input_limits.v1 `dsse_envelope`)."""
    return int(input_limit(INPUT_DSSE_ENVELOPE).max_depth)


def parse_envelope(data: bytes | str, *, where: str = "envelope", shape: bool = True) -> Any:
    """The envelope in `data` (strict JSON, dsse_envelope.v1 shape); MalformedEnvelope."""
    try:
        doc = loads_strict(data, max_depth=_max_depth())
    except StrictJSONError as exc:
        raise MalformedEnvelope(f"{where}: {exc} [{ENVELOPE_CONTRACT}]") from None
    if shape:
        check_envelope(doc, where=where)
    return doc


def is_envelope(doc: Any) -> bool:
    """Whether a parsed document looks like a DSSE envelope (has `payload` and `payloadType`)."""
    return isinstance(doc, dict) and "payload" in doc and "payloadType" in doc


def check_envelope(doc: Any, *, where: str = "envelope") -> None:
    """MalformedEnvelope when `doc` is not a dsse_envelope.v1 document."""
    if not isinstance(doc, dict):
        raise MalformedEnvelope(f"{where}: not a DSSE envelope: expected a JSON object "
                                f"[{ENVELOPE_CONTRACT}]")
    found = problems(doc, get(ENVELOPE_CONTRACT), file=where)
    if found:
        first = found[0]
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise MalformedEnvelope(f"{where}: not a DSSE envelope: {first.path}: {first.message}{more} "
                                f"[{ENVELOPE_CONTRACT}]")


def _b64(text: Any) -> bytes:
    """Standard or URL-safe base64, padded or not (DSSE accepts both encodings)."""
    if not isinstance(text, str):
        raise ValueError("expected a base64 string")
    padded = text + "=" * (-len(text) % 4)
    alphabet = b"-_" if ("-" in text or "_" in text) else None
    return base64.b64decode(padded, altchars=alphabet, validate=True)


def _decode_payload(envelope: dict[str, Any], where: str) -> bytes:
    try:
        return _b64(envelope["payload"])
    except (TypeError, ValueError, binascii.Error) as exc:
        raise MalformedEnvelope(f"{where}: payload is not base64: {exc} [{ENVELOPE_CONTRACT}]") from exc


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding (what a signature signs)."""
    return Envelope(payload, payload_type, {}).pae()


# --- signing -------------------------------------------------------------------------------

def _bare_subject(s: dict[str, Any]) -> bool:
    """Already exactly {name, digest: {sha256}}: the Statement shares the object (a report lists
    every file of the root; a copy per subject is memory that grows with the root)."""
    return len(s) == 2 and len(s.get("digest") or ()) == 1 and "name" in s and "sha256" in s["digest"]


def statement(predicate: dict[str, Any], subjects: list[dict[str, Any]],
              contract: str = REPORT_CONTRACT) -> dict[str, Any]:
    """The in-toto Statement v1 around a predicate of `contract`."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [s if _bare_subject(s) else {"name": s["name"], "digest": {"sha256": s["digest"]["sha256"]}}
                    for s in subjects],
        "predicateType": predicate_type(contract),
        "predicate": predicate,
    }


def canonical_json(value: Any) -> bytes:
    """The canonical bytes LUME signs and digests: keys sorted, no whitespace, UTF-8."""
    return json_bytes(value, sort_keys=True, indent=False)


def _predicate_problems(predicate: Any, contract: str) -> list[str]:
    found = [f"{p.path}: {p.message}" for p in problems(predicate, get(contract), file="predicate")]
    if not found and contract in REPORT_CONTRACTS:
        found = _verdict_rule_problems(predicate)
    return found


def _verdict_rule_problems(p: dict[str, Any]) -> list[str]:
    """readiness_report's rules on partial runs (stated in its description; checked here)."""
    v = p["verdicts"]
    found = []
    skipped = [n["id"] for n in p.get("not_run") or [] if n.get("kind") == "not_selected"]
    if skipped and v["overall"] == "green":
        found.append(f"$.verdicts.overall: green although {', '.join(skipped)} did not run (partial)")
    if v["overall"] == "partial" and (v["rig_safe"] is not None or v["data_sound"] is not None):
        found.append("$.verdicts: a partial report has rig_safe and data_sound null")
    return found


class Sealed:
    """A signed statement as the bytes its signature covers (the DSSE PAE, whose tail is the
    payload) and its signatures: the envelope without a base64 copy of the payload.

    A readiness report lists every file of the root; its envelope is written to a file
    piece by piece (`pieces()`: the bytes `write_json(envelope())` writes) and the base64 text
    is made only if `envelope()` is asked for.
    """

    _STEP = 3 << 18  # bytes of payload per base64 piece (a multiple of 3: no padding between pieces)

    def __init__(self, pae: bytes | bytearray, payload_at: int, signatures: list[dict[str, str]]):
        self._pae = pae
        self._at = payload_at
        self.signatures = signatures

    @property
    def payload(self) -> memoryview:
        return memoryview(self._pae)[self._at:]

    def envelope(self) -> dict[str, Any]:
        """The DSSE envelope as a JSON-ready dict (securesystemslib's `Envelope.to_dict` form)."""
        return {"payload": base64.standard_b64encode(self.payload).decode("ascii"),
                "payloadType": PAYLOAD_TYPE, "signatures": [dict(s) for s in self.signatures]}

    def pieces(self) -> Iterator[bytes]:
        """The envelope's file bytes (indented JSON and a newline, as `write_json` writes it), in
        pieces: the payload's base64 is made a piece at a time. Base64 text needs no JSON escape,
        so the envelope around it is rendered once with a marker in its place."""
        marker = f"lume-payload-{secrets.token_hex(16)}"
        frame = json_bytes({"payload": marker, "payloadType": PAYLOAD_TYPE, "signatures": self.signatures},
                           sort_keys=False, indent=True)
        head, tail = frame.split(json_bytes(marker, sort_keys=False, indent=False))
        yield head + b'"'
        payload = self.payload
        for at in range(0, len(payload), self._STEP):
            yield binascii.b2a_base64(payload[at:at + self._STEP], newline=False)
        yield b'"' + tail + b"\n"


def _pae_header(payload_type: str, length: int) -> bytes:
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d " % (len(kind), kind, length)


_SUBJECTS_AT_ONCE = 2048  # subjects rendered per piece when a statement is rendered into its PAE


def _list_pieces(items: list[Any]) -> Iterator[bytes]:
    """`canonical_json(items)` in pieces of a few thousand items (a value renders alike wherever
    it sits in compact JSON, so the pieces join to the whole)."""
    yield b"["
    for at in range(0, len(items), _SUBJECTS_AT_ONCE):
        if at:
            yield b","
        yield canonical_json(items[at:at + _SUBJECTS_AT_ONCE])[1:-1]
    yield b"]"


def _statement_parts(stmt: dict[str, Any]) -> list[bytes | list[Any]]:
    """`canonical_json(stmt)` as rendered parts and, where the subject list goes, the list itself
    (a report's largest part)."""
    marker = f"lume-subjects-{secrets.token_hex(16)}"
    token = canonical_json(marker)
    frame = canonical_json({**stmt, "subject": marker})
    if frame.count(token) != 1:  # cannot happen with a fresh random marker; render it whole
        return [canonical_json(stmt)]
    head, tail = frame.split(token)
    return [head, stmt["subject"], tail]


def _signed_bytes(stmt: dict[str, Any]) -> tuple[bytearray, int]:
    """The DSSE PAE of the Statement's canonical JSON, and where the payload starts in it.

    The payload is rendered straight into the PAE's buffer, its subject list a few thousand
    subjects at a time: the signed bytes are the one large thing held (a readiness report of a
    large root lists every file), never a payload, its PAE copy and a rendered subject list
    side by side."""
    parts = _statement_parts(stmt)
    lengths: dict[int, int] = {}
    for part in parts:
        if isinstance(part, list) and id(part) not in lengths:
            lengths[id(part)] = sum(map(len, _list_pieces(part)))
    size = sum(len(p) if isinstance(p, bytes) else lengths[id(p)] for p in parts)
    header = _pae_header(PAYLOAD_TYPE, size)
    signed = bytearray(len(header) + size)
    view, at = memoryview(signed), 0
    for piece in itertools.chain([header], *((p,) if isinstance(p, bytes) else _list_pieces(p) for p in parts)):
        view[at:at + len(piece)] = piece
        at += len(piece)
    view.release()
    if at != len(signed):  # a list changed between the two renderings: nothing half-made is signed
        raise RuntimeError("the statement changed while it was being signed")
    return signed, len(header)


def seal_statement(predicate: dict[str, Any], subjects: list[dict[str, Any]], key: SigningKey, *,
                   contract: str) -> Sealed:
    """Sign a predicate of `contract` about `subjects` (see `sign_statement`), keeping the signed
    bytes once (`_signed_bytes`)."""
    found = _predicate_problems(predicate, contract)
    if found:
        raise InvalidPredicate(f"predicate breaks {contract}: " + "; ".join(found))
    signed, at = _signed_bytes(statement(predicate, subjects, contract))
    signature = key.signer().sign(signed).to_dict()
    signature["sig"] = base64.standard_b64encode(bytes.fromhex(signature["sig"])).decode("ascii")
    return Sealed(signed, at, [signature])


def sign_statement(predicate: dict[str, Any], subjects: list[dict[str, Any]], key: SigningKey, *,
                   contract: str) -> dict[str, Any]:
    """Sign a predicate of `contract` about `subjects`; returns the DSSE envelope (JSON-ready).
    InvalidPredicate when the predicate breaks its contract."""
    return seal_statement(predicate, subjects, key, contract=contract).envelope()


def _subject_map(subjects: Any) -> dict[str, str]:
    return {s["name"]: s["digest"]["sha256"] for s in subjects}


def seal_report(predicate: dict[str, Any], subjects: list[dict[str, Any]], key: SigningKey) -> Sealed:
    """Sign a readiness predicate (see `sign_report`); returns it `Sealed`, to be written with
    `write_stream(path, sealed.pieces())` without a copy of the payload in base64."""
    return seal_statement(predicate, subjects, key, contract=REPORT_CONTRACT)


def sign_report(predicate: dict[str, Any], subjects: list[dict[str, Any]],
                key: SigningKey) -> dict[str, Any]:
    """Sign a readiness predicate about `subjects` (the files it speaks about, listed once: in
    the Statement); returns the DSSE envelope as a JSON-ready dict.

    Raises InvalidPredicate when the predicate breaks readiness_report.v2.
    """
    return seal_report(predicate, subjects, key).envelope()


# --- verifying -----------------------------------------------------------------------------

def _trusted(trust: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["keyid"]: e for e in trust if isinstance(e, dict) and isinstance(e.get("keyid"), str)}


def signed_by(envelope: dict[str, Any], trust: list[dict[str, Any]]) -> list[str]:
    """The trusted key ids among an envelope's signatures (in order, once each)."""
    trusted = _trusted(trust)
    out: list[str] = []
    for s in envelope.get("signatures") or []:
        k = s.get("keyid") if isinstance(s, dict) else None
        if isinstance(k, str) and k in trusted and k not in out:
            out.append(k)
    return out


def check_signatures(envelope: dict[str, Any], trust: list[dict[str, Any]], *,
                     where: str = "envelope") -> bytes:
    """The payload of an envelope whose every trusted signature verifies strictly.

    ReportRejected: unsigned, signed by no trusted key, a trusted key that is not a valid
    Ed25519 key, or any signature by a trusted key id that does not verify (a bad signature
    before a good one with the same key id is refused, not skipped).
    """
    check_envelope(envelope, where=where)
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise ReportRejected(f"payloadType is {envelope['payloadType']!r}, expected {PAYLOAD_TYPE!r}")
    sigs = envelope["signatures"]
    if not sigs:
        raise ReportRejected("unsigned: the envelope carries no signature")
    trusted = _trusted(trust)
    listed = [(i, s) for i, s in enumerate(sigs) if s["keyid"] in trusted]
    if not listed:
        shown = ", ".join(s["keyid"][:64] or "''" for s in sigs)
        raise ReportRejected(f"signed by an untrusted key: {shown} is not in the trust file "
                             f"({len(trusted)} trusted key(s))")
    payload = _decode_payload(envelope, where)
    message = pae(envelope["payloadType"], payload)
    for i, s in listed:
        entry = trusted[s["keyid"]]
        try:
            public = bytes.fromhex(entry["public"])
        except (TypeError, ValueError):
            public = b""
        problem = public_key_problem(public)
        if problem is not None:
            raise ReportRejected(f"trusted key {s['keyid']} is unusable: {problem} "
                                 f"({SAFE_SIGNED_EVIDENCE})")
        try:
            sig = _b64(s["sig"])
        except (TypeError, ValueError, binascii.Error) as exc:
            raise ReportRejected(f"malformed signature #{i + 1} by {s['keyid']}: not base64 ({exc})") from exc
        if not verify_ed25519(public, message, sig):
            raise ReportRejected(f"bad signature #{i + 1} by trusted key {s['keyid']}: the payload "
                                 f"was modified or the signature is forged or non-canonical "
                                 f"(every signature by a trusted key must verify, {SAFE_SIGNED_EVIDENCE})")
    return payload


def _load_statement(payload: bytes) -> Any:
    try:
        return loads_strict(payload, max_depth=_max_depth())
    except StrictJSONError as exc:
        raise ReportRejected(f"payload refused: {exc} ({SAFE_SIGNED_EVIDENCE})") from None


def _subject_problem(subjects: Any) -> str | None:
    if not isinstance(subjects, list):
        return "Statement `subject` must be a list"
    for i, s in enumerate(subjects):
        if not (isinstance(s, dict) and isinstance(s.get("name"), str)
                and isinstance(s.get("digest"), dict) and isinstance(s["digest"].get("sha256"), str)):
            return f"Statement subject[{i}] must be {{name, digest: {{sha256}}}}"
    return None


def verify_statement(envelope: dict[str, Any], trust: list[dict[str, Any]] | None = None, *,
                     contract: str | tuple[str, ...], where: str = "envelope") -> dict[str, Any]:
    """The Statement of an authentic, trusted envelope whose predicate is a valid `contract`
    document (one of them, when a tuple). `trust` defaults to the local trust file. Raises
    ReportRejected (MalformedEnvelope for a bad envelope)."""
    trust = load_trust() if trust is None else trust
    payload = check_signatures(envelope, trust, where=where)
    stmt = _load_statement(payload)
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise ReportRejected(f"payload is not an in-toto Statement v1 (`_type` must be {STATEMENT_TYPE})")
    wanted = (contract,) if isinstance(contract, str) else contract
    types = {predicate_type(c): c for c in wanted}
    ptype = stmt.get("predicateType")
    if not isinstance(ptype, str) or ptype not in types:
        raise ReportRejected(f"predicateType is {ptype!r}, expected "
                             f"{' or '.join(repr(t) for t in types)}")
    problem = _subject_problem(stmt.get("subject"))
    if problem:
        raise ReportRejected(problem)
    found = _predicate_problems(stmt.get("predicate"), types[ptype])
    if found:
        raise ReportRejected(f"predicate invalid against {types[ptype]}: " + "; ".join(found))
    return stmt


def verify_report(envelope: dict[str, Any], trust: list[dict[str, Any]] | None = None, *,
                  max_age_s: float | None = None, now: float | None = None,
                  evidence: str = FRESH_READINESS_REPORT) -> dict[str, Any]:
    """The Statement of an authentic, unmodified, trusted and fresh readiness report (v2, or v1);
    the files it speaks about are the Statement's `subject`.

    `trust` is a list of trust-file entries (default: the local trust file); `max_age_s` None
    skips the age check (the clock-skew check of the `evidence` row of evidence_freshness.v1
    always applies); `now` (Unix seconds) is for tests. Raises ReportRejected.
    """
    stmt = verify_statement(envelope, trust, contract=REPORT_CONTRACTS)
    predicate = stmt["predicate"]
    if "subjects" in predicate and _subject_map(stmt["subject"]) != _subject_map(predicate["subjects"]):
        # v1 listed the digests twice; a report whose two lists disagree says two things
        raise ReportRejected("Statement subjects differ from the predicate's `subjects`")
    fresh = freshness(evidence, predicate, now=now, max_age_s=math.inf if max_age_s is None else max_age_s)
    if not fresh.fresh:
        raise ReportRejected(fresh.problem or "not fresh")
    return stmt


def default_max_age_s(evidence: str = FRESH_READINESS_REPORT) -> float:
    """The maximum age of a readiness report (evidence_freshness.v1), in seconds."""
    return limit(evidence).max_age_s


def mac5_gate_parameters() -> dict[str, Any]:
    return parameters(SAFE_MAC5_GATE)


def decode_statement(envelope: dict[str, Any]) -> dict[str, Any]:
    """The Statement inside an envelope WITHOUT verifying it (rendering, diagnostics)."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str):
        raise MalformedEnvelope("not a DSSE envelope: `payload` is missing")
    stmt = _load_statement(_decode_payload(envelope, "envelope"))
    if not isinstance(stmt, dict):
        raise ReportRejected("payload is not a JSON object")
    return stmt
