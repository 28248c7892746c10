"""Paths shared by the tests: the repository, ../shared and its real media.

A uniquely named module (not conftest.py) so that `from lume_testpaths import …` works from
every folder, whatever other conftest.py files pytest has loaded.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LUME_SHARED", REPO.parent / "shared"))
REAL_MEDIA = SHARED / "real-media"


def real_media(*parts: str) -> Path:
    """A file under ../shared/real-media, or skip the test naming the folder."""
    path = REAL_MEDIA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real media not available: {path} (see ../shared/real-media/README.md)")
    return path
