"""The bundle manifest generator (seed 000, Wave 2) and the one way bundle.json is changed.

`create_bundle(root, session_id)` writes `_processed/<session_id>/bundle.json`
(lume.rehearsal_bundle.v1) for a processed Mac4 Tier 0 session: one source entry per source
folder of bundle_layout.v1 found in the bundle (the long take, and MotionMix / mocopi when
they arrived), each with its archive checksum and size from the index, the sha256 and size of
every file, its start time and duration (the long take's duration read from the video), and
the Mac4 marker labels aligned into the unified vocabulary of labels.v1; plus `README.md` and
the `reports/` of the layout. Entries other producers added (Pose Coach sources, Mac5
derived outputs, their labels) are kept. Safe to rerun: the bytes only change when the
content does, and then `updated_at_unix` says when.

`update_bundle(bundle_dir, mutate)` is how every other writer changes bundle.json: read,
mutate, validate against the contract, stamp `updated_at_unix` when something changed,
write atomically, refresh README.md and reports/. `register_derived` is the mutation every
producer of `derived/` uses (templates, promotion, the sidecars the indexer placed): one entry
per producer call with the sha256 and size of each output, so `lume verify` checksums them.

`bundle_digest` is what derived documents bind to: the sha256 of bundle.json's evidence (the
document without `derived` and `updated_at_unix`), so registering an output does not make the
outputs derived from the same evidence stale.
"""
from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any, Callable

import orjson

from lume.generated.constants import BUNDLE_FILE, BUNDLE_MACHINE_ROLES, BUNDLE_SAFETY, BUNDLE_STORAGE_MACHINE
from lume.runtime.core import (
    Clock,
    InputError,
    LabelIndex,
    Problem,
    dumps,
    get,
    problems,
    read_json,
    write_text,
)
from lume.runtime.core import now as wall_clock

from ._checksum import sha256_file, sha256_files
from ._index import load_index
from ._indexer import check_root
from ._policy import derived_folder_of, folder_of, incoming_dir, join_root, layout, processed_dir
from ._reports import render_all
from ._sources import SOURCE_READERS, archive_entry_for

SCHEMA = "lume.rehearsal_bundle.v1"
_CONTRACT = "rehearsal_bundle.v1"


def bundle_problems(doc: Any, file: str) -> list[str]:
    return [str(p) for p in problems(doc, get(_CONTRACT), file=file)]


def read_bundle(bundle_dir: Path) -> dict[str, Any]:
    """bundle.json of a bundle folder, validated (InputError names file, field and contract)."""
    path = Path(bundle_dir) / BUNDLE_FILE
    doc = read_json(path)
    found = bundle_problems(doc, str(path))
    if found:
        raise InputError("; ".join(found[:5]))
    return doc


def _same(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    if a is None:
        return False
    strip = lambda d: {k: v for k, v in d.items() if k != "updated_at_unix"}  # noqa: E731
    return strip(a) == strip(b)


def write_bundle(bundle_dir: Path, doc: dict[str, Any], previous: dict[str, Any] | None,
                 clock: Clock) -> bool:
    """Validate and write bundle.json + README.md + reports/ (atomic; only what changed)."""
    bundle_dir = Path(bundle_dir)
    if previous is not None and _same(previous, doc):
        doc = {**doc}
        if "updated_at_unix" in previous:
            doc["updated_at_unix"] = previous["updated_at_unix"]
        else:
            doc.pop("updated_at_unix", None)
    else:
        doc = {**doc, "updated_at_unix": clock()}
    doc = _ordered(doc)
    found = bundle_problems(doc, str(bundle_dir / BUNDLE_FILE))
    if found:
        raise InputError("bundle.json would not be valid, nothing written: " + "; ".join(found[:5]))
    changed = write_text(bundle_dir / BUNDLE_FILE, dumps(doc))
    for rel, text in render_all(bundle_dir, doc).items():
        changed |= write_text(bundle_dir / rel, text)
    return changed


_ORDER = ["schema", "bundle_id", "created_at_unix", "updated_at_unix", "primary_storage", "sources",
          "derived", "labels", "machine_roles", "safety"]


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in _ORDER if k in doc} | {k: v for k, v in doc.items() if k not in _ORDER}


def update_bundle(bundle_dir: Path, mutate: Callable[[dict[str, Any]], None], *,
                  clock: Clock | None = None) -> dict[str, Any]:
    """Read bundle.json, apply `mutate` (in place) to a copy, validate against
    rehearsal_bundle.v1 and write it atomically (nothing is written when the mutation changes
    nothing or the result is invalid). Returns the document as written."""
    bundle_dir = Path(bundle_dir)
    previous = read_bundle(bundle_dir)
    doc = copy.deepcopy(previous)
    mutate(doc)
    write_bundle(bundle_dir, doc, previous, clock or wall_clock)
    return read_json(bundle_dir / BUNDLE_FILE)


