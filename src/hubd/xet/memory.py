"""Keeping a worker's memory flat while large files move: glibc malloc settings and trims.

Measured on a 1 GiB Xet upload + download + /resolve (bench/xet_memory.py): with glibc's defaults the worker
ended at 227 MiB after starting at 94, and each phase left more behind. Two glibc behaviours cause it:
- the mmap threshold is dynamic: once a large block (our 4-8 MiB read buffers) mmapped by malloc is freed,
  the threshold rises to its size (up to 32 MiB), so later buffers of that size come from the heap arenas,
  where freed memory stays resident until the top of the heap happens to be free;
- every thread that allocates gets its own arena (up to 8 per core), and the thread pool that runs the
  blocking Xet work has dozens of threads, so those stranded heaps multiply.
Setting the threshold explicitly switches the dynamic adjustment off (large buffers are always their own
mappings, returned to the kernel when freed), two arenas bound the stranding, and `malloc_trim` after a large
transfer gives back what small objects left behind. This is done with `mallopt` in the worker itself rather
than with MALLOC_* environment variables set by `hubd serve`: glibc reads those only when a process starts,
and the same code then also holds for test servers, `hubd` commands and any other way the app is run."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 1024  # larger allocations (read buffers, chunk blocks) are mappings of their own
TRIM_THRESHOLD = 1024 * 1024  # free heap tops above this go back to the kernel
ARENA_MAX = 2

_libc: ctypes.CDLL | None = None
_tuned = False
_lock = threading.Lock()


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name)
            lib.mallopt.argtypes, lib.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
        except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to tune
            return None
        _libc = lib
    return _libc


def tune_malloc() -> None:
    """Once per process: fixed mmap and trim thresholds, at most ARENA_MAX arenas (see the module doc)."""
    global _tuned
    with _lock:
        if _tuned:
            return
        _tuned = True
        lib = _glibc()
        if lib is None:
            return
        for param, value in ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                             (_M_ARENA_MAX, ARENA_MAX)):
            if lib.mallopt(param, value) != 1:
                log.warning("mallopt(%d, %d) failed", param, value)


def release_memory() -> None:
    """Give freed heap memory back to the kernel: after a transfer that moved many MiB through Python."""
    lib = _glibc()
    if lib is not None:
        lib.malloc_trim(0)
