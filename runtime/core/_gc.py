"""Memory over a long run: bulk parsing without the cyclic garbage collector, the long-lived
heap kept out of its full passes, free heap pages handed back between phases, and no
collection of the whole heap at exit (issue 19)."""
from __future__ import annotations

import atexit
import functools
import gc
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector around a loop over many records, restoring its state after.

    A validation or label pass drops each record as soon as it is read, so no cycle builds up,
    while the collector would still traverse the young objects every few hundred allocations
    (about a tenth of a verify's CPU time). Reference counting frees the records as before.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what exists now (imported modules, contracts, models, built strategies) out of the
    cyclic collector's passes while a long piece of work allocates, and give it back after.

    The examples a property check generates make the collector run its full pass a few times
    a check, and each pass walks the whole heap, most of which lives as long as the process:
    in a full verify 0.35 s of the helper process's CPU and 0.12 s of the verifying one's
    (measured with gc.callbacks; 0.05 s and 0.04 s frozen). `gc.freeze` moves the objects
    alive now to a generation no pass walks; `gc.unfreeze` puts them back in the oldest one.
    Objects made inside are collected as usual. Nested, or while something else keeps objects
    frozen (the director's server), it changes nothing.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@functools.cache
def _libc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None (another C library, another OS)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: `paused_gc` is on `lume validate`'s path, ctypes is not

    try:  # the process's own symbols include its C library's (no library search, no subprocess)
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl has no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def return_free_memory() -> None:
    """Hand the C heap's free pages back to the system between phases of a long run.

    Checks over a large root free far more than they keep, but glibc keeps freed heap memory
    (below the top of the heap, or in the arenas of finished threads) mapped: the next phase's
    peak would stack on it. `malloc_trim(0)` releases it (as Dask's worker memory trim does); a
    no-op where the C library has none.
    """
    trim = _libc_trim()
    if trim is not None:
        trim(0)


_AT_EXIT: list[bool] = []  # whether this process registered `skip_final_collection`'s hook


def skip_final_collection() -> None:
    """At exit, leave the heap to the operating system instead of the collector's last passes.

    A process that ran the checks holds a large heap (contracts, models, Hypothesis): the
    interpreter's collections at shutdown walk all of it, 0.2-0.3 s after a full verify in the
    verifying process and in its property-check helper alike (the run waits for both). Freezing
    every tracked object at exit (`gc.freeze`) skips that walk. Nothing relies on it: files are
    written, flushed and closed by our code before the exit, the exit handlers registered after
    this one run first, and the process's memory goes back to the system as it ends. Only at
    exit: a process that runs commands in-process (the tests) keeps its collector until it ends.
    """
    if not _AT_EXIT:
        _AT_EXIT.append(True)
        atexit.register(gc.freeze)
