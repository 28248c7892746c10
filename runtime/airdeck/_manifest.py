"""The promoted-gesture manifest (airdeck_promoted_gestures.v1) the gate reads in live mode.

The template analyzer's promotion step writes `derived/airdeck/promoted_gestures.json`; the
gate dispatches only the gestures it lists, with the stricter of its values and the
contract's. Live mode is tied to one manifest by the SHA-256 of its exact bytes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lume.runtime.core import InputError

CONTRACT = "airdeck_promoted_gestures.v1"


@dataclass(frozen=True)
class PromotedManifest:
    path: str
    sha256: str
    data: dict[str, Any]
    gestures: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any], *, path: str = "<memory>",
                  sha256: str | None = None) -> "PromotedManifest":
        """Build from a validated document; duplicate labels are bad input."""
        gestures: dict[str, dict[str, Any]] = {}
        for i, g in enumerate(data["gestures"]):
            if g["label"] in gestures:
                raise InputError(f"{path}: $.gestures[{i}].label: {g['label']!r} is listed twice "
                                 f"[{CONTRACT}]")
            gestures[g["label"]] = g
        digest = sha256 or hashlib.sha256(orjson.dumps(data)).hexdigest()
        return cls(path, digest, data, gestures)


def load_manifest(path: Path) -> PromotedManifest:
    """Read, validate and digest a manifest; InputError names the file, field and contract."""
    from lume.runtime.core import get, problems

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: {exc} [{CONTRACT}]") from exc
    found = problems(data, get(CONTRACT), file=str(path))
    if found:
        raise InputError("; ".join(str(p) for p in found[:5]))
    return PromotedManifest.from_data(data, path=str(path), sha256=hashlib.sha256(raw).hexdigest())


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
