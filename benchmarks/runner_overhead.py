"""Where the runner's per-step overhead is: `trainer.fit` against a hand loop over the runner's own task and
dataloader, in one process, steady state.

The hand loop does what Lightning's automatic optimisation does around the task (zero_grad, the task's
`_step`, backward, clipping at 1.0, fused Adam) with nothing else, so the difference is Lightning's loop,
hooks and our callbacks; a second `fit` without the optional callbacks (progress bar, logger, learning-rate
monitor, early stopping) shows their share. Each leg reports the median step time of a round (first 2 steps
untimed), and the median over `--rounds` rounds run in turn.

    python benchmarks/runner_overhead.py --cell rnn --batches 40 --rounds 2 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pytorch_lightning as pl
import torch
from imdb_batches import DEFAULT_ARCHIVE, tutorial_config
from step_times import runner_process_settings, runner_steps

from rnnlab.build import build_data, build_task

OPTIONAL_CALLBACKS = ["logger=none", "callbacks.lr_monitor=false", "callbacks.early_stopping=false"]  # and no bar


def fit_step_ms(cell: str, batches: int, threads: int, progress_bar: str, *overrides: str) -> float:
    return 1e3 * statistics.median(runner_steps(cell, batches, progress_bar, threads, "cpu", *overrides)[2:])


def hand_loop_step_ms(cell: str, batches: int, threads: int) -> float:
    cfg = tutorial_config([f"data.path={DEFAULT_ARCHIVE}", f"model={cell}", f"trainer.num_threads={threads}"])
    pl.seed_everything(cfg.seed, verbose=False)
    data = build_data(cfg)
    data.prepare_data()
    data.setup("fit")
    task = build_task(cfg, data.spec)
    optimizer = torch.optim.Adam(task.parameters(), lr=cfg.optimizer.lr, fused=True)
    times = [time.perf_counter()]
    for _, batch in zip(range(batches), data.train_dataloader()):
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = task._step(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.parameters(), 1.0)
        optimizer.step()
        times.append(time.perf_counter())
    return 1e3 * statistics.median(np.diff(times)[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="rnn")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    runner_process_settings(args.threads)
    legs = {"hand loop (task + dataloader)": lambda: hand_loop_step_ms(args.cell, args.batches, args.threads),
            "trainer.fit, default callbacks": lambda: fit_step_ms(args.cell, args.batches, args.threads, "rich"),
            "trainer.fit, no optional callbacks": lambda: fit_step_ms(args.cell, args.batches, args.threads, "none",
                                                                      *OPTIONAL_CALLBACKS)}
    rounds: dict[str, list[float]] = {name: [] for name in legs}
    for _ in range(args.rounds):
        for name, leg in legs.items():
            rounds[name].append(leg())
    print(f"{args.cell}, {args.threads} thread(s), {args.rounds} round(s) of {args.batches} steps: ms per step")
    for name, values in rounds.items():
        print(f"  {name:<36} {statistics.median(values):6.2f}  [{' '.join(f'{v:.2f}' for v in values)}]")


if __name__ == "__main__":
    main()
