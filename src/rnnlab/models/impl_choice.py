"""`model.impl=auto` on the CPU: which recurrence runs a layer, measured on this machine rather than guessed.

Which of rnnlab's fused loops and `nn.*` is faster depends on the CPU (AMX tiles, AVX-512, oneDNN's blocking),
the cell, its width, the batch, ragged lengths and the dtype: a threshold table fitted on an AMD EPYC picked
the slower one by up to 1.7x on a Xeon with AMX, and the same shapes went the other way (benchmarks/results.md).
So, as `torch.backends.cudnn.benchmark` does, the first batch of each kind is run through both, interleaved,
forward and (when training) backward, and the faster one is used from then on. Choices are kept per machine in
`<kernel dir>/impl_choices.json` (`$RNNLAB_KERNEL_DIR`, else `~/.cache/rnnlab/kernels`), so a later run, or
the rerun of a seeded run, takes the same path and gives the same numbers. Delete that file to measure again
(after a change of torch or of the machine's load); `model.impl=fused|torch` skips the measurement.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.kernels import kernel_dir, machine_key

log = logging.getLogger(__name__)
ROUNDS = 3  # timed rounds per implementation, after one warm-up each; the fastest round counts (load only slows)
PROBE_STEPS = 64  # time steps of the batch that are timed: the cost per step is what differs, not the length
FILE_NAME = "impl_choices.json"
_lock = threading.Lock()
_known: dict[Path, dict[str, str]] = {}


def shape_key(cell: str, x: Tensor, lengths: Tensor | None, hidden: int, directions: int) -> str:
    """What the faster implementation depends on: cell, sizes, the batch to the next power of two, ragged or
    full lengths, autocast dtype, training or inference, threads, and the machine and torch version."""
    autocast = torch.is_autocast_enabled("cpu")
    return _key(cell, x.shape[2], hidden, directions, x.shape[0], lengths is not None,
                torch.get_autocast_dtype("cpu") if autocast else x.dtype, torch.is_grad_enabled(),
                torch.get_num_threads())


@lru_cache(maxsize=1024)
def _key(cell: str, inputs: int, hidden: int, directions: int, batch: int, ragged: bool, dtype: torch.dtype,
         train: bool, threads: int) -> str:
    bucket = 1 << max(batch - 1, 0).bit_length()
    return (f"{machine_key()}|torch {torch.__version__}|threads {threads}|{cell}|I {inputs}|H {hidden}x{directions}|"
            f"B {bucket}|{'ragged' if ragged else 'full'}|{str(dtype).removeprefix('torch.')}|"
            f"{'train' if train else 'infer'}")


def _store() -> Path:
    return kernel_dir() / FILE_NAME


def _choices(path: Path) -> dict[str, str]:
    if path not in _known:
        try:
            loaded = json.loads(path.read_text())
            _known[path] = {k: v for k, v in loaded.items() if v in ("fused", "torch")} if isinstance(loaded, dict) \
                else {}
        except FileNotFoundError:
            _known[path] = {}
        except (OSError, ValueError) as e:
            log.warning("%s is unreadable (%s): the recurrence implementations will be measured again", path, e)
            _known[path] = {}
    return _known[path]


def _save(path: Path, key: str, choice: str) -> None:
    """Add one choice to the file, merged with what other processes wrote, published whole (rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            merged = json.loads(path.read_text())
        merged = (merged if isinstance(merged, dict) else {}) | {key: choice}
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".impl_choices-", delete=False) as f:
            json.dump(merged, f, indent=0, sort_keys=True)
        os.replace(f.name, path)
    except OSError as e:
        log.warning("could not keep the recurrence choice in %s (%s): it holds for this process only", path, e)


def fastest(run: dict[str, Callable[[], None]], rounds: int = ROUNDS) -> tuple[str, dict[str, float]]:
    """The name of the fastest of `run`'s callables (one warm-up each, then `rounds` interleaved rounds, the best
    round of each) and those best times in seconds."""
    for call in run.values():
        call()
    best = dict.fromkeys(run, float("inf"))
    for _ in range(rounds):
        for name, call in run.items():
            started = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - started)
    return min(best, key=best.__getitem__), best


def probe(forwards: dict[str, Callable[[Tensor, Tensor | None], Tensor]], params: list[Tensor], x: Tensor,
          lengths: Tensor | None) -> tuple[str, dict[str, float]]:
    """Time each forward (and its backward when gradients are on) on the first `PROBE_STEPS` steps of this batch.
    Gradients go to `torch.autograd.grad`, never into `.grad`, and nothing draws random numbers: the run that
    probes trains exactly as one that found its choice in the file."""
    steps = min(x.shape[1], PROBE_STEPS)
    train = torch.is_grad_enabled()
    sample = x[:, :steps].detach().clone().requires_grad_(train and x.requires_grad)
    cut = None if lengths is None else lengths.clamp(max=steps)
    wrt = [p for p in params if p.requires_grad] + ([sample] if sample.requires_grad else [])

    def once(forward: Callable[[Tensor, Tensor | None], Tensor]) -> Callable[[], None]:
        def call() -> None:
            outputs = forward(sample, cut)
            if train and wrt:
                torch.autograd.grad(outputs.float().square().sum(), wrt)
        return call

    return fastest({name: once(forward) for name, forward in forwards.items()})


def choose(key: str, forwards: dict[str, Callable[[Tensor, Tensor | None], Tensor]], params: list[Tensor],
           x: Tensor, lengths: Tensor | None) -> str:
    """The implementation kept for `key` on this machine, measured now (and kept) if there is none."""
    path = _store()
    with _lock:
        known = _choices(path)
        if key in known:
            return known[key]
        choice, seconds = probe(forwards, params, x, lengths)
        log.info("model.impl=auto measured %s: %s (%s)", key.split("|", 3)[-1], choice,
                 ", ".join(f"{name} {s * 1e3:.2f} ms" for name, s in seconds.items()))
        known[key] = choice
        _save(path, key, choice)
        return choice
