"""Which recurrence is faster at which shape: rnnlab's fused recurrence against `nn.RNN/GRU/LSTM`, and what
`model.impl=auto` picks, over cells x hidden sizes x batch sizes x full/ragged lengths x fp32/bf16.

One layer, forward + backward of a loss on its outputs, the two implementations interleaved in one process
(machine noise hits both alike), each cell's time the median of `--rounds` rounds after one warm-up:

    python benchmarks/impl_scaling.py [--cells rnn gru lstm --hidden 64 128 256 512 1024 --batch 16 64 256
        --steps 50 --input 64 --rounds 3 --threads 2] [--write benchmarks/results.md]

`auto` is the implementation `RecurrentLayer(impl="auto")` chooses for that input, measuring both on it as it
does on first use, into a fresh kernel folder (a machine that never chose before); `auto / best` is its time in
the benchmark's own rounds over the faster one's (1.00: it picked the faster). Ragged rows have lengths drawn in
[1, T]: nn.* then runs a packed sequence. bf16 runs under CPU autocast. With --write the table replaces the
section between `<!-- impl_scaling -->` markers in that file.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.models.recurrent import RecurrentLayer

MARK = ("<!-- impl_scaling -->", "<!-- end impl_scaling -->")


def step_time(layer: RecurrentLayer, x: torch.Tensor, lengths: torch.Tensor | None, bf16: bool) -> float:
    """Seconds of one forward + backward."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    started = time.perf_counter()
    with autocast:
        outputs, _ = layer(x, lengths)
        loss = outputs.float().square().mean()
    loss.backward()
    return time.perf_counter() - started


def measure(cell: str, hidden: int, batch: int, ragged: bool, bf16: bool, args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    x = torch.randn(batch, args.steps, args.input, requires_grad=True)
    lengths = torch.randint(1, args.steps + 1, (batch,)) if ragged else None
    layers = {impl: RecurrentLayer(cell, args.input, hidden, bidirectional=False, impl=impl)
              for impl in ("fused", "torch")}
    layers["torch"].load_state_dict(layers["fused"].state_dict())
    times: dict[str, list[float]] = {"fused": [], "torch": []}
    for round_ in range(args.rounds + 1):
        for impl, layer in layers.items():
            spent = step_time(layer, x, lengths, bf16)
            if round_:  # the first round warms up (kernel build, allocator, oneDNN primitives)
                times[impl].append(spent)
    medians = {impl: statistics.median(values) for impl, values in times.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
        picked = "fused" if RecurrentLayer(cell, args.input, hidden, False, "auto").use_fused(x, lengths) else "torch"
    return {**medians, "auto": picked, "ratio": medians[picked] / min(medians.values())}


def cpu_name() -> str:
    """The CPU's model name and whether it has AMX tiles (the bf16 rows depend on it)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "CPU")
    return f"{name}, {'with' if ' amx_tile' in info else 'without'} AMX"


def table(rows: list[tuple]) -> str:
    lines = ["| cell | H | B | lengths | dtype | fused ms | nn.* ms | fused speed-up | auto | auto / best |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | ---: |"]
    for (cell, hidden, batch, ragged, bf16), r in rows:
        lines.append(f"| {cell} | {hidden} | {batch} | {'ragged' if ragged else 'full'} | "
                     f"{'bf16' if bf16 else 'fp32'} | {r['fused'] * 1e3:.1f} | {r['torch'] * 1e3:.1f} | "
                     f"{r['torch'] / r['fused']:.2f}x | {r['auto']} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=["rnn", "gru", "lstm"])
    parser.add_argument("--hidden", nargs="+", type=int, default=[64, 128, 256, 512, 1024])
    parser.add_argument("--batch", nargs="+", type=int, default=[16, 64, 256])
    parser.add_argument("--lengths", nargs="+", default=["full", "ragged"], choices=["full", "ragged"])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file between its markers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    os.environ["RNNLAB_KERNEL_DIR"] = tempfile.mkdtemp(prefix="impl_scaling-")  # no choices kept from before
    rows = []
    for cell, hidden, batch, lengths, dtype in itertools.product(args.cells, args.hidden, args.batch, args.lengths,
                                                                 args.dtypes):
        key = (cell, hidden, batch, lengths == "ragged", dtype == "bf16")
        rows.append((key, measure(*key, args)))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    worst = max(r["ratio"] for _, r in rows)
    text = (f"{cpu_name()}; T={args.steps}, I={args.input}, {args.threads} threads, median of {args.rounds} "
            f"interleaved rounds; worst auto / best: {worst:.2f}\n\n{table(rows)}")
    print("\n" + text)
    if args.write:
        page = args.write.read_text()
        command = " ".join(arg for arg in sys.argv[1:] if arg != "--write" and arg != str(args.write))
        block = f"{MARK[0]}\n    python benchmarks/impl_scaling.py {command}\n\n{text}\n{MARK[1]}"
        page = re.sub(re.escape(MARK[0]) + ".*?" + re.escape(MARK[1]), lambda _: block, page, flags=re.S) \
            if MARK[0] in page else page.rstrip("\n") + f"\n\n## Recurrence implementations by shape\n\n{block}\n"
        args.write.write_text(page)


if __name__ == "__main__":
    main()
