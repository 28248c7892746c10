"""The readiness predicate (lume:contract:readiness_report:v1) built from check results.

It names the tool version, every contract ($id, file, sha256) and the git commit of the
contracts, the root, the subjects and every check; the verdicts follow the contract's rules:
any `fail` or `inconclusive` check makes `overall` red, and `green` needs at least one check
of each domain (rig safety and data soundness) with every check passing.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from lume.runtime.core import contract_ref, contracts_dir, load_all, now_iso

if TYPE_CHECKING:
    from ._framework import CheckResult

REPORT_SCHEMA = "lume.readiness_report.v1"


def tool() -> dict[str, str]:
    try:
        version = importlib.metadata.version("lume")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return {"name": "lume", "version": version}


@functools.cache
def contract_refs() -> list[dict[str, str]]:
    """Every contract and meta-schema with its `$id`, file and SHA-256 of its bytes."""
    return [contract_ref(c, with_file=True) for c in load_all()]


@functools.cache
def contracts_fingerprint() -> str:
    """One digest over every contract and the tool version (keys the quick-mode memo cache)."""
    h = hashlib.sha256(tool()["version"].encode())
    for ref in contract_refs():
        h.update(f"{ref['id']}={ref['sha256']};".encode())
    return h.hexdigest()


@functools.cache
def contracts_commit() -> str | None:
    """HEAD of the git checkout the contracts are read from, when they are tracked there."""
    folder = contracts_dir()
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "readiness_report.v1.yaml"],
                                 cwd=folder, capture_output=True, timeout=10)
        if tracked.returncode != 0:
            return None
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit if head.returncode == 0 and len(commit) in (40, 64) else None


def verdicts(checks: Iterable["CheckResult"], *, completion_ready: bool | None = None,
             mac5_heavy_reconstruction_allowed: bool | None = None) -> dict[str, Any]:
    checks = list(checks)

    def sound(domain: str) -> bool:
        mine = [c for c in checks if c.domain == domain]
        return bool(mine) and all(c.status == "pass" for c in mine)

    rig_safe, data_sound = sound("rig"), sound("data")
    green = bool(checks) and rig_safe and data_sound and all(c.status == "pass" for c in checks)
    return {"rig_safe": rig_safe, "data_sound": data_sound,
            "overall": "green" if green else "red",
            "completion_ready": completion_ready,
            "mac5_heavy_reconstruction_allowed": mac5_heavy_reconstruction_allowed}


def subjects_of(digests: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(digests.items())]


def build_predicate(root: str | Path, checks: Iterable["CheckResult"],
                    subjects: list[dict[str, Any]], *, generated_at: str | None = None,
                    gate: dict[str, Any] | None = None, **gate_verdicts: bool | None) -> dict[str, Any]:
    """A complete readiness_report.v1 predicate. `gate_verdicts` are completion_ready and
    mac5_heavy_reconstruction_allowed (None when no gate ran)."""
    checks = list(checks)
    predicate: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "generated_at": generated_at or now_iso(),
        "tool": tool(),
        "contracts": contract_refs(),
        "contracts_commit": contracts_commit(),
        "root": str(root),
        "subjects": subjects,
        "checks": [c.to_dict() for c in checks],
        "verdicts": verdicts(checks, **gate_verdicts),
    }
    if gate is not None:
        predicate["gate"] = gate
    return predicate
