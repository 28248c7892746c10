"""Capture coverage: a capture manifest against the V6 capture protocol.

The protocol (lume:contract:v6_training:v1 `capture`) asks for `tracks` distinct tracks, `sessions`
sessions of `session_minutes` each, and at least `min_sessions_per_cell` sessions in every cell of
the mode × emotion matrix (the value names of the layout's one-hot blocks). Sessions whose status is
in `coverage_counts` count; a captured session must list its files (the roles the protocol requires)
and each must be present with its sha256 and byte size; a rejected one says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lume.runtime.core import Evidence, held, unchecked, violated

from . import _layout as layout
from ._io import load_document, sha256_file


@dataclass
class Coverage:
    file: str
    evidence: list[Evidence] = field(default_factory=list)
    rows: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    cells: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    counted: list[str] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.ok is True for e in self.evidence)


def load_manifest(path: Path) -> dict[str, Any]:
    """A capture manifest, valid against its contract (InputError naming the file otherwise)."""
    return load_document(path, layout.MANIFEST)


def coverage(doc: dict[str, Any], *, file: str, base: Path | None,
             digest: Callable[[Path], str] = sha256_file, captured_only: bool = False) -> Coverage:
    """Check a (schema-valid) manifest; `base` is its folder (None: files are not checked)."""
    rules = layout.rules_data()["capture"]
    statuses = {"captured"} if captured_only else set(rules["coverage_counts"])
    blocks = layout.blocks()
    rows, cols = blocks[rules["matrix"]["rows"]], blocks[rules["matrix"]["columns"]]
    cov = Coverage(file, rows=rows.values, columns=cols.values)
    ev = cov.evidence
    sessions = doc["sessions"]
    track_ids = [t["track_id"] for t in doc["tracks"]]
    for tid in sorted({t for t in track_ids if track_ids.count(t) > 1}):
        ev.append(violated(f"track {tid} is listed twice", file=file, field="tracks",
                           expected="distinct track ids", found=tid))
    ids = [s["session_id"] for s in sessions]
    for sid in sorted({s for s in ids if ids.count(s) > 1}):
        ev.append(violated(f"session {sid} is listed twice", file=file, field="sessions",
                           expected="distinct session ids", found=sid))
    if len(set(track_ids)) != rules["tracks"]:
        ev.append(violated(f"{len(set(track_ids))} distinct tracks listed", file=file, field="tracks",
                           expected=rules["tracks"], found=len(set(track_ids))))
    devices = set(rules["devices"])
    role_rules = {r["role"]: r for r in rules["session_files"]}
    cov.cells = {(r, c): [] for r in rows.values for c in cols.values}
    used_tracks: set[str] = set()
    for i, s in enumerate(sessions):
        where = f"sessions[{i}] {s['session_id']}"
        known = True
        if s["mode"] not in rows.values:
            ev.append(violated(f"mode `{s['mode']}` is not a value of {rows.name}", file=file,
                               field=f"{where}.mode",
                               expected=list(rows.values), found=s["mode"]))
            known = False
        if s["emotion"] not in cols.values:
            ev.append(violated(f"emotion `{s['emotion']}` is not a value of {cols.name}", file=file,
                               field=f"{where}.emotion", expected=list(cols.values), found=s["emotion"]))
            known = False
        if s["track_id"] not in track_ids:
            ev.append(violated(f"track {s['track_id']} is not in the manifest's tracks", file=file,
                               field=f"{where}.track_id", expected="a listed track", found=s["track_id"]))
        if s["planned_minutes"] != rules["session_minutes"]:
            ev.append(violated(f"planned for {s['planned_minutes']} min", file=file,
                               field=f"{where}.planned_minutes",
                               expected=rules["session_minutes"], found=s["planned_minutes"]))
        odd = sorted(set(s["devices"]) - devices)
        if odd:
            ev.append(violated(f"device(s) the protocol does not name: {', '.join(odd)}", file=file,
                               field=f"{where}.devices", expected=sorted(devices), found=odd))
        if s["status"] == "rejected" and not s.get("reason"):
            ev.append(violated("rejected without a reason", file=file, field=f"{where}.reason",
                               expected="why the session was rejected", found=None))
        if s["status"] == "captured":
            cov.captured.append(s["session_id"])
            ev += _captured(s, where, file, base, digest, role_rules)
        if s["status"] in statuses:
            cov.counted.append(s["session_id"])
            used_tracks.add(s["track_id"])
            if known:
                cov.cells[(s["mode"], s["emotion"])].append(s["session_id"])
    need = rules["matrix"]["min_sessions_per_cell"]
    cov.missing = [cell for cell, got in cov.cells.items() if len(got) < need]
    counted = " + ".join(sorted(statuses))
    if cov.missing:
        shown = ", ".join(f"{m} × {e}" for m, e in cov.missing)
        ev.append(violated(f"{len(cov.missing)} of {len(cov.cells)} {rows.name} × {cols.name} cell(s) have "
                           f"fewer "
                           f"than {need} {counted} session(s): {shown}", file=file, field="sessions",
                           expected=f">= {need} session(s) in every cell", found=[f"{m} × {e}" for m,
                                                                                  e in cov.missing]))
    if len(cov.counted) < rules["sessions"]:
        ev.append(violated(f"{len(cov.counted)} {counted} session(s)", file=file, field="sessions",
                           expected=f">= {rules['sessions']} sessions", found=len(cov.counted)))
    idle = sorted(set(track_ids) - used_tracks)
    if idle:
        ev.append(violated(f"{len(idle)} listed track(s) have no {counted} session: {', '.join(idle[:5])}",
                           file=file, field="tracks", expected="every track danced", found=idle))
    if cov.ok:
        ev.append(held(f"{len(cov.counted)} {counted} session(s) on {len(set(track_ids))} tracks cover all "
                       f"{len(cov.cells)} {rows.name} × {cols.name} cells (>= {need} each); "
                       f"{len(cov.captured)} captured with their files", file=file,
                       expected=f"{layout.RULES} capture", found=len(cov.counted)))
    return cov


def _captured(s: dict[str, Any], where: str, file: str, base: Path | None, digest: Callable[[Path], str],
              role_rules: dict[str, dict[str, Any]]) -> list[Evidence]:
    ev = []
    for key in ("captured_at", "duration_s"):
        if key not in s:
            ev.append(violated(f"captured session without {key}", file=file, field=f"{where}.{key}",
                               expected=key, found=None))
    roles = [f["role"] for f in s["files"]]
    for role, rule in role_rules.items():
        if rule["required"] and role not in roles:
            ev.append(violated(f"captured session lists no {role} file", file=file, field=f"{where}.files",
                               expected=role, found=roles))
    for j, ref in enumerate(s["files"]):
        field = f"{where}.files[{j}] ({ref['role']})"
        if ref["role"] not in role_rules:
            ev.append(violated(f"file role `{ref['role']}` is not in the protocol", file=file, field=field,
                               expected=sorted(role_rules), found=ref["role"]))
        if base is None:
            ev.append(unchecked("the manifest's folder is not readable here; file not checked", file=file,
                                field=field, expected=ref["sha256"], found=None))
            continue
        path = base / ref["path"]
        if not path.is_file():
            ev.append(violated("session file is missing", file=file, field=field, expected=ref["path"],
                               found=None))
        elif path.stat().st_size != ref["byte_size"]:
            ev.append(violated("byte size differs from the manifest", file=file, field=field,
                               expected=ref["byte_size"], found=path.stat().st_size))
        else:
            got = digest(path)
            if got != ref["sha256"]:
                ev.append(violated("sha256 differs from the manifest", file=file, field=field,
                                   expected=ref["sha256"], found=got))
    return ev
