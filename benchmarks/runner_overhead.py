"""Where the runner's per-step overhead is: `trainer.fit` against a hand loop over the runner's own task and
dataloader, in one process, steady state.

The hand loop does what Lightning's automatic optimisation does around the task (zero_grad, the task's
`_step`, backward, clipping at 1.0, fused Adam) with nothing else, so the difference is Lightning's loop,
hooks and our callbacks; a second `fit` without the optional callbacks (progress bar, logger, learning-rate
monitor, early stopping) shows their share. Each leg reports the median step time of a round (first 2 steps
untimed), and the median over `--rounds` rounds run in turn. `--hooks` adds one more fit with default
callbacks that times Lightning's dispatch of the callback hooks it calls on every training step (its loop
over all callbacks, those that do not implement the hook included) and prints the median microseconds per
step of each.

    python benchmarks/runner_overhead.py --cell rnn --batches 40 --rounds 2 --threads 2 [--hooks]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import statistics
import time
from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from imdb_batches import DEFAULT_ARCHIVE, tutorial_config
from pytorch_lightning.trainer import call
from step_times import runner_process_settings, runner_steps

from rnnlab.run.build import build_data, build_task

OPTIONAL_CALLBACKS = ["logger=none", "callbacks.lr_monitor=false", "callbacks.early_stopping=false"]  # and no bar


def fit_step_ms(cell: str, batches: int, threads: int, progress_bar: str, *overrides: str) -> float:
    return 1e3 * statistics.median(runner_steps(cell, batches, progress_bar, threads, "cpu", *overrides)[2:])


@contextlib.contextmanager
def timed_callback_dispatch() -> Iterator[collections.defaultdict[str, list[float]]]:
    """Seconds of each call of Lightning's `_call_callback_hooks`, per hook name, while the block runs."""
    seconds: collections.defaultdict[str, list[float]] = collections.defaultdict(list)
    dispatch = call._call_callback_hooks

    def timed(trainer: pl.Trainer, hook_name: str, *args: object, **kwargs: object) -> None:
        start = time.perf_counter()
        try:
            dispatch(trainer, hook_name, *args, **kwargs)
        finally:
            seconds[hook_name].append(time.perf_counter() - start)

    call._call_callback_hooks = timed
    try:
        yield seconds
    finally:
        call._call_callback_hooks = dispatch


def per_step_hook_us(cell: str, batches: int, threads: int) -> dict[str, float]:
    """Median microseconds per training step in the dispatch of each hook called on every step (default
    callbacks; the first 2 steps left out, as in the other legs)."""
    with timed_callback_dispatch() as seconds:
        fit_step_ms(cell, batches, threads, "rich")
    return {hook: 1e6 * statistics.median(calls[2:]) for hook, calls in seconds.items() if len(calls) >= batches}


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
    parser.add_argument("--hooks", action="store_true", help="also time the per-step callback hook dispatch")
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
    if args.hooks:
        hooks = per_step_hook_us(args.cell, args.batches, args.threads)
        total = sum(hooks.values())
        print(f"callback hook dispatch (trainer.fit, default callbacks), microseconds per step: {total:.0f}")
        for hook, us in sorted(hooks.items(), key=lambda item: -item[1]):
            print(f"  {hook:<36} {us:6.0f}")


if __name__ == "__main__":
    main()
