"""Every test gets its own key folder and trust file (a dry run and a promotion sign with this
machine's key, created and trusted on first use) and no machine configuration."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_keys(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lume-home")
    monkeypatch.setenv("LUME_KEY_DIR", str(home / "keys"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("LUME_TRUST_FILE", raising=False)
    monkeypatch.delenv("LUME_CONFIG", raising=False)
    return home
