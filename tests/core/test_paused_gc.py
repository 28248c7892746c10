"""Bulk loops pause the cyclic collector and always give it back as they found it; free heap
pages are handed back between the phases of a long run where the C library can."""
from __future__ import annotations

import gc
import platform
import sys

import pytest

from lume.runtime.core import paused_gc, return_free_memory, validate_file
from lume.runtime.core._gc import _libc_trim


def test_the_collector_is_paused_inside_and_restored_after_even_on_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_validation_leaves_the_collector_on(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"a": \n')
    with pytest.raises(Exception):
        validate_file(bad)
    assert gc.isenabled()


def test_free_heap_is_handed_back_where_glibc_can_and_nothing_breaks_elsewhere():
    return_free_memory()  # never raises, whatever the platform
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert _libc_trim() is not None
