"""The promoted-gesture manifest (airdeck_promoted_gestures.v1) the gate reads in live mode.

The promotion step (`lume promote --command`) writes `derived/airdeck/promoted_gestures.json`
as a signed statement: an in-toto Statement v1 in a DSSE envelope (Ed25519, the machinery of
readiness reports, SAFE-SIGNED-EVIDENCE) whose predicate is the manifest document, whose
predicateType is the manifest contract's `$id`, and whose subjects are the digests of the
evidence it rests on (labelled clips, proof matrix, the signed green dry-run report of the
promotion step). The gate dispatches only the gestures it lists, with the stricter of its
values and the contract's.

`load_manifest` reads a signed manifest or a bare document: a dry run may use either and says
which in its report (`signature`); live mode accepts only a manifest signed by a trusted key
whose evidence still matches (`evidence_problems`). A manifest is named by its digest: the
SHA-256 of the manifest document as canonical JSON, the same whether it is read bare or from
its envelope, so a dry-run report can name the manifest the promotion is about to sign.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import (
    InputError,
    MalformedEnvelope,
    ReportRejected,
    SigningKey,
    canonical_json,
    decode_statement,
    get,
    hash_input,
    is_envelope,
    load_trust,
    problems,
    read_envelope,
    sign_statement,
    signed_by,
    verify_statement,
)

CONTRACT = "airdeck_promoted_gestures.v1"
TRUSTED, UNSIGNED, UNTRUSTED, INVALID = "trusted", "unsigned", "untrusted", "invalid"
DERIVED_PARTS = ("derived", "airdeck")  # where a bundle keeps its promoted manifest


def manifest_digest(data: dict[str, Any]) -> str:
    """The digest that names a manifest: SHA-256 of the document as canonical JSON."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _unsigned(detail: str = "a bare manifest, not a signed statement: dry runs only") -> dict[str, Any]:
    return {"status": UNSIGNED, "keyids": [], "detail": detail}


@dataclass(frozen=True)
class PromotedManifest:
    path: str
    sha256: str  # the manifest digest (manifest_digest)
    data: dict[str, Any]
    gestures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # airdeck_dry_run_report.v2 `ManifestSignature`: trusted / unsigned / untrusted / invalid
    signature: dict[str, Any] = field(default_factory=_unsigned)
    subjects: tuple[dict[str, Any], ...] = ()  # the signed Statement's evidence digests

    @property
    def signed(self) -> bool:
        """Signed by a trusted key, every trusted signature verified (what live mode needs)."""
        return self.signature["status"] == TRUSTED

    @classmethod
    def from_data(cls, data: dict[str, Any], *, path: str = "<memory>",
                  sha256: str | None = None, signature: dict[str, Any] | None = None,
                  subjects: tuple[dict[str, Any], ...] = ()) -> "PromotedManifest":
        """Build from a validated document; duplicate labels are bad input."""
        gestures: dict[str, dict[str, Any]] = {}
        for i, g in enumerate(data["gestures"]):
            if g["label"] in gestures:
                raise InputError(f"{path}: $.gestures[{i}].label: {g['label']!r} is listed twice "
                                 f"[{CONTRACT}]")
            gestures[g["label"]] = g
        return cls(path, sha256 or manifest_digest(data), data, gestures,
                   signature or _unsigned(), tuple(subjects))


def load_manifest(path: Path, *, trust: list[dict[str, Any]] | None = None) -> PromotedManifest:
    """Read, check and digest a manifest: a signed statement (verified against `trust`, default
    the trust file) or a bare document. InputError names the file, field and contract when the
    manifest cannot be read at all; a signature that does not hold is recorded, not raised (a
    dry run may still use the manifest; live mode refuses it)."""
    doc = read_envelope(Path(path), shape=False)  # strict JSON, bounded (MalformedEnvelope: bad input)
    signature, subjects = _unsigned(), ()
    if is_envelope(doc):
        trust = load_trust() if trust is None else trust
        try:
            stmt = verify_statement(doc, trust, contract=CONTRACT, where=str(path))
            keyids = signed_by(doc, trust)
            signature = {"status": TRUSTED, "keyids": keyids,
                         "detail": f"signed by trusted key {', '.join(keyids)}"}
        except MalformedEnvelope:
            raise  # not an envelope at all: bad input (exit 2), not a signature that fails
        except ReportRejected as exc:
            stmt = _statement_anyway(doc, path)
            status = INVALID if signed_by(doc, trust) else UNTRUSTED
            signature = {"status": status, "keyids": [], "detail": exc.reason}
        data = stmt.get("predicate")
        subjects = tuple(s for s in stmt.get("subject") or [] if isinstance(s, dict))
    else:
        data = doc
    found = problems(data, get(CONTRACT), file=str(path))
    if found:
        raise InputError("; ".join(str(p) for p in found[:5]))
    return PromotedManifest.from_data(data, path=str(path), signature=signature, subjects=subjects)


