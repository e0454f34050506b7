"""Training throughput on CPU: torch's nn.RNN / nn.GRU / nn.LSTM vs rnnlab's FusedRecurrentLayer.

One training step = forward + backward + Adam step, timed with the two implementations interleaved (so
machine noise hits both alike); reports the median samples/s over the repeats and the fused/torch ratio.
"Variable lengths" feeds random lengths in [1, T]: torch gets a packed sequence (for LSTM that leaves the
oneDNN path for the slower native one), the fused layer gets the lengths tensor.

    python benchmarks/bench_fused.py [--batch 64 --steps 200 --input 64 --hidden 64 --repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.kernels.fused import FusedRecurrentLayer

torch.set_flush_denormal(True)  # subnormal floats in the recurrences otherwise dominate CPU time
torch.set_num_threads(2)

TORCH_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class TorchLayer(nn.Module):
    """The torch module with the fused layer's interface: (x, lengths) -> (outputs, h_n)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.rnn = TORCH_CELLS[cell](input_size, hidden_size, batch_first=True)

    def forward(self, x: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        if lengths is None:
            outputs, state = self.rnn(x)
        else:
            packed, state = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
            outputs, _ = pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])
        return outputs, state[0] if isinstance(state, tuple) else state


def make_step(layer: nn.Module, x: Tensor, lengths: Tensor | None) -> Callable[[], None]:
    """One training step of `layer` plus a linear read-out on outputs and h_n."""
    head = nn.Linear(layer.hidden_size, 1)
    optimizer = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=1e-3)

    def step() -> None:
        outputs, h_n = layer(x, lengths)
        loss = head(outputs).square().mean() + head(h_n).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def compare(cell: str, args: argparse.Namespace, variable: bool) -> tuple[float, float]:
    """Median samples/s of (torch, fused) for one cell."""
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input)
    lengths = torch.randint(1, args.steps + 1, (args.batch,)) if variable else None
    reference = TorchLayer(cell, args.input, args.hidden)
    fused = FusedRecurrentLayer(cell, args.input, args.hidden)
    fused.load_state_dict(reference.rnn.state_dict())
    steps = [make_step(reference, x, lengths), make_step(fused, x, lengths)]
    times: list[list[float]] = [[], []]
    for repeat in range(args.warmup + args.repeats):
        for k, step in enumerate(steps):
            start = time.perf_counter()
            step()
            if repeat >= args.warmup:
                times[k].append(time.perf_counter() - start)
    torch_rate, fused_rate = (args.batch / statistics.median(t) for t in times)
    return torch_rate, fused_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cells", nargs="+", default=list(TORCH_CELLS), choices=list(TORCH_CELLS))
    args = parser.parse_args()
    print(
        f"B={args.batch} T={args.steps} I={args.input} H={args.hidden}, threads={torch.get_num_threads()}, "
        f"median of {args.repeats} interleaved training steps (samples/s)"
    )
    print(f"{'cell':<5} {'lengths':<9} {'torch':>9} {'fused':>9} {'fused/torch':>12}")
    for cell in args.cells:
        for variable in (False, True):
            torch_rate, fused_rate = compare(cell, args, variable)
            label = "variable" if variable else "full"
            ratio = fused_rate / torch_rate
            print(f"{cell:<5} {label:<9} {torch_rate:>9.0f} {fused_rate:>9.0f} {ratio:>11.2f}x", flush=True)


if __name__ == "__main__":
    main()
