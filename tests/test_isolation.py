"""The suite never reads or writes the keys, cache or configuration of the user running it."""
from __future__ import annotations

from pathlib import Path

from lume.runtime.core import key_dir
from lume.verifiers._digests import cache_dir


def test_every_test_has_its_own_key_folder_and_cache(isolated_keys):
    assert key_dir() == isolated_keys / "keys"
    assert cache_dir() == isolated_keys / "cache"
    assert not cache_dir().is_relative_to(Path.home() / ".cache")
