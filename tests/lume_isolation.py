"""The suite-wide autouse fixture (tests/conftest.py imports it): every test gets its own key
folder, trust file (created on first use in the key folder), cache and no machine
configuration, so no test reads or writes the keys, cache or configuration of the user running
the suite (a dry run, a promotion and a readiness report sign with this machine's key, created
and trusted on first use)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_keys(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lume-home")
    monkeypatch.setenv("LUME_KEY_DIR", str(home / "keys"))
    monkeypatch.setenv("LUME_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("LUME_TRUST_FILE", raising=False)
    monkeypatch.delenv("LUME_CONFIG", raising=False)
    return home
