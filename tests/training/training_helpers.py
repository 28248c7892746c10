"""Shared helpers of the training tests: the route-smoke training root, NPZ edits, check runs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
from click.testing import CliRunner

from lume.fixtures import TRAINING_DIR, route_smoke_root
from lume.runtime.cli import main
from lume.runtime.training import npz_bytes, read_npz
from lume.verifiers._runner import run

ROUTE_SMOKE = route_smoke_root()
TRAINING = ROUTE_SMOKE / TRAINING_DIR
PAIRS = TRAINING / "pairs" / "v6_pairs.npz"
MANIFEST = TRAINING / "capture_manifest.json"
RUN_ID = "v6-probe-fixture-01"
RECORD = TRAINING / "models" / RUN_ID / "model_artifact.json"
CLAIMS = ROUTE_SMOKE.parent / "claims"


def copy_training(dest: Path) -> Path:
    """A private copy of the training root (tests edit it)."""
    shutil.copytree(TRAINING, dest)
    return dest


def arrays(path: Path = PAIRS) -> dict[str, np.ndarray]:
    data, refused = read_npz(path)
    assert not refused
    return {k: np.array(v) for k, v in data.items()}


def write_arrays(path: Path, data: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(npz_bytes(data))
    return path


def edited_pairs(tmp: Path, change: Callable[[dict[str, np.ndarray]], None],
                 name: str = "v6_pairs.npz") -> Path:
    data = arrays()
    change(data)
    return write_arrays(tmp / name, data)


def failures(evidence) -> list:
    return [e for e in evidence if e.ok is False]


def check(root: Path, check_id: str, tmp: Path):
    return {c.id: c for c in run(root, only=[check_id], cache_folder=tmp / ".cache").checks}[check_id]


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def cli(*args: str):
    return CliRunner().invoke(main, list(args))