def bundle_digest(doc: dict[str, Any]) -> str:
    """sha256 of the bundle's evidence: the canonical JSON (sorted keys, compact) of bundle.json
    without `derived` and `updated_at_unix`. Derived documents bind to it: registering their own
    outputs in `derived[]` changes bundle.json, never this digest."""
    evidence = {k: v for k, v in doc.items() if k not in ("derived", "updated_at_unix")}
    return hashlib.sha256(orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS)).hexdigest()


def register_derived(bundle_dir: Path, outputs: list[str], *, source_id: str | None = None,
                     tool: str | None = None, machine: str | None = None,
                     sampling_policy: str = "not_applicable", status: str = "complete",
                     clock: Clock | None = None) -> dict[str, Any]:
    """Record files a producer wrote under one `derived/<folder>/` of the bundle as a derived
    entry with each file's sha256 and size (the first output is the entry's main path). The
    producer's machine and tool default to what bundle_layout.v1 says about the folder; the
    source to the bundle's first source. The same main output registered again replaces its
    entry. Returns the entry (InputError for outputs outside one derived folder or missing)."""
    bundle_dir = Path(bundle_dir)
    if not outputs:
        raise InputError(f"{bundle_dir / BUNDLE_FILE}: nothing to register")
    folders = {derived_folder_of(rel) for rel in outputs}
    if len(folders) != 1 or None in folders:
        raise InputError(f"{bundle_dir}: derived outputs must sit in one derived folder of "
                         f"bundle_layout.v1, got {sorted(outputs)}")
    folder = folders.pop()
    key = folder.split("/", 1)[1]
    spec = layout()["derived"][key]
    files = []
    for rel in outputs:
        path = bundle_dir / rel
        if not path.is_file():
            raise InputError(f"{path}: missing; only written files can be registered")
        files.append({"path": rel, "sha256": sha256_file(path), "byte_size": path.stat().st_size})
    clock = clock or wall_clock

    def mutate(doc: dict[str, Any]) -> None:
        main = outputs[0]
        same = [d for d in doc["derived"] if d["path"] == main]
        numbers = [int(m.group(1)) for d in doc["derived"] if (m := re.fullmatch(rf"{key}_(\d+)", d["derived_id"]))]
        entry = {
            "derived_id": same[0]["derived_id"] if same else f"{key}_{max(numbers, default=0) + 1:03d}",
            "derived_type": key,
            "source_id": source_id or (same[0]["source_id"] if same else None)
            or (doc["sources"][0]["source_id"] if doc["sources"] else key),
            "machine": machine or spec.get("machine") or BUNDLE_STORAGE_MACHINE,
            "tool": tool or spec.get("tool") or key,
            "path": main,
            "sampling_policy": sampling_policy,
            "status": status,
            "created_at_unix": same[0]["created_at_unix"] if same and same[0].get("outputs") == files
            and "created_at_unix" in same[0] else clock(),
            "outputs": files,
        }
        doc["derived"] = [d for d in doc["derived"] if d["path"] != main] + [entry]
        holder["entry"] = entry

    holder: dict[str, Any] = {}
    update_bundle(bundle_dir, mutate, clock=clock)
    return holder["entry"]


# --------------------------------------------------------------------------- create


def bundle_dir_of(root: Path, session_id: str) -> Path:
    return Path(root) / processed_dir() / session_id


def _files(folder: Path) -> list[dict[str, Any]]:
    """Every file below `folder`, sorted, with sha256 and size (hashed on every core)."""
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
                   key=lambda p: p.relative_to(folder).as_posix())
    digests = sha256_files(paths)
    return [{"path": p.relative_to(folder).as_posix(), "sha256": digests[str(p)],
             "byte_size": p.stat().st_size} for p in paths]


