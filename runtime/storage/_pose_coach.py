"""The Pose Coach source adapter (seed 000, Wave 3): a Pose Coach session -> `k11_pose_coach_NNN`.

Reads a session folder (`manifest.json`, lume.pose_coach.training_session.v1, and
`metadata/training.jsonl`), validates both, and records in the bundle a Pose Coach source
entry with the seed's fields, the sha256 and byte size of every file the manifest refers to
(manifest, training JSONL, the three videos, the PNG keyframes) and the session's clips as
label windows. Default storage is a reference (nothing copied: "copy heavy videos only when
the target machine actually needs them"); `copy=True` copies the session into
`sources/k11_pose_coach/<session_id>/` (through a staging folder, checked against the
originals). The same session added again updates its entry instead of adding a second one.

Pose Coach writes these files, so they are read tolerantly: unknown keys are kept (a copy is
byte for byte) and returned as warnings, and a manifest with only the fields the seed lists
means the seed's layout (`metadata/training.jsonl`, `video/*.avi`, `frames/*/`; the session id
is the folder name). Every file taken from the session is a regular file inside it: a symbolic
link (which could lead out of the session) is refused, never followed.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lume.generated.constants import (
    POSE_COACH_ENTRY_CONSTS,
    POSE_COACH_FRAMES,
    POSE_COACH_INTENDED_USES,
    POSE_COACH_MANIFEST_CONSTS,
    POSE_COACH_SOURCE_ID_PATTERN,
    POSE_COACH_VIDEOS,
)
from lume.runtime.core import (
    Clock,
    InputError,
    LabelIndex,
    Problem,
    get,
    parse_time,
    problems,
    read_json,
    read_records,
    tolerated,
)

from ._bundle import read_bundle, update_bundle
from ._checksum import sha256_files
from ._policy import folder_of, layout, staging_prefix

SOURCE_TYPE = "guided_pose_clip"
LATEST = "pose-coach-latest-session.json"
SESSIONS = "sessions"


def _source_id_pattern() -> tuple[str, int]:
    """(prefix, digits) of `k11_pose_coach_NNN` from the contract's source_id pattern."""
    pattern = POSE_COACH_SOURCE_ID_PATTERN  # ^k11_pose_coach_[0-9]{3}$
    prefix = pattern.lstrip("^").split("[", 1)[0]
    digits = int(pattern.split("{", 1)[1].split("}", 1)[0])
    return prefix, digits


def _layout_spec() -> tuple[str, dict[str, Any]]:
    for key, spec in layout()["sources"].items():
        if SOURCE_TYPE in spec["source_types"]:
            return key, spec
    raise KeyError(f"bundle_layout.v1 has no folder for {SOURCE_TYPE}")


def _unix(iso: str) -> float:
    return parse_time(iso)


def resolve_latest(pose_coach_root: Path) -> Path:
    """The session folder `pose-coach-latest-session.json` points at, found under this root
    (the pointer's absolute paths are K11 paths; its session id is looked up here first)."""
    pose_coach_root = Path(pose_coach_root)
    pointer = pose_coach_root / LATEST
    doc = read_json(pointer)
    found = problems(doc, get("pose_coach_latest.v1"), file=str(pointer))
    if found:
        raise InputError("; ".join(str(p) for p in found[:3]))
    for candidate in (pose_coach_root / SESSIONS / doc["session_id"], Path(doc["session_dir"])):
        if (candidate / "manifest.json").is_file():
            return candidate
    raise InputError(f"{pointer}: session {doc['session_id']} is neither in {pose_coach_root / SESSIONS} "
                     f"nor at {doc['session_dir']}")


@dataclass
class PoseSession:
    """A Pose Coach session folder as read: the manifest as written, what it means (the seed's
    layout where it says nothing), the training records, the files, the unknown keys."""

    folder: Path
    manifest: dict[str, Any]
    session_id: str
    training_jsonl: str
    videos: dict[str, str]
    records: list[dict[str, Any]]
    files: list[str]  # relative to the session folder
    warnings: list[Problem] = field(default_factory=list)


def _inside(session_dir: Path, rel: str, named_by: Path) -> Path:
    """`session_dir/rel` when it is a regular file reached without a symbolic link; InputError
    otherwise (a link could lead out of the session: never followed, never copied)."""
    here = session_dir
    for part in Path(rel).parts:
        here = here / part
        try:
            st = os.lstat(here)
        except OSError as exc:
            raise InputError(f"{session_dir / rel}: missing (named by {named_by})") from exc
        if stat.S_ISLNK(st.st_mode):
            raise InputError(f"{here}: a symbolic link inside the Pose Coach session; session files "
                             "must be regular files in the session folder (links are never followed)")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{session_dir / rel}: not a regular file (named by {named_by})")
    return session_dir / rel


