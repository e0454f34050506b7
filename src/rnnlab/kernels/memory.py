"""Keeping the memory torch frees for its next tensors, instead of handing it back to the OS.

Torch allocates every intermediate tensor afresh and frees it after use. glibc serves large blocks with
fresh `mmap`s and returns freed memory to the OS, so each training step touches megabytes of new pages:
a page fault and a zeroing per 4 KiB, on every step (TensorFlow's own allocator keeps its memory, which is
part of Keras's CPU speed). Raising glibc's mmap and trim thresholds makes freed blocks serve the next
step's tensors as they are: `python benchmarks/bench_imdb.py` measures the effect (nn.LSTM on the IMDB
tutorial recipe, one thread: about 820 -> 1,100-1,400 samples/s). The price is that the process keeps its
peak memory until it exits, which a training process reaches every step anyway.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
THRESHOLD = 1 << 30  # blocks up to 1 GiB come from (and return to) the heap


def reuse_freed_memory() -> bool:
    """Tell glibc to keep freed memory for reuse; False where that is not possible (not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD))
