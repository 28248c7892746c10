"""A rehearsal bundle as the analyzer sees it: bundle.json, where each source lives, what it holds.

Folder and file names come from bundle_layout.v1 (the file a contract validates is looked up
by that contract's id), so nothing here hard-codes a layout path. A source recorded with a
path on another machine (a K11 `C:\\lume\\...\\_processed\\<bundle>\\...` path) is found
inside this bundle folder when it is there; a Pose Coach session kept as a reference is read
from its manifest path when this machine can see it, and otherwise reported as unavailable.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

from lume.generated.constants import BUNDLE_FILE
from lume.runtime.core import InputError, get
from lume.runtime.storage import bundle_digest, layout, read_bundle

# contract ids of the streams the analyzer reads (their paths come from bundle_layout.v1)
MAC4_LABELS = "lume:contract:mac4_label_record:v1"
TRAINING = "lume:contract:pose_coach_training_record:v1"
MOTIONMIX = "lume:contract:motionmix_state_record:v1"
SAM3D_FRAMES = "lume:contract:sam3d_frame:v1"
SAM3D_SUMMARY = "lume:contract:sam3d_summary:v1"


@functools.cache
def layout_file(section: str, key: str, contract_id: str) -> str:
    """Bundle-relative path of the file `contract_id` validates in a layout folder."""
    spec = layout()[section][key]
    for rel, cid in spec.get("contracts", {}).items():
        if cid == contract_id:
            return rel
    raise KeyError(f"bundle_layout.v1 {section}.{key} names no file for {contract_id}")


def folder(section: str, key: str) -> str:
    return layout()[section][key]["folder"].rstrip("/")


def source_key(source_type: str) -> str:
    for key, spec in layout()["sources"].items():
        if source_type in spec["source_types"]:
            return key
    raise KeyError(f"bundle_layout.v1 has no source folder for {source_type}")


def derived_file(key: str, contract_id: str) -> str:
    return f"{folder('derived', key)}/{layout_file('derived', key, contract_id)}"


@dataclass
class Bundle:
    path: Path
    doc: dict[str, Any]
    sha256: str
    notes: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, bundle_dir: Path) -> "Bundle":
        """Read and validate bundle.json (InputError names the file, field and contract)."""
        bundle_dir = Path(bundle_dir)
        if not (bundle_dir / BUNDLE_FILE).is_file():
            raise InputError(f"{bundle_dir}: no {BUNDLE_FILE} here: not a rehearsal bundle "
                             f"[{get('rehearsal_bundle.v1').stem}]")
        doc = read_bundle(bundle_dir)
        # the evidence digest: registering derived outputs in bundle.json does not change it
        return cls(bundle_dir, doc, bundle_digest(doc))

    @property
    def bundle_id(self) -> str:
        return self.doc["bundle_id"]

    def sources_of(self, source_type: str) -> list[dict[str, Any]]:
        return [s for s in self.doc["sources"] if s["source_type"] == source_type]

    def source(self, source_id: str) -> dict[str, Any] | None:
        return next((s for s in self.doc["sources"] if s["source_id"] == source_id), None)

    def rel(self, path: Path) -> str:
        """Bundle-relative POSIX path when inside the bundle, else the path as given."""
        try:
            return Path(path).resolve().relative_to(self.path.resolve()).as_posix()
        except ValueError:
            return str(path)

    def locate(self, recorded: str | None, fallback: str | None = None) -> Path | None:
        """Where a recorded source path is on this machine: relative to the bundle, the tail
        after `<bundle_id>` of a path recorded on another machine, or the layout folder."""
        candidates: list[Path] = []
        if recorded:
            win = "\\" in recorded or (len(recorded) > 1 and recorded[1] == ":")
            parts = PureWindowsPath(recorded).parts if win else Path(recorded).parts
            p = Path(recorded)
            if not win and not p.is_absolute():
                candidates.append(self.path / p)
            elif not win:
                candidates.append(p)
            if self.bundle_id in parts:
                tail = parts[len(parts) - parts[::-1].index(self.bundle_id):]
                candidates.append(self.path.joinpath(*tail))
        if fallback:
            candidates.append(self.path / fallback)
        return next((c for c in candidates if c.exists()), None)

    def source_folder(self, entry: dict[str, Any]) -> Path | None:
        return self.locate(entry.get("path"), folder("sources", source_key(entry["source_type"])))

    def pose_coach_folder(self, entry: dict[str, Any]) -> Path | None:
        """The session folder of a Pose Coach entry: the copy in the bundle, or the referenced
        session when this machine can read it."""
        copy = self.path / folder("sources", source_key(entry["source_type"])) / entry.get("session_id", "")
        manifest = self.locate(entry["manifest_path"])
        if entry.get("storage") == "copy" and (copy / "manifest.json").is_file():
            return copy
        if manifest is not None and manifest.is_file():
            return manifest.parent
        return None
