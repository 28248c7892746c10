"""Shared test helpers: paths to the repository, to ../shared and to real media."""
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


@pytest.fixture
def repo() -> Path:
    return REPO


# Property tests: bounded work so the whole suite stays well inside CI's budget on 2 cores.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("lume", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lume"))
