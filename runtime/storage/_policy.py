"""Storage rules read from the contracts: root folder names, extraction limits, the bundle layout.

The folders and files of the storage root are storage_root.v2 (as generated constants) and two
safety-invariant parameters (`_incoming` in SAFE-INCOMING-KEPT, `_processed` in
SAFE-ARCHIVE-EXTRACT); the storage-integrity verifier reads them from here too.
"""
from __future__ import annotations

import functools
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lume.generated.constants import SAFE_ARCHIVE_EXTRACT, SAFE_INCOMING_KEPT
from lume.runtime.core import parameters, rule_data


def incoming_dir() -> str:
    return parameters(SAFE_INCOMING_KEPT)["incoming_dir"].strip("/")


def processed_dir() -> str:
    return parameters(SAFE_ARCHIVE_EXTRACT)["processed_dir"].strip("/")


def staging_prefix() -> str:
    return parameters(SAFE_ARCHIVE_EXTRACT)["staging_prefix"]


def default_limits() -> dict[str, int]:
    p = parameters(SAFE_ARCHIVE_EXTRACT)
    return {"max_bytes": int(p["max_expanded_bytes"]), "max_members": int(p["max_members"])}


def free_space_limit(folder: Path) -> int:
    """The most one archive may expand to by default on the disk that holds `folder`: the
    SAFE-ARCHIVE-EXTRACT fraction of its free space (a sparse 3 KB tar cannot fill the disk)."""
    fraction = float(parameters(SAFE_ARCHIVE_EXTRACT)["max_expanded_free_fraction"])
    return int(shutil.disk_usage(folder).free * fraction)


@functools.cache
def layout() -> dict[str, Any]:
    return rule_data("bundle_layout.v1")


def source_folder(source_type: str) -> tuple[str, dict[str, Any]]:
    """(layout key, spec) of the bundle source folder that holds `source_type`."""
    for key, spec in layout()["sources"].items():
        if source_type in spec["source_types"]:
            return key, spec
    raise KeyError(f"bundle_layout.v1 has no source folder for {source_type}")


def folder_of(spec: dict[str, Any]) -> str:
    return spec["folder"].rstrip("/")


def classify_members(paths: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The single-instance layout source whose required files are all among `paths`
    (archive member paths, top folder already stripped), most required files first."""
    names = set(paths)
    best: tuple[str, dict[str, Any]] | None = None
    for key, spec in layout()["sources"].items():
        if spec.get("instances") or not spec["required"]:
            continue
        if all(r in names for r in spec["required"]):
            if best is None or len(spec["required"]) > len(best[1]["required"]):
                best = (key, spec)
    return best


def derived_folders() -> list[str]:
    return [folder_of(spec) for spec in layout()["derived"].values()]


def derived_folder_of(rel: str) -> str | None:
    """`derived/<key>` when the bundle-relative path `rel` sits in a derived folder of the layout."""
    for spec in layout()["derived"].values():
        folder = folder_of(spec)
        if rel.startswith(folder + "/"):
            return folder
    return None


@dataclass(frozen=True)
class Placement:
    """Where an archive's members go in its bundle: the layout source they form (None for an
    archive of derived sidecars only) and, per bundle-relative folder, the member paths in it."""

    source: str | None
    folders: dict[str, list[str]]

    def target(self, rel: str) -> str:
        """The bundle-relative path of member `rel` (archive path, top folder stripped)."""
        derived = derived_folder_of(rel)
        if derived is not None:
            return rel
        spec = layout()["sources"][self.source] if self.source else None
        return f"{folder_of(spec)}/{rel}" if spec else rel


def place_members(paths: list[str]) -> Placement | None:
    """Where the members of one archive (file paths, top folder stripped) go: members under a
    layout derived folder (`derived/mac4_first/device_topology.json`) to that folder of the
    bundle, the others to the source folder they form. None when the others form no source."""
    folders: dict[str, list[str]] = {}
    rest = []
    for rel in paths:
        derived = derived_folder_of(rel)
        if derived is None:
            rest.append(rel)
        else:
            folders.setdefault(derived, []).append(rel[len(derived) + 1:])
    if not rest:
        return Placement(None, folders) if folders else None
    found = classify_members(rest)
    if found is None:
        return None
    folders[folder_of(found[1])] = rest
    return Placement(found[0], folders)


def expected_sources() -> list[str]:
    return [f"{key} ({', '.join(spec['required'])})" for key, spec in layout()["sources"].items()
            if not spec.get("instances") and spec["required"]]


def join_root(root_name: str, *parts: str) -> str:
    """A path under the storage root as documents record it (Windows roots keep backslashes)."""
    windows = "\\" in root_name or (len(root_name) > 1 and root_name[1] == ":")
    if windows:
        return "\\".join([root_name.rstrip("\\/"), *(p.replace("/", "\\") for p in parts)])
    return posixpath.join(root_name, *parts)
