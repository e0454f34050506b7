"""Does `torch.set_flush_denormal(True)` reach every thread? Only the calling one: measured on real IMDB batches.

The flag lives in each CPU thread's MXCSR register. PyTorch's OpenMP worker threads copy it when they are
created, at the first parallel op; setting it later (as the runner's TorchSettings callback does, after the
data and the model were built) leaves the workers in the slow subnormal path. Three ways, each a fresh
process training nn.LSTM on the tutorial batches (torch's default threads), interleaved, medians printed:

  before        the flag set before any parallel op (the hand-written loop's way)
  after         a parallel op first, then the flag (the runner's way today)
  every-thread  after, then the flag set inside every OpenMP thread too (GOMP_parallel via ctypes)

    python benchmarks/flush_threads.py [--batches 30 --repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnnlab.kernels.cpu_flags import set_flush_denormal_everywhere

MODES = ("before", "after", "every-thread")


def leg(mode: str, tokens_path: str, labels_path: str) -> float:
    if mode == "before":
        torch.set_flush_denormal(True)
    torch.manual_seed(0)
    embedding, lstm = torch.nn.Embedding(10_000, 64), torch.nn.LSTM(64, 64, batch_first=True)
    head = torch.nn.Linear(64, 1)
    if mode != "before":
        torch.randn(1 << 22).exp_().sum()  # a parallel op starts the OpenMP pool, as building data and model does
        torch.set_flush_denormal(True)
    if mode == "every-thread":
        set_flush_denormal_everywhere(True)
    params = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    tokens, labels = np.load(tokens_path), np.load(labels_path)
    start = time.perf_counter()
    for x, y in zip(tokens, labels):
        _, (h_n, _) = lstm(embedding(torch.from_numpy(x)))
        logits = head(h_n[-1]).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(y).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return tokens.shape[0] * tokens.shape[1] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--leg", nargs=3, metavar=("MODE", "TOKENS", "LABELS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leg:
        print(json.dumps({"samples_per_s": leg(*args.leg)}))
        return
    from imdb_batches import DEFAULT_ARCHIVE, save_batches

    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        arrays = save_batches(DEFAULT_ARCHIVE, args.batches, Path(folder))
        for _ in range(args.repeats):
            for mode in MODES:
                done = subprocess.run([sys.executable, __file__, "--leg", mode, *map(str, arrays)],
                                      capture_output=True, text=True, check=True)
                rates[mode].append(json.loads(done.stdout)["samples_per_s"])
    medians = {mode: statistics.median(values) for mode, values in rates.items()}
    print(f"nn.LSTM training, {torch.get_num_threads()} threads, median of {args.repeats} (samples/s): "
          + ", ".join(f"{mode} {rate:.0f} ({rate / medians['before']:.2f}x)" for mode, rate in medians.items()))


if __name__ == "__main__":
    main()
