"""Storage rules read from the contracts: root folder names, extraction limits, the bundle layout.

The folders and files of the storage root are storage_root.v1 (as generated constants) and two
safety-invariant parameters (`_incoming` in SAFE-INCOMING-KEPT, `_processed` in
SAFE-ARCHIVE-EXTRACT); the storage-integrity verifier reads them from here too.
"""
from __future__ import annotations

import functools
import posixpath
import shutil
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


def expected_sources() -> list[str]:
    return [f"{key} ({', '.join(spec['required'])})" for key, spec in layout()["sources"].items()
            if not spec.get("instances") and spec["required"]]


def join_root(root_name: str, *parts: str) -> str:
    """A path under the storage root as documents record it (Windows roots keep backslashes)."""
    windows = "\\" in root_name or (len(root_name) > 1 and root_name[1] == ":")
    if windows:
        return "\\".join([root_name.rstrip("\\/"), *(p.replace("/", "\\") for p in parts)])
    return posixpath.join(root_name, *parts)