def _statement_anyway(envelope: dict[str, Any], path: Path) -> dict[str, Any]:
    """The Statement of an envelope whose signature does not hold (for a dry run to say so)."""
    try:
        stmt = decode_statement(envelope)
    except ReportRejected as exc:
        raise InputError(f"{path}: {exc.reason} [{CONTRACT}]") from exc
    if not isinstance(stmt, dict):
        raise InputError(f"{path}: the envelope does not carry an in-toto Statement [{CONTRACT}]")
    return stmt


def sign_manifest(data: dict[str, Any], evidence: list[dict[str, Any]], key: SigningKey) -> dict[str, Any]:
    """The signed statement of a manifest document about its evidence: `evidence` items are
    `{name: path relative to the bundle, digest: {sha256}}`. Returns the DSSE envelope."""
    return sign_statement(data, evidence, key, contract=CONTRACT)


def bundle_root(manifest: PromotedManifest) -> Path | None:
    """Where the manifest's evidence paths are relative to: the bundle it names when that
    folder exists, else the bundle the manifest file sits in (`derived/airdeck/`), else None."""
    named = Path(str(manifest.data["source_bundle"]["path"]))
    if named.is_dir():
        return named
    here = Path(manifest.path).absolute().parent
    if here.parts[-2:] == DERIVED_PARTS:
        return here.parent.parent
    return None


@dataclass
class EvidenceCheck:
    checked: int = 0
    unreachable: int = 0
    problems: list[str] = field(default_factory=list)


def evidence_problems(manifest: PromotedManifest) -> EvidenceCheck:
    """Every evidence digest the signed statement names, compared with the file where it is
    reachable (a file changed after promotion is a problem; one not present is counted)."""
    out = EvidenceCheck()
    root = bundle_root(manifest)
    for s in manifest.subjects:
        name, want = s.get("name"), (s.get("digest") or {}).get("sha256")
        path = None if root is None or not isinstance(name, str) else root / name
        if path is None or not os.path.lexists(path):
            out.unreachable += 1
            continue
        try:  # streamed; a FIFO, a device or a folder put in its place is refused, never read
            found, _ = hash_input(path, INPUT_HASHED_FILE)
        except InputError as exc:
            out.problems.append(f"{name}: {exc}")
            continue
        if found != want:
            out.problems.append(f"{name} changed after promotion: sha256 {found}, the signed manifest "
                                f"names {want}")
        else:
            out.checked += 1
    return out


def gesture_entry(label: str, evidence: list[dict[str, Any]], rules: Any) -> dict[str, Any]:
    """A manifest `gestures` item for a promoted label with the contract's own values (what the
    promotion step writes unless it tightens them). ValueError when the label cannot be promoted."""
    res = rules.resolve(label, None)
    if res.target is None:
        raise ValueError(f"{label} cannot be listed in a promoted manifest: {res.problem}")
    t = res.target
    return {"label": t.gesture, "command": t.command, "deck": t.deck, "threshold": t.threshold,
            "hold_ms": t.hold_ms, "cooldown_ms": t.cooldown_ms, "evidence": list(evidence)}


def consistency_problems(manifest: PromotedManifest, rules: Any) -> list[str]:
    """Where the manifest disagrees with the label table, the safety invariants or the MIDI map."""
    found: list[str] = []
    for label, g in manifest.gestures.items():
        where = f"{manifest.path}: gesture {label}"
        if rules.canonical(label) != label:
            found.append(f"{where}: not a canonical label of labels.v1")
            continue
        res = rules.resolve(label, g["deck"])
        if res.problem is not None:
            found.append(f"{where}: {res.problem}")
            continue
        t = res.target
        if g["command"] != t.command or g["deck"] != t.deck:
            found.append(f"{where}: maps to {g['command']} deck {g['deck']}, labels.v1 to "
                         f"{t.command} deck {t.deck}")
        for key, floor in (("threshold", t.threshold), ("hold_ms", t.hold_ms),
                           ("cooldown_ms", t.cooldown_ms)):
            if g[key] < floor:
                found.append(f"{where}: {key} {g[key]} is looser than the contract's {floor}")
    return found