def _sidecar_entries(root: Path, index: dict[str, Any] | None, session_id: str, bundle_dir: Path,
                     old: list[dict[str, Any]], source_id: str, clock: Clock) -> list[dict[str, Any]]:
    """Derived entries of the sidecars the indexer placed in the bundle's derived folders (from
    the session's archives: `derived/mac4_first/` in a Mac4 archive, a sidecar archive), each
    output with its sha256 and size; entries already recorded keep their id and time."""
    from ._sources import archive_paths

    folders: dict[str, set[str]] = {}
    for entry in (index or {}).get("entries", []):
        if entry["status"] != "indexed" or entry.get("session_id") != session_id:
            continue
        for rel in archive_paths(root, entry) or []:
            folder = derived_folder_of(rel)
            if folder is not None and (bundle_dir / rel).is_file():
                folders.setdefault(folder, set()).add(rel)
    out = []
    for folder, paths in sorted(folders.items()):
        key = folder.split("/", 1)[1]
        spec = layout()["derived"][key]
        rels = sorted(paths)
        digests = sha256_files(bundle_dir / rel for rel in rels)
        files = [{"path": rel, "sha256": digests[str(bundle_dir / rel)],
                  "byte_size": (bundle_dir / rel).stat().st_size} for rel in rels]
        same = next((d for d in old if d["path"] == rels[0]), None)
        out.append({"derived_id": same["derived_id"] if same else f"{key}_001", "derived_type": key,
                    "source_id": source_id, "machine": spec.get("machine") or BUNDLE_STORAGE_MACHINE,
                    "tool": spec.get("tool") or key, "path": rels[0], "sampling_policy": "not_applicable",
                    "status": "complete",
                    "created_at_unix": same["created_at_unix"] if same and same.get("outputs") == files
                    and "created_at_unix" in same else clock(),
                    "outputs": files})
    return out


def create_bundle(root: Path, session_id: str, bundle_id: str | None = None, *,
                  clock: Clock | None = None, notes: list[Problem] | None = None) -> Path:
    """Write (or refresh) the bundle of a processed session; returns `_processed/<session_id>/`.
    `notes` receives the warnings (unknown keys in the files other programs wrote).

    Raises BadRoot for a bad ROOT and InputError (naming file, field and contract) for a
    session that is not a processed Mac4 Tier 0 session or whose documents are invalid.
    """
    root = check_root(Path(root))
    clock = clock or wall_clock
    bundle_dir = bundle_dir_of(root, session_id)
    lay = layout()
    long_take_key = next(k for k, s in lay["sources"].items() if "long_take_video" in s["source_types"])
    long_take = bundle_dir / folder_of(lay["sources"][long_take_key])
    if not (long_take / lay["sources"][long_take_key]["required"][0]).is_file():
        raise InputError(f"{bundle_dir}: not a processed Mac4 Tier 0 session (no "
                         f"{folder_of(lay['sources'][long_take_key])}/{lay['sources'][long_take_key]['required'][0]}; "
                         "run `lume index` first)")
    index = load_index(root)
    root_name = index["root"] if index else str(root.resolve())
    previous = read_bundle(bundle_dir) if (bundle_dir / BUNDLE_FILE).exists() else None
    labels = LabelIndex.load()

    generated_sources: list[dict[str, Any]] = []
    generated_labels: list[dict[str, Any]] = []
    for key, spec in lay["sources"].items():
        folder = bundle_dir / folder_of(spec)
        reader = SOURCE_READERS.get(key)
        if reader is None or spec.get("instances") or not folder.is_dir():
            continue
        facts = reader(folder, spec, labels)
        archive = archive_entry_for(root, index, session_id, key)
        entry = {
            "source_id": key,
            "source_type": spec["source_types"][0],
            "machine": facts.machine,
            "path": folder_of(spec),
            "archive_path": join_root(root_name, incoming_dir(), archive["archive_name"]) if archive else None,
            "sha256": archive["archive_sha256"] if archive else None,
            "byte_size": archive["archive_bytes"] if archive else None,
            "status": facts.status,
            "timebase": facts.timebase,
            "start_unix": facts.start_unix,
            "duration_s": facts.duration_s,
            "labels_path": facts.labels_path,
            "notes": facts.notes,
            "files": _files(folder),
        }
        generated_sources.append(entry)
        generated_labels += facts.labels
        if notes is not None:
            notes += facts.warnings
    ours = {s["source_id"] for s in generated_sources}
    old = previous or {}
    long_take_id = next((s["source_id"] for s in generated_sources if s["source_type"] == "long_take_video"),
                        long_take_key)
    sidecars = _sidecar_entries(root, index, session_id, bundle_dir, old.get("derived", []), long_take_id, clock)
    placed = {d["path"]: d for d in sidecars}
    derived = [placed.pop(d["path"], d) for d in old.get("derived", [])] + list(placed.values())
    doc = {
        "schema": SCHEMA,
        "bundle_id": bundle_id or old.get("bundle_id") or session_id,
        "created_at_unix": old.get("created_at_unix", clock()),
        "primary_storage": {"machine": BUNDLE_STORAGE_MACHINE, "root": root_name},
        "sources": generated_sources + [s for s in old.get("sources", []) if s["source_id"] not in ours],
        "derived": derived,
        "labels": generated_labels + [lb for lb in old.get("labels", []) if lb["source_id"] not in ours],
        "machine_roles": dict(BUNDLE_MACHINE_ROLES),
        "safety": dict(BUNDLE_SAFETY),
    }
    write_bundle(bundle_dir, doc, previous, clock)
    return bundle_dir

