"""Steady-state time per training step: the runner (with and without its progress bar) against the raw loop.

The throughput table times every batch, the first included; this separates the one-off first step from the
per-step cost. The runner is built in-process from its own pieces (`build_data`, `build_task`, `build_trainer`,
the tutorial config composed by Hydra) with a clock callback; the raw loop is benchmarks/raw_loop.py's model
with the runner's settings (subnormals flushed, freed memory kept, Keras init, clipping at 1.0, fused Adam,
bf16 autocast with --precision bf16) on the same batches, in the same process.

    python benchmarks/step_times.py [--cell rnn --batches 40 --rounds 3 --threads 2 --precision bf16]

On a shared machine give --rounds: the legs then run in turn that many times and each leg reports the
median of its rounds (with their spread), so that a burst of load does not land on one leg only.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from imdb_batches import DEFAULT_ARCHIVE, save_batches, tutorial_config
from raw_loop import Classifier

from rnnlab.kernels.memory import reuse_freed_memory
from rnnlab.models.init import initialize_
from rnnlab.run.build import build_data, build_task, build_trainer


class Clock(pl.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        self.times.append(time.perf_counter())

    def on_train_batch_end(self, *args: object) -> None:
        self.times.append(time.perf_counter())


def runner_process_settings(threads: int) -> None:
    """What the runner sets in a training process, before any parallel op (so that every OpenMP thread
    inherits the flush): subnormals flushed, the thread count, freed memory kept for reuse."""
    torch.set_flush_denormal(True)
    torch.set_num_threads(threads)
    reuse_freed_memory()


def runner_steps(cell: str, batches: int, progress_bar: str, threads: int, precision: str,
                 *overrides: str) -> list[float]:
    """Seconds per training step of `trainer.fit` on the tutorial recipe, built as the runner builds it."""
    cfg = tutorial_config([f"data.path={DEFAULT_ARCHIVE}", f"model={cell}", "trainer.max_epochs=1",
                           f"trainer={precision}", f"trainer.limit_train_batches={batches}",
                           "trainer.limit_val_batches=1", "trainer.num_sanity_val_steps=0",
                           f"trainer.num_threads={threads}", f"callbacks.progress_bar={progress_bar}", *overrides])
    pl.seed_everything(cfg.seed, verbose=False)
    data = build_data(cfg)
    task = build_task(cfg, data.spec)
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        trainer = build_trainer(cfg, task, Path(folder))
        trainer.callbacks.insert(0, clock)
        trainer.fit(task, datamodule=data)
    return np.diff(clock.times).tolist()


def raw_steps(cell: str, arrays: tuple[Path, Path], precision: str, impl: str = "auto") -> list[float]:
    """Seconds per training step of the raw loop with the runner's settings."""
    torch.manual_seed(0)
    model = Classifier(cell, impl)
    initialize_(model, "keras")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    times = [time.perf_counter()]
    for x, y in zip(*(np.load(path) for path in arrays)):
        with autocast:
            logits = model(torch.from_numpy(x)).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(y).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        times.append(time.perf_counter())
    return np.diff(times).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="rnn")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1, help="run the legs in turn this many times")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both legs")
    parser.add_argument("--precision", choices=("cpu", "bf16"), default="cpu", help="trainer preset (cpu: fp32)")
    args = parser.parse_args()
    runner_process_settings(args.threads)
    rounds: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        arrays = save_batches(DEFAULT_ARCHIVE, args.batches, Path(folder))
        for _ in range(args.rounds):
            rounds.setdefault("raw loop", []).append(raw_steps(args.cell, arrays, args.precision))
            for bar in ("rich", "none"):
                steps = runner_steps(args.cell, args.batches, bar, args.threads, args.precision)
                rounds.setdefault(f"runner, {'no' if bar == 'none' else bar} progress bar", []).append(steps)
    print(f"{args.cell} {args.precision}, {args.batches} batches, {args.threads} thread(s), {args.rounds} round(s): "
          "first step / median of the others (ms)" + (" [per round]" if args.rounds > 1 else ""))
    for name, legs in rounds.items():
        firsts, medians = [1e3 * steps[0] for steps in legs], [1e3 * statistics.median(steps[1:]) for steps in legs]
        spread = f"  [{' '.join(f'{m:.1f}' for m in medians)}]" if args.rounds > 1 else ""
        print(f"  {name:<26} {statistics.median(firsts):6.0f} / {statistics.median(medians):5.1f}{spread}")


if __name__ == "__main__":
    main()
