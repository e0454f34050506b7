"""What `trainer.profiler` builds: no profiling at all (the default), or one of Lightning's profilers."""

from __future__ import annotations

import contextlib
from pathlib import Path

from pytorch_lightning.profilers import AdvancedProfiler, PassThroughProfiler, Profiler, PyTorchProfiler, SimpleProfiler

LIGHTNING_PROFILERS: dict[str, type[Profiler]] = {"simple": SimpleProfiler, "advanced": AdvancedProfiler,
                                                  "pytorch": PyTorchProfiler}  # the names config.PROFILERS allows
_NOTHING = contextlib.nullcontext()  # reusable: entering it does nothing


class Unprofiled(PassThroughProfiler):
    """Lightning's stand-in when nothing is profiled, minus its cost.

    Lightning times every hook of every callback, and more, through `profiler.profile(name)` (about 130
    calls per training step); its PassThroughProfiler answers each with a fresh generator-based context
    manager, about 0.3 ms per step of Python in all, a few percent of a tutorial step on the CPU. This
    answers with one shared no-op context."""

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:
        return _NOTHING


def build_profiler(kind: str | None, run_dir: Path) -> Profiler:
    """`kind` None: no profiling; else Lightning's profiler of that name, its reports written to
    `run_dir/fit-profile.txt` and `test-profile.txt` (pytorch: a trace for TensorBoard's profiler plugin
    beside them)."""
    if kind is None:
        return Unprofiled()
    return LIGHTNING_PROFILERS[kind](dirpath=run_dir, filename="profile")
