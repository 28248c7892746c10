"""Bulk loops pause the cyclic collector and always give it back as they found it; free heap
pages are handed back between the phases of a long run where the C library can; a command's
heap is left to the system at exit, not walked by the collector."""
from __future__ import annotations

import gc
import platform
import subprocess
import sys

import pytest

from lume.runtime.core import frozen_heap, paused_gc, return_free_memory, skip_final_collection, validate_file
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


def _exit_handlers_see_a_frozen_heap(run: str) -> str:
    """What an exit handler registered before `run` finds: exit handlers run last-in first-out,
    so this one runs after any `run` registered."""
    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'collected'))\n" + run)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return done.stdout.strip().splitlines()[-1]


def test_a_command_leaves_its_heap_to_the_system_at_exit():
    """After a verb, the interpreter's last collections do not walk the heap (0.2-0.3 s after a
    full verify): every object is frozen once the other exit handlers ran."""
    assert _exit_handlers_see_a_frozen_heap(
        "from lume.runtime.cli import main\nmain(['contracts', 'list'])\n") == "frozen"
    assert _exit_handlers_see_a_frozen_heap("import lume.runtime.cli\n") == "collected"  # only a run


def test_the_exit_hook_is_registered_once_and_only_acts_at_exit():
    import atexit

    handlers, frozen = atexit._ncallbacks(), gc.get_freeze_count()
    skip_final_collection()
    skip_final_collection()
    assert atexit._ncallbacks() - handlers <= 1
    assert gc.get_freeze_count() == frozen  # nothing is frozen while the process runs


def test_a_frozen_heap_is_left_out_of_collections_inside_and_given_back_after():
    gc.unfreeze()  # a director server that ran in this process froze its start-up heap
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        frozen = gc.get_freeze_count()
        with frozen_heap():  # nested: changes nothing
            assert gc.get_freeze_count() == frozen
        made_inside = [[] for _ in range(1000)]
        gc.collect()
        assert gc.get_freeze_count() == frozen  # what is made inside is collected as usual
    assert gc.get_freeze_count() == 0 and made_inside


def test_a_frozen_heap_is_given_back_when_the_work_fails():
    gc.unfreeze()  # a director server that ran in this process froze its start-up heap
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0
