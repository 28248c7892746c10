"""Suite-wide configuration. Shared paths live in lume_testpaths.py (import that, not conftest)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from lume_testpaths import REAL_MEDIA, REPO, SHARED, real_media  # noqa: F401  (re-exported)


@pytest.fixture
def repo() -> Path:
    return REPO


# Property tests: bounded work so the whole suite stays well inside CI's budget on 2 cores.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("lume", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lume"))