def read_session(session_dir: Path) -> PoseSession:
    """The session at `session_dir`, validated (InputError names file, field and contract)."""
    session_dir = Path(session_dir).absolute()
    path = _inside(session_dir, "manifest.json", session_dir)
    manifest = read_json(path)
    contract = get("pose_coach_session.v1")
    found = problems(manifest, contract, file=str(path))
    if found:
        raise InputError("; ".join(str(p) for p in found[:3]))
    notes = tolerated(manifest, contract, file=str(path))
    training = manifest.get("training_jsonl", POSE_COACH_MANIFEST_CONSTS["training_jsonl"])
    videos = {**POSE_COACH_VIDEOS, **(manifest.get("videos") or {})}
    frames = {**POSE_COACH_FRAMES, **(manifest.get("frames") or {})}
    records = read_records(_inside(session_dir, training, path), "pose_coach_training_record.v1", notes=notes)
    files = ["manifest.json", training, *sorted(videos.values())]
    for rel in files:
        _inside(session_dir, rel, path)
    for folder in sorted(frames.values()):
        if (session_dir / folder).is_dir() and not (session_dir / folder).is_symlink():
            pngs = sorted(p.relative_to(session_dir).as_posix() for p in (session_dir / folder).glob("*.png"))
            files += [rel for rel in pngs if _inside(session_dir, rel, path)]
    for rec in records:  # keyframes a record names must exist
        for rel in (rec.get("keyframes") or {}).values():
            if not (session_dir / rel).is_file():
                raise InputError(f"{session_dir / training}: frame {rec['frame_index']} names keyframe "
                                 f"{rel}, which is missing")
    return PoseSession(session_dir, manifest, manifest.get("session_id") or session_dir.name, training,
                       videos, records, files, notes)


def _labels(manifest: dict[str, Any], source_id: str, where: str, notes: list[Problem]) -> list[dict[str, Any]]:
    table = LabelIndex.load()
    fps = (manifest.get("camera") or {}).get("fps")
    out = []
    for i, clip in enumerate(manifest.get("clips", [])):
        category = table.category(clip["label"])
        if category is None:
            raise InputError(f"{where}: clips[{clip['clip_index']}].label {clip['label']!r} is not in labels.v1")
        entry: dict[str, Any] = {"label": table.canonical(clip["label"]), "source_id": source_id, "category": category}
        if "start_ms" in clip and "end_ms" in clip:
            entry["start_unix"], entry["end_unix"] = clip["start_ms"] / 1000, clip["end_ms"] / 1000
        elif fps:
            entry["t_start_s"] = round(clip["start_frame"] / fps, 3)
            entry["t_end_s"] = round(max(clip["end_frame"], clip["start_frame"]) / fps, 3)
        else:  # frames without a frame rate: no time to give the window
            notes.append(Problem(where, None, f"$.clips[{i}]", f"clip {clip['label']!r} has frame numbers "
                                 "but the manifest names no camera fps: not recorded as a label window",
                                 "pose_coach_session.v1"))
            continue
        out.append(entry)
    return out


def _copy_nofollow(src: Path, dest: Path) -> None:
    """Copy a regular file without following a link that appeared since it was checked."""
    try:
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InputError(f"{src}: cannot copy: {exc.strerror or exc} (a symbolic link is never followed)") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InputError(f"{src}: not a regular file")
        with open(dest, "xb") as out:
            shutil.copyfileobj(fh, out, 1 << 20)


