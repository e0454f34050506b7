"""Training speed of the translation model with 1 vs 2 torch threads (why recipe/translation.yaml uses 1).

The decoder runs one small step at a time ([64, 64] matrices), where splitting work over threads costs
more than it saves. Interleaved repeats, medians:

    .venv/bin/python benchmarks/bench_seq2seq_threads.py [--repeats 7] [--batches 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnlab.models.config import DecodeConfig, ModelConfig
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.translate.data import TranslationData
from rnnlab.tasks.translate.schema import TranslationDataConfig
from rnnlab.tasks.translate.task import Seq2SeqTask


def seconds_per_batch(task: Seq2SeqTask, batches: list, threads: int) -> float:
    torch.set_num_threads(threads)
    optimizer = torch.optim.Adam(task.parameters())
    start = time.perf_counter()
    for batch in batches:
        loss, _ = task._teacher_forced(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    for task_name, lengths in (("dates", (6, 29)), ("reverse", (5, 50))):
        data = TranslationData(TranslationDataConfig(task=task_name, train_size=2000, min_len=lengths[0],
                                                     max_len=lengths[1]), seed=0)
        data.setup()
        batches = list(data.train_dataloader())[: args.batches]
        task = Seq2SeqTask(ModelConfig(attention="bahdanau"), OptimizerConfig(), data.spec, decode=DecodeConfig())
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for threads in times:
                times[threads].append(seconds_per_batch(task, batches, threads))
        one, two = (statistics.median(times[t]) for t in (1, 2))
        print(f"{task_name:8s} 1 thread {one * 1000:7.1f} ms/batch | 2 threads {two * 1000:7.1f} ms/batch | "
              f"1 thread is {two / one:.2f}x as fast")


if __name__ == "__main__":
    main()
