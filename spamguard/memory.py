"""Keeping a long-running worker's resident memory flat (glibc malloc settings; no-ops elsewhere).

Two ways a worker's RSS grows without live objects behind it (bench/soak_memory.py measures the second):

- every thread that allocates gets its own glibc arena (up to 8 per core), and each arena keeps its
  high-water mark: :func:`limit_malloc_arenas`, called in the gunicorn master before it forks, caps
  them (the effect of ``MALLOC_ARENA_MAX=2``, inherited by the forked workers);
- a model hot-reload frees a whole model (≈ 35 MB of small objects); glibc keeps the freed pages
  mapped: :func:`release_freed_memory` returns them after the swap.  It returns what malloc holds;
  pymalloc arenas that request-lived objects have settled into stay mapped, so under traffic a
  promotion still leaves a step (docs/measurements.md, "Promotion step" and "Soak").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
import time

M_ARENA_MAX = -8  # <malloc.h>


@functools.cache  # find_library runs `ldconfig -p`
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    # musl and other libcs have neither mallopt(M_ARENA_MAX) nor malloc_trim.
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas for this process and the children it forks; False where unsupported."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, int(arenas)) == 1)


def release_freed_memory() -> bool:
    """Collect garbage, then give free heap pages back to the OS (after dropping a large object graph).

    False where the libc cannot trim (only the garbage collection ran)."""
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def release_freed_memory_later(delays: tuple[float, ...] = (5.0, 60.0)) -> threading.Thread:
    """:func:`release_freed_memory` at each delay (seconds from now) in a daemon thread.

    The first pass runs once in-flight requests have let go of what was dropped; under traffic a
    later one still returned about 40 MB after a model swap (bench/soak_memory.py --promote).
    """

    def run() -> None:
        waited = 0.0
        for delay in delays:
            time.sleep(max(0.0, delay - waited))
            waited = delay
            release_freed_memory()

    thread = threading.Thread(target=run, name="release-freed-memory", daemon=True)
    thread.start()
    return thread


def freeze_loaded_objects() -> int:
    """Collect once, then exempt every object alive now from future collections (`gc.freeze`); their count.

    For a worker that has just loaded its app: those objects live as long as the process, and a full
    collection would otherwise walk all of them again and again, pausing whichever request triggered it.
    Frozen objects are still freed by reference counting; only cycles among them are never collected.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
