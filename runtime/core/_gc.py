"""Memory over a long run: bulk parsing without the cyclic garbage collector, and free heap
pages handed back between phases (issue 19)."""
from __future__ import annotations

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
