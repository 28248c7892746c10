"""The suite never reads or writes the keys, cache or configuration of the user running it: a
test that asks for nothing still gets its own (the autouse `isolated_keys`, tests/conftest.py)."""
from __future__ import annotations

import pytest

from lume.runtime.core import config_home, config_path, key_dir
from lume.verifiers._digests import cache_dir


def test_a_test_that_asks_for_nothing_has_its_own_keys_cache_and_configuration(
        tmp_path_factory: pytest.TempPathFactory):
    own = tmp_path_factory.getbasetemp()
    for folder in (key_dir(), cache_dir(), config_home()):
        assert folder.is_relative_to(own), folder
    assert config_path() is None  # no machine configuration file applies
