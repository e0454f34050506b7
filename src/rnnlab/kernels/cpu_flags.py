"""Flushing subnormal floats to zero in every thread that computes, not only the one that asks.

`torch.set_flush_denormal` sets the FTZ/DAZ bits of the calling thread only. PyTorch's OpenMP worker
threads copy them once, when the pool starts, which happens as soon as data or a model is built; a flag
set later reaches the main thread alone, and half the work of a 2-thread run stays on the slow subnormal
path (benchmarks/flush_threads.py: 298 samples/s instead of 912 for the IMDB LSTM). So the flag is also
set inside each thread of the pool, through libgomp (the OpenMP runtime of PyTorch's Linux builds).

Also here: whether the CPU has bf16 matrix units (`bf16_matrix_units`), which decides where bf16 pays.
"""

from __future__ import annotations

import ctypes
import platform
from functools import lru_cache
from pathlib import Path

import torch

MAPS = Path("/proc/self/maps")
CPUINFO = Path("/proc/cpuinfo")


def openmp_runtime() -> ctypes.CDLL | None:
    """The libgomp this process has loaded (Linux), else None."""
    if not MAPS.is_file():
        return None
    libraries = sorted({line.split()[-1] for line in MAPS.read_text().splitlines() if "libgomp" in line})
    return ctypes.CDLL(libraries[0]) if libraries else None


def set_flush_denormal_everywhere(on: bool) -> None:
    """The flag in the calling thread and in every thread of torch's OpenMP pool (elsewhere: this thread)."""
    torch.set_flush_denormal(on)
    runtime = openmp_runtime()
    if runtime is None:
        return
    task = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: torch.set_flush_denormal(on))
    runtime.GOMP_parallel(task, None, ctypes.c_uint(torch.get_num_threads()), ctypes.c_uint(0))


@lru_cache(maxsize=1)
def bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (x86 AVX512-BF16 or AMX, Arm BF16 (Linux)).

    There bf16 matrix products run several times faster than fp32 ones; elsewhere oneDNN emulates bf16
    and it is slower than fp32.
    """
    if not CPUINFO.is_file():
        return False
    flags = {flag for line in CPUINFO.read_text().splitlines() if line.startswith(("flags", "Features"))
             for flag in line.split(":", 1)[-1].split()}
    if platform.machine() in ("x86_64", "AMD64"):
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    return "bf16" in flags
