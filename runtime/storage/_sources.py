"""Readers of the bundle's source folders: what each source says about itself.

One reader per single-instance source folder of bundle_layout.v1. Each validates the files
the layout names a contract for, then reports the facts of a source entry: machine, status,
timebase, start, duration, labels path, notes, and labels aligned to the unified vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lume.generated.constants import MAC4, MOTIONMIX, STORAGE_MANIFESTS_DIR, STORAGE_MEMBERS_DIR
from lume.runtime.core import (
    InputError,
    LabelIndex,
    Problem,
    get,
    problems,
    read_json,
    read_records,
    tolerated,
)

from . import _extract as ex
from ._media import probe_video
from ._policy import default_limits, incoming_dir, place_members


@dataclass
class SourceFacts:
    machine: str
    status: str
    timebase: str
    start_unix: float | None
    duration_s: float | None
    labels_path: str | None = None
    notes: str = ""
    labels: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # unknown keys of the producer's files


def contract_stem(urn: str) -> str:
    """`lume:contract:mac4_session:v1` -> `mac4_session.v1`."""
    parts = urn.split(":")
    if len(parts) != 4 or parts[:2] != ["lume", "contract"]:
        raise ValueError(f"not a contract URN: {urn}")
    return f"{parts[2]}.{parts[3]}"


def load_checked(folder: Path, spec: dict[str, Any], notes: list[Problem] | None = None) -> dict[str, Any]:
    """Read every file of the folder that the layout names a contract for, validated.
    Returns {relative path: document, or list of records for .jsonl}; `notes` receives the
    unknown keys of files other programs wrote (read tolerantly)."""
    out: dict[str, Any] = {}
    for rel, urn in (spec.get("contracts") or {}).items():
        path = folder / rel
        if not path.is_file():
            if rel in spec["required"]:
                raise InputError(f"{path}: missing (bundle_layout.v1 requires it)")
            continue
        contract = get(contract_stem(urn))
        if rel.endswith(".jsonl"):
            out[rel] = read_records(path, contract, notes=notes)
        else:
            doc = read_json(path)
            found = problems(doc, contract, file=str(path))
            if found:
                raise InputError("; ".join(str(p) for p in found[:3]))
            if notes is not None:
                notes += tolerated(doc, contract, file=str(path))
            out[rel] = doc
    return out


_SESSION_STATUS = {"complete": "complete", "recording": "recording", "interrupted": "partial", "failed": "failed"}


def mac4_labels(records: list[dict[str, Any]], source_id: str, labels: LabelIndex, where: str,
                take_end: float | None) -> list[dict[str, Any]]:
    """Mac4 markers -> label windows: a start/end pair of a label is one window, a marker is
    a point (end = start). Absolute times are used when both ends have them."""
    out: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}

    def window(label: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        category = labels.category(label)
        if category is None:
            raise InputError(f"{where}: label {label!r} is not in labels.v1")
        entry: dict[str, Any] = {"label": labels.canonical(label), "source_id": source_id, "category": category}
        if "t_unix" in a and "t_unix" in b:
            entry["start_unix"], entry["end_unix"] = a["t_unix"], b["t_unix"]
        elif "t_s" in a and "t_s" in b:
            entry["t_start_s"], entry["t_end_s"] = a["t_s"], b["t_s"]
        else:
            key = "t_unix" if "t_unix" in a else "t_s"
            entry["start_unix" if key == "t_unix" else "t_start_s"] = a[key]
            entry["end_unix" if key == "t_unix" else "t_end_s"] = a[key]
        return entry

    for rec in records:
        label, event = rec["label"], rec["event"]
        if event == "start":
            if label in open_:  # restarted without an end: the first start stands for a point
                out.append(window(label, open_[label], open_[label]))
            open_[label] = rec
        elif event == "end" and label in open_:
            out.append(window(label, open_.pop(label), rec))
        else:  # a marker, or an end without its start: one point in time
            out.append(window(label, rec, rec))
    for label, rec in open_.items():  # still open when the take ended: runs to its end
        if "t_s" in rec and take_end is not None:
            out.append(window(label, {"t_s": rec["t_s"]}, {"t_s": max(rec["t_s"], take_end)}))
        else:
            out.append(window(label, rec, rec))
    return out


def read_mac4_tier0(folder: Path, spec: dict[str, Any], labels: LabelIndex) -> SourceFacts:
    notes: list[Problem] = []
    docs = load_checked(folder, spec, notes)
    session = docs["session.json"]
    video = probe_video(folder / session["video"]["path"])
    duration = video.duration_s
    start = session["started_at_unix"]
    records = docs.get(session["labels_path"], [])
    return SourceFacts(
        machine=session["machine"],
        status=_SESSION_STATUS[session["status"]],
        timebase="unix_seconds",
        start_unix=start,
        duration_s=duration,
        labels_path=session["labels_path"],
        notes=session.get("notes", ""),
        labels=mac4_labels(records, "mac4_tier0", labels, str(folder / session["labels_path"]), duration),
        warnings=notes,
    )


def _stream(machine: str) -> Callable[[Path, dict[str, Any], LabelIndex], SourceFacts]:
    """A timestamped JSONL stream (timestamp_ms on every record): the layout's one required file."""
    def read(folder: Path, spec: dict[str, Any], labels: LabelIndex) -> SourceFacts:
        notes: list[Problem] = []
        records = load_checked(folder, spec, notes)[spec["required"][0]]
        stamps = [r["timestamp_ms"] for r in records]
        start = min(stamps) / 1000 if stamps else None
        duration = (max(stamps) - min(stamps)) / 1000 if stamps else None
        return SourceFacts(machine=machine, status="complete" if records else "partial",
                           timebase="unix_millis", start_unix=start, duration_s=duration, warnings=notes)
    return read


