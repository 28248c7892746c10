"""References verified where they live (issue 15; seed 000, "Storage and Space Policy").

A bundle may keep heavy data where it belongs and record only its path, sha256 and size: a Pose
Coach session referenced on K11's Pose Coach root, a source on a Mac4 local root. storage_root.v2
declares those roots (`reference_roots`: the machine that holds each, how documents written there
spell it) and what an unreachable one means (`not_reachable`); this machine's configuration says
where it mounts them. `references(bundle_dir, doc, roots)` lists every referenced file of a bundle
with the root it lives on and its local path here (None when the root is not mounted), so
`lume verify` hashes it where it lives and `lume bundle export` can list it in `fetch.txt`.
"""
from __future__ import annotations

import ntpath
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator

from lume.runtime.core import InputError, config_dir_path, load_machine_config, rule_data

from ._policy import folder_of, layout

POSE_COACH = "guided_pose_clip"


@dataclass(frozen=True)
class Root:
    """One declared reference root as this machine sees it."""

    name: str
    machine: str  # the machine declared to hold it
    spellings: tuple[str, ...]  # absolute prefixes documents use for it (normalised with `/`)
    mount: Path | None  # where this machine mounts it, or None
    holder: bool  # this machine is the one declared to hold it
    canonical: str | None = None  # how documents spell it on its machine (storage_root.v2 recorded_as[0])

    def recorded(self, local: Path) -> str | None:
        """How documents record `local` (a path under this root's mount): the root's canonical
        spelling on the machine that holds it, e.g. `C:\\lume\\recordings\\pose-coach\\sessions\\…`."""
        if self.mount is None or self.canonical is None:
            return None
        try:
            rel = Path(local).absolute().relative_to(self.mount.absolute())
        except ValueError:
            try:
                rel = Path(local).resolve().relative_to(self.mount.resolve())
            except ValueError:
                return None
        sep = "\\" if "\\" in self.canonical or ":" in self.canonical[:3] else "/"
        return sep.join([self.canonical.rstrip("/\\"), *rel.parts])

    @property
    def unreachable_is(self) -> str:
        """`warning` or `failure`: what storage_root.v2 says a file on it that cannot be reached is."""
        policy = rule_data("storage_root.v2")["not_reachable"]
        return policy["holder"] if self.holder else policy["elsewhere"]


def _norm(path: str) -> str:
    return path.replace("\\", "/").rstrip("/")


def is_absolute(value: str) -> bool:
    return PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()


def reference_roots(config: dict[str, Any] | None = None, *, use_config: bool = True) -> list[Root]:
    """The declared roots with this machine's mounts (`config`, else the machine configuration
    `load_machine_config` finds; an invalid configuration mounts nothing)."""
    if config is None and use_config:
        try:
            config = load_machine_config()
        except InputError:
            config = None
    config = config or {}
    mounts = dict(config.get("reference_roots") or {})
    out = []
    for name, spec in rule_data("storage_root.v2").get("reference_roots", {}).items():
        field = spec["config_field"]
        value = mounts.get(name) if name in mounts else (config.get(field) if field else None)
        mount = config_dir_path(value) if isinstance(value, str) and value else None
        spellings = [_norm(s) for s in spec["recorded_as"]]
        if mount is not None:
            spellings += [_norm(str(mount.absolute())), _norm(str(mount.resolve()))]
        out.append(Root(name, spec["machine"], tuple(dict.fromkeys(spellings)), mount,
                        config.get("machine") == spec["machine"],
                        spec["recorded_as"][0] if spec["recorded_as"] else None))
    return out


def locate_reference(value: str, roots: list[Root]) -> tuple[Root | None, str | None]:
    """(root, path relative to it) of an absolute recorded path, or (None, None)."""
    v = _norm(value)
    for root in roots:
        for spelling in sorted(root.spellings, key=len, reverse=True):
            windows = ":" in spelling[:3]
            a, b = (v.lower(), spelling.lower()) if windows else (v, spelling)
            if a.startswith(b + "/"):
                rel = posixpath.normpath(v[len(spelling) + 1:])
                if rel == ".." or rel.startswith("../"):
                    return None, None
                return root, rel
    return None, None


@dataclass(frozen=True)
class Reference:
    """One referenced file of a bundle."""

    field: str  # where bundle.json records it, e.g. `sources[3].files[2]`
    recorded: str  # its absolute path as recorded (on the machine that holds it)
    sha256: str
    byte_size: int
    bag_path: str  # where a BagIt export puts it (`data/` + bundle-relative path)
    root: Root | None  # None: on no declared root (it can be fetched from where it was recorded only)
    local: Path | None  # where it is on this machine, None when its root is not mounted here

    @property
    def url(self) -> str:
        """A `file:` URL of where it lives (this machine's mount, else the recorded path)."""
        if self.local is not None:
            return self.local.absolute().as_uri()
        if ":" in self.recorded[:3] or "\\" in self.recorded:
            return PureWindowsPath(self.recorded).as_uri()
        return PurePosixPath(self.recorded).as_uri()


def _session_folder(entry: dict[str, Any]) -> str | None:
    """The recorded absolute folder of a referenced Pose Coach session."""
    manifest = entry.get("manifest_path")
    if not isinstance(manifest, str) or not is_absolute(manifest):
        return None
    return (ntpath if "\\" in manifest else posixpath).dirname(manifest)


def references(doc: dict[str, Any], roots: list[Root]) -> Iterator[Reference]:
    """Every file a bundle records by reference (outside the bundle folder): Pose Coach
    sessions kept by reference, and sources whose `path` is absolute on another machine's root.
    A source folder of the storage root itself is not a reference (the storage root holds it)."""
    pose_folder = folder_of(next(s for s in layout()["sources"].values() if POSE_COACH in s["source_types"]))
    for i, s in enumerate(doc.get("sources") or []):
        if not isinstance(s, dict):
            continue
        if s.get("source_type") == POSE_COACH:
            if s.get("storage", "reference") != "reference":
                continue
            base = _session_folder(s)
            bag_base = f"{pose_folder}/{s.get('session_id') or 'session'}"
        else:
            path = s.get("path")
            if not isinstance(path, str) or not is_absolute(path):
                continue
            base = path
            bag_base = f"sources/{s.get('source_id')}"
        if base is None:
            continue
        root, rel = locate_reference(base, roots)
        if root is None and s.get("source_type") != POSE_COACH:
            continue  # not a declared root: a folder of the storage root itself (verify locates it)
        for j, f in enumerate(s.get("files") or []):
            if not isinstance(f, dict) or not isinstance(f.get("path"), str):
                continue
            inner = posixpath.normpath(f["path"])
            if inner.startswith("../") or inner == "..":
                continue
            sep = "\\" if "\\" in base else "/"
            recorded = base.rstrip("/\\") + sep + inner.replace("/", sep)
            local = root.mount.joinpath(*rel.split("/"), *inner.split("/")) if root and root.mount else None
            yield Reference(f"sources[{i}].files[{j}]", recorded, f.get("sha256", ""), f.get("byte_size", -1),
                            f"data/{bag_base}/{inner}", root, local)


def unrooted(doc: dict[str, Any], roots: list[Root]) -> Iterator[tuple[str, str]]:
    """(field, recorded path) of Pose Coach sessions referenced on no declared root."""
    for i, s in enumerate(doc.get("sources") or []):
        if isinstance(s, dict) and s.get("source_type") == POSE_COACH \
                and s.get("storage", "reference") == "reference":
            base = _session_folder(s)
            if base is not None and locate_reference(base, roots)[0] is None:
                yield f"sources[{i}].manifest_path", s["manifest_path"]
