"""Suite-wide configuration. Shared paths live in lume_testpaths.py (import that, not conftest)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from lume_isolation import isolated_keys  # noqa: F401  (autouse: never the user's keys, cache, config)
from lume_testpaths import REAL_MEDIA, REPO, SHARED, real_media  # noqa: F401  (re-exported)


@pytest.fixture
def repo() -> Path:
    return REPO


# Property tests: bounded work so the whole suite stays well inside CI's budget on 2 cores.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("lume", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "lume"))
# The property verifiers of `lume verify` run their contract budget (property_checks.v1); every
# full verify run in the suite uses its small `smoke` profile unless a test asks for another.
os.environ.setdefault("LUME_PROPERTY_PROFILE", "smoke")