# layout source key -> reader. Machines (common.v1) from seed 000: MotionMix is its own hub;
# mocopi feeds Mac4 ("local mocopi-to-Unity feed when sensors are charged").
SOURCE_READERS: dict[str, Callable[[Path, dict[str, Any], LabelIndex], SourceFacts]] = {
    "mac4_tier0": read_mac4_tier0,
    "motionmix": _stream(MOTIONMIX),
    "mocopi": _stream(MAC4),
}


def archive_paths(root: Path, entry: dict[str, Any]) -> list[str] | None:
    """The file members of an indexed archive, top folder stripped: from its transport manifest,
    else the member digests recorded when it was extracted, else (an index from before those)
    the archive itself. None when none can be read."""
    name, session = entry["archive_name"], entry.get("session_id") or ""
    paths: list[str] | None = None
    for where in (root / STORAGE_MANIFESTS_DIR / f"{name}.json", root / STORAGE_MEMBERS_DIR / f"{name}.json"):
        if where.is_file():
            try:
                doc = read_json(where)
                paths = [str(c["path"]).removeprefix("./") for c in doc.get("contents") or doc["members"]]
                break
            except (InputError, KeyError, TypeError, AttributeError):
                paths = None
    if paths is None:
        try:
            listing = ex.list_archive(root / incoming_dir() / name, **default_limits(),
                                      strip=(session, ex.archive_stem(name)))
        except (ex.ArchiveRefused, ex.ArchiveCorrupt, OSError):
            return None
        return [m.path for m in listing.members if m.kind in (ex.FILE, ex.HARDLINK)]
    for prefix in (session + "/", ex.archive_stem(name) + "/"):
        if paths and all(p.startswith(prefix) for p in paths):
            return [p[len(prefix):] for p in paths]
    return paths


def archive_source_key(root: Path, entry: dict[str, Any]) -> str | None:
    """Which layout source folder an indexed archive was extracted into (None for an archive of
    derived sidecars only)."""
    paths = archive_paths(root, entry)
    placed = place_members(paths) if paths is not None else None
    return placed.source if placed else None


def archive_entry_for(root: Path, index: dict[str, Any] | None, session_id: str, key: str) -> dict[str, Any] | None:
    """The indexed archive of `session_id` that holds layout source `key`, if any."""
    for entry in (index or {}).get("entries", []):
        if entry["status"] == "indexed" and entry.get("session_id") == session_id:
            if archive_source_key(root, entry) == key:
                return entry
    return None