def _copy_session(session_dir: Path, files: list[str], dest: Path, digests: dict[str, str]) -> None:
    """Copy the referenced files into `dest` (staging folder + rename); an existing copy must
    be identical (sources are never modified)."""
    if dest.exists():
        have = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
        theirs = sha256_files(dest / rel for rel in files if (dest / rel).is_file())
        differs = [rel for rel in files if theirs.get(str(dest / rel)) != digests[rel]]
        extra = sorted(set(have) - set(files))
        if differs or extra:
            raise InputError(f"{dest}: a copy of this session is already there and differs "
                             f"({(differs + extra)[0]}); sources are never overwritten")
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(), dir=dest.parent))
    try:
        for rel in files:
            out = staging / "x" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            _copy_nofollow(session_dir / rel, out)
        copied = sha256_files(staging / "x" / rel for rel in files)
        bad = [rel for rel in files if copied[str(staging / "x" / rel)] != digests[rel]]
        if bad:
            raise InputError(f"{session_dir / bad[0]}: changed while it was copied")
        os.rename(staging / "x", dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _recorded_path(path: Path) -> str:
    """The manifest path a reference records: "the absolute path of the session manifest.json on
    K11". Under the Pose Coach reference root this machine mounts, that is the root's canonical
    K11 spelling (storage_root.v2), so `lume verify` finds it on any machine that mounts the root;
    elsewhere the absolute local path."""
    from ._references import reference_roots

    for root in reference_roots():
        recorded = root.recorded(path)
        if recorded is not None:
            return recorded
    return str(Path(path).resolve())


def add_pose_coach(bundle_dir: Path, session_dir: Path, copy: bool = False, *,
                   clock: Clock | None = None, notes: list[Problem] | None = None) -> dict[str, Any]:
    """Add (or refresh) the Pose Coach session as a source of the bundle; returns its entry.
    `notes` receives the warnings: unknown keys kept, clips that could not become label windows."""
    bundle_dir = Path(bundle_dir)
    bundle = read_bundle(bundle_dir)
    session = read_session(session_dir)
    session_dir, manifest, records, files = session.folder, session.manifest, session.records, session.files
    digests = {rel: d for rel, d in zip(files, sha256_files(session_dir / rel for rel in files).values())}
    session_id = session.session_id

    existing = [s for s in bundle["sources"]
                if s["source_type"] == SOURCE_TYPE and s.get("session_id") == session_id]
    prefix, digits = _source_id_pattern()
    if existing:
        source_id = existing[0]["source_id"]
    else:
        taken = {s["source_id"] for s in bundle["sources"]}
        n = next(i for i in range(1, 10 ** digits) if f"{prefix}{i:0{digits}d}" not in taken)
        source_id = f"{prefix}{n:0{digits}d}"

    key, spec = _layout_spec()
    storage = "copy" if copy or (existing and existing[0].get("storage") == "copy") else "reference"
    if storage == "copy":
        dest = bundle_dir / folder_of(spec) / session_id
        _copy_session(session_dir, files, dest, digests)
        manifest_path = (dest / "manifest.json").relative_to(bundle_dir).as_posix()
    else:
        manifest_path = _recorded_path(session_dir / "manifest.json")

    stamps = [r["timestamp_ms"] for r in records]
    if manifest.get("created_at"):
        start: float | None = _unix(manifest["created_at"])
    else:  # the seed's minimal manifest: the first training record says when it started
        start = min(stamps) / 1000 if stamps else None
    if manifest.get("ended_at") and start is not None:
        duration = max(0.0, _unix(manifest["ended_at"]) - start)
    else:
        duration = (max(stamps) - min(stamps)) / 1000 if stamps else 0.0
    entry = {
        "source_id": source_id,
        "source_type": SOURCE_TYPE,
        "machine": POSE_COACH_ENTRY_CONSTS["machine"],
        "schema": manifest["schema"],
        "session_id": session_id,
        "manifest_path": manifest_path,
        "training_jsonl_path": session.training_jsonl,
        "review_video": session.videos["display_overlay"],
        "raw_camera_video": session.videos["raw_camera"],
        "coordinate_space": POSE_COACH_ENTRY_CONSTS["coordinate_space"],
        "intended_use": list(POSE_COACH_INTENDED_USES),
        "storage": storage,
        "status": "complete" if manifest.get("ended_at") else "recording",
        **({"start_unix": start} if start is not None else {}),
        "duration_s": round(duration, 3),
        "files": [{"path": rel, "sha256": digests[rel], "byte_size": (session_dir / rel).stat().st_size}
                  for rel in files],
    }
    found = list(session.warnings)
    labels = _labels(manifest, source_id, str(session_dir / "manifest.json"), found)
    if notes is not None:
        notes += found

    def mutate(doc: dict[str, Any]) -> None:
        for i, s in enumerate(doc["sources"]):
            if s["source_id"] == source_id:
                doc["sources"][i] = entry
                break
        else:
            doc["sources"].append(entry)
        doc["labels"] = [lb for lb in doc["labels"] if lb["source_id"] != source_id] + labels

    update_bundle(bundle_dir, mutate, clock=clock)
    return entry
