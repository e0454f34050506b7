"""Training characters/s of a character language model: the runner (`python -m rnnlab data=chars`) against a
hand-written PyTorch loop with `nn.LSTM`/`nn.GRU` at the same shapes, side by side.

    python benchmarks/bench_chars.py --text ../shared/data/tinyshakespeare.txt [--cell lstm --hidden 256
        --layers 1 --batches 60 --rounds 3 --threads 2]

Both read the same text the same way (64 contiguous streams, windows of 128 characters, states carried and
detached), embed 64-wide vectors, predict with a linear layer, clip gradients at 1.0 and step AdamW; both
flush subnormal floats and leave out their first 2 steps. Each leg is a fresh process; the legs alternate for
`--rounds` rounds and the table gives each leg's median and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from legs import runner_against_loop

HERE = Path(__file__).resolve().parent
WARMUP = 2  # steps left out, as the runner's throughput_warmup_batches


def raw_loop(text: Path, cell: str, hidden: int, layers: int, batches: int, threads: int, bptt: int,
             streams: int, embedding: int) -> float:
    """Characters/s of a hand-written stateful loop (what a user would write from the PyTorch tutorials)."""
    import torch
    from torch import nn

    torch.set_flush_denormal(True)
    torch.set_num_threads(threads)
    data = text.read_text(encoding="utf-8")
    chars = sorted(set(data))
    table = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([table[c] for c in data[: int(len(data) * 0.85)]])
    length = (len(ids) - 1) // streams
    inputs = ids[: streams * length].view(streams, length)
    targets = ids[1 : streams * length + 1].view(streams, length)
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](embedding, hidden, layers, batch_first=True)
    model = nn.ModuleDict({"embedding": nn.Embedding(len(chars), embedding), "rnn": rnn,
                           "head": nn.Linear(hidden, len(chars))})
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, fused=True)
    state = None
    times = []
    for step in range(batches):
        start = (step * bptt) % (length - bptt)
        x, y = inputs[:, start : start + bptt], targets[:, start : start + bptt]
        began = time.perf_counter()
        out, state = model["rnn"](model["embedding"](x), state)
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        loss = nn.functional.cross_entropy(model["head"](out).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        times.append(time.perf_counter() - began)
    return streams * bptt * (batches - WARMUP) / sum(times[WARMUP:])


def runner(text: Path, cell: str, hidden: int, layers: int, batches: int, threads: int, bptt: int,
           streams: int, embedding: int) -> float:
    """Characters/s of `python -m rnnlab data=chars` at the same shapes (its train_samples_per_s x bptt)."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        command = [sys.executable, "-m", "rnnlab", "data=chars", f"data.path={text}", f"model.cell={cell}",
                   f"model.hidden_size={hidden}", f"model.num_layers={layers}", f"data.bptt={bptt}",
                   f"data.batch_size={streams}", f"data.embedding_dim={embedding}", "trainer.max_epochs=1",
                   f"trainer.limit_train_batches={batches}", "trainer.limit_val_batches=1",
                   "trainer.limit_test_batches=1", "trainer.num_sanity_val_steps=0", f"trainer.num_threads={threads}",
                   "data.sample_length=0", "data.ngram_order=1", "optimizer.scheduler=none", "logger=none",
                   "callbacks.progress_bar=none", "print_config=false", f"callbacks.throughput_warmup_batches={WARMUP}",
                   f"hydra.run.dir={folder}"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads((Path(folder) / "metrics.json").read_text())["train_samples_per_s"] * bptt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, default=HERE.parent.parent / "shared" / "data" / "tinyshakespeare.txt")
    parser.add_argument("--cell", default="lstm", choices=("rnn", "gru", "lstm"))
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--leg", choices=("raw",), help=argparse.SUPPRESS)  # internal: run one raw leg
    args = parser.parse_args()
    shapes = dict(text=args.text.resolve(), cell=args.cell, hidden=args.hidden, layers=args.layers,
                  batches=args.batches, threads=args.threads, bptt=128, streams=64, embedding=64)
    if args.leg == "raw":
        print(json.dumps({"rate": raw_loop(**shapes)}))
        return
    if not args.text.is_file():
        sys.exit(f"no text at {args.text}; give --text <a UTF-8 file>")
    measured = runner_against_loop(lambda: runner(**shapes), __file__, args.rounds)
    shape = f"{args.cell.upper()}({args.hidden}) x {args.layers}, B64 x 128, {args.threads} threads"
    print(f"| {shape} (nn.{args.cell.upper()} loop) | {measured} |")

if __name__ == "__main__":
    main()
