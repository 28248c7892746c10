"""Build K11 dance-sessions roots and archives (good and hostile) for the storage tests."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
ROUTE_SMOKE = FIXTURES / "route_smoke"
POSE_COACH = FIXTURES / "pose_coach"
MAIN = "20260528-weighted-freestyle-01"
SECOND = "20260529-route-smoke-02"
POSE_SESSION = "20260528-192500"
K11_ROOT = "C:\\lume\\dance-sessions"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def arrived(tmp: Path) -> Path:
    """The committed route-smoke root as it arrived: `_incoming` and `_manifests` only."""
    root = tmp / "dance-sessions"
    root.mkdir(parents=True)
    for folder in ("_incoming", "_manifests"):
        shutil.copytree(ROUTE_SMOKE / folder, root / folder)
    return root


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below root: relative path -> (bytes, mtime_ns)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def session_members(session_id: str = "s1") -> dict[str, bytes]:
    """A small valid Mac4 Tier 0 session (the video is the committed route-smoke one)."""
    src = ROUTE_SMOKE / "_processed" / SECOND / "sources" / "mac4_tier0"
    session = json.loads((src / "session.json").read_text())
    session["session_id"] = session_id
    return {
        "session.json": (json.dumps(session, indent=2) + "\n").encode(),
        "raw/video/webcam_main.mp4": (src / "raw/video/webcam_main.mp4").read_bytes(),
        "raw/labels/labels.jsonl": (src / "raw/labels/labels.jsonl").read_bytes(),
        "logs/recorder.log": b"recorder started\n",
    }


def tar_bytes(members: dict[str, bytes], *, gz: bool = True, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1780000000, 0o644
            tf.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buf.getvalue()


def zip_data(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return buf.getvalue()


def special(name: str, kind: bytes, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mtime = kind, linkname, size, 1780000000
    return info


def put(root: Path, name: str, data: bytes, *, sidecar: str | None = "ok", session_id: str | None = None,
        members: dict[str, bytes] | None = None, manifest: dict | None = None) -> Path:
    """Drop an archive into root/_incoming with (by default) a correct .sha256 sidecar and,
    when `members` are given, a transport manifest listing them."""
    incoming = root / "_incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    (incoming / name).write_bytes(data)
    if sidecar == "ok":
        (incoming / f"{name}.sha256").write_text(f"{sha(data)}  {name}\n")
    elif sidecar is not None:
        (incoming / f"{name}.sha256").write_text(sidecar)
    if manifest is None and members is not None:
        fmt = next(f for f in ("tar.gz", "tgz", "tar", "zip") if name.endswith("." + f))
        contents = [{"path": n, "sha256": sha(b), "byte_size": len(b)} for n, b in members.items()]
        manifest = {"schema": "lume.transport_manifest.v1", "session_id": session_id or name.split(".")[0],
                    "archive_name": name, "archive_sha256": sha(data), "archive_bytes": len(data),
                    "source_machine": "Mac4", "target_machine": "K11", "created_at_unix": 1780000000,
                    "format": fmt, "member_count": len(contents),
                    "expanded_bytes": sum(c["byte_size"] for c in contents), "contents": contents}
    if manifest is not None:
        (root / "_manifests").mkdir(exist_ok=True)
        (root / "_manifests" / f"{name}.json").write_text(json.dumps(manifest, indent=2))
    return incoming / name


def no_partial(root: Path) -> bool:
    """No staging folder left in _processed."""
    return not any(p.name.startswith(".extract-") for p in (root / "_processed").iterdir()) \
        if (root / "_processed").exists() else True


def env_epoch(t: int) -> dict[str, str]:
    return {**os.environ, "SOURCE_DATE_EPOCH": str(t)}
