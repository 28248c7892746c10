"""Build small, contract-valid K11 storage roots for the verifier tests (from contract examples)."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from pathlib import Path

from lume.runtime.core import get, settle_ns

SESSION = "20260529-route-smoke-01"
ARCHIVE = f"{SESSION}.tar.gz"
WINDOWS_ROOT = "C:\\lume\\dance-sessions"


def example(stem: str, i: int = 0) -> dict:
    return copy.deepcopy(get(stem).examples[i])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dump(obj) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def build_root(root: Path) -> Path:
    """A dance-sessions root: one indexed archive, its transport manifest, one processed bundle."""
    session = example("mac4_session.v1")
    session["session_id"] = SESSION
    labels = [example("mac4_label_record.v1", i) for i in range(3)]
    members = {
        "session.json": dump(session),
        "raw/video/webcam_main.mp4": bytes(range(256)) * 64,
        "raw/labels/labels.jsonl": b"".join(json.dumps(r).encode() + b"\n" for r in labels),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1780076400
            tf.addfile(info, io.BytesIO(data))
    archive = buf.getvalue()
    write(root / "_incoming" / ARCHIVE, archive)
    write(root / "_incoming" / f"{ARCHIVE}.sha256", f"{sha(archive)}  {ARCHIVE}\n".encode())
    contents = [{"path": n, "sha256": sha(d), "byte_size": len(d)} for n, d in members.items()]
    transport = {
        "schema": "lume.transport_manifest.v1", "session_id": SESSION, "archive_name": ARCHIVE,
        "archive_sha256": sha(archive), "archive_bytes": len(archive), "source_machine": "Mac4",
        "target_machine": "K11", "created_at_unix": 1780076520, "format": "tar.gz",
        "member_count": len(contents), "expanded_bytes": sum(c["byte_size"] for c in contents),
        "contents": contents,
    }
    write(root / "_manifests" / f"{ARCHIVE}.json", dump(transport))
    bundle_dir = root / "_processed" / SESSION
    for name, data in members.items():
        write(bundle_dir / "sources" / "mac4_tier0" / name, data)
    topology = example("device_topology_mac4_first.v1")
    topology["bundle_id"] = SESSION
    write(bundle_dir / "derived" / "mac4_first" / "device_topology.json", dump(topology))
    state = example("mac4_live_output_state.v1")
    write(bundle_dir / "derived" / "mac4_first" / "live_output_state.json", dump(state))
    summary = example("sam3d_summary.v1")
    frames = b"".join(json.dumps(example("sam3d_frame.v1", i)).encode() + b"\n"
                      for i in range(len(get("sam3d_frame.v1").examples)))
    write(bundle_dir / "derived" / "sam3d" / "summary.json", dump(summary))
    write(bundle_dir / "derived" / "sam3d" / "sam3d_frames.jsonl", frames)
    bundle = example("rehearsal_bundle.v1", 1)
    bundle["bundle_id"] = SESSION
    src = bundle["sources"][0]
    src["path"] = f"{WINDOWS_ROOT}\\_processed\\{SESSION}\\sources\\mac4_tier0"
    src["archive_path"] = f"{WINDOWS_ROOT}\\_incoming\\{ARCHIVE}"
    src["sha256"], src["byte_size"] = sha(archive), len(archive)
    src["files"] = contents
    bundle["sources"] = [src]
    outputs = []
    for rel in ("derived/sam3d/summary.json", "derived/sam3d/sam3d_frames.jsonl"):
        data = (bundle_dir / rel).read_bytes()
        outputs.append({"path": rel, "sha256": sha(data), "byte_size": len(data)})
    topology_rel = "derived/mac4_first/device_topology.json"
    topology_data = (bundle_dir / topology_rel).read_bytes()
    bundle["derived"] = [{
        "derived_id": "sam3d_001", "derived_type": "sam3d", "source_id": "mac4_tier0", "machine": "Mac5",
        "tool": "SAM3DBody-cpp", "path": "derived/sam3d/summary.json",
        "sampling_policy": "label_windows_only", "status": "complete", "outputs": outputs}, {
        "derived_id": "mac4_first_001", "derived_type": "mac4_first", "source_id": "mac4_tier0",
        "machine": "Mac4", "tool": "Mac4-first capture", "path": topology_rel,
        "sampling_policy": "not_applicable", "status": "complete",
        "outputs": [{"path": topology_rel, "sha256": sha(topology_data), "byte_size": len(topology_data)}]}]
    write(bundle_dir / "bundle.json", dump(bundle))
    entry = {
        "archive_name": ARCHIVE, "archive_sha256": sha(archive), "archive_bytes": len(archive),
        "session_id": SESSION, "status": "indexed", "reason": None,
        "processed_path": f"{WINDOWS_ROOT}\\_processed\\{SESSION}",
        "transport_manifest": f"{WINDOWS_ROOT}\\_manifests\\{ARCHIVE}.json",
        "extracted_at_unix": 1780077000, "member_count": len(contents),
        "expanded_bytes": transport["expanded_bytes"], "indexed_at_unix": 1780077001,
    }
    index = {"schema": "lume.storage_index.v1", "root": WINDOWS_ROOT, "machine": "K11",
             "updated_at_unix": 1780077001, "entries": [entry],
             "counts": {"total": 1, "indexed": 1, "refused": 0, "corrupt": 0, "missing_checksum": 0,
                        "pending": 0}}
    write(root / "index.json", dump(index))
    write(root / "index.jsonl", json.dumps(entry).encode() + b"\n")
    return root


def tree_digest(root: Path) -> str:
    """One digest over every path, mode, mtime and byte below root (proves nothing changed)."""
    h = hashlib.sha256()
    for folder, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        for n in sorted(names + dirs):
            p = Path(folder) / n
            st = p.lstat()
            h.update(f"{p.relative_to(root)}|{st.st_mode}|{st.st_mtime_ns}|{st.st_size}".encode())
            if p.is_file() and not p.is_symlink():
                h.update(p.read_bytes())
    return h.hexdigest()


def copy_root(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def settle(root: Path) -> Path:
    """Wait until every file below `root` has been left unchanged for input_limits.v1's
    `unchanged_files.settle_ms`: a quick run trusts what was remembered of such files only
    (what it read of a newer one, it reads again)."""
    stats = [p.lstat() for p in root.rglob("*")]
    newest = max((max(st.st_mtime_ns, st.st_ctime_ns) for st in stats), default=0)
    wait = newest + settle_ns() - time.time_ns()
    if wait > 0:
        time.sleep(wait / 1e9 + 0.01)
    return root
