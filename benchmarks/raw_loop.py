"""A hand-written PyTorch training loop on the saved IMDB batches; prints samples/s as JSON.

Two settings:
  --settings default  what a user writes by hand: nn.LSTM/GRU/RNN, PyTorch's init, no flushing, no clipping;
  --settings runner   the runner's: subnormals flushed (first thing in the process), freed memory kept for reuse,
                      rnnlab's RecurrentLayer with --impl and time-major embedding lookup, Keras init, gradient
                      clipping at 1.0, fused Adam, optional bf16 autocast. Beside the runner leg with the same
                      options it measures the runner's own overhead (Lightning, Hydra, callbacks).
Samples/s are timed as the runner's ThroughputMeter and the Keras leg time them: after the first `--warmup`
batches (one-off start-up work).

    python benchmarks/raw_loop.py TOKENS.npy LABELS.npy --cell lstm --settings default
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.kernels.memory import reuse_freed_memory
from rnnlab.models.embedding import embed_time_major
from rnnlab.models.init import initialize_
from rnnlab.models.recurrent import TORCH_CELLS, RecurrentLayer

VOCAB, WIDTH = 10_000, 64  # the tutorial recipe: vocabulary 10k, embedding 64, hidden 64


class Classifier(nn.Module):
    """Embedding -> recurrent layer -> logit from the last state, the tutorial's model."""

    def __init__(self, cell: str, impl: str | None) -> None:
        super().__init__()
        self.impl = impl
        self.embedding = nn.Embedding(VOCAB, WIDTH, padding_idx=0)
        self.rnn = (TORCH_CELLS[cell](WIDTH, WIDTH, batch_first=True) if impl is None
                    else RecurrentLayer(cell, WIDTH, WIDTH, bidirectional=False, impl=impl))
        self.head = nn.Linear(WIDTH, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        vectors = self.embedding(tokens) if self.impl is None else embed_time_major(self.embedding, tokens)
        _, h_n = self.rnn(vectors)
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n
        return self.head(h_n[-1]).squeeze(-1)


def train(tokens: np.ndarray, labels: np.ndarray, model: nn.Module, runner: bool, bf16: bool, warmup: int) -> float:
    """Samples/s over one pass through the batches after the first `warmup` (forward, backward, clip, Adam)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=runner or None)
    clip = 1.0 if runner else None
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    start = time.perf_counter()
    for index, (batch_tokens, batch_labels) in enumerate(zip(tokens, labels)):
        if index == warmup:
            start = time.perf_counter()
        x, y = torch.from_numpy(batch_tokens), torch.from_numpy(batch_labels).float()
        with precision:
            loss = nn.functional.binary_cross_entropy_with_logits(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return (tokens.shape[0] - warmup) * tokens.shape[1] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokens")
    parser.add_argument("labels")
    parser.add_argument("--cell", choices=sorted(TORCH_CELLS), default="lstm")
    parser.add_argument("--settings", choices=("default", "runner"), default="default")
    parser.add_argument("--impl", choices=("auto", "torch", "fused"), default="auto")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--warmup", type=int, default=2, help="first batches not timed")
    args = parser.parse_args()
    runner = args.settings == "runner"
    if runner:
        torch.set_flush_denormal(True)  # before any parallel op, so every OpenMP thread inherits it
        reuse_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Classifier(args.cell, args.impl if runner else None)
    if runner:
        initialize_(model, "keras")
    tokens, labels = np.load(args.tokens), np.load(args.labels)
    rate = train(tokens, labels, model, runner, bf16=args.bf16, warmup=args.warmup)
    print(json.dumps({"samples_per_s": rate, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
