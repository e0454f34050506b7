"""How fast this CPU runs the fp32 matrix products of a tutorial LSTM training step, against its own best.

The step's four big products (input projection, input gradient, the two weight gradients; 64 rows x 200
steps, 64 inputs/units, 256 gates) have an inner dimension of 64 or a long sum into a small result, shapes
MKL runs well below the rate it reaches on a large square product. This prints both, in GFLOP/s (median of
`--repeats` timings each), with torch's own calls as the training step makes them (`torch.mm`, and the
weight gradients as the step makes them: one batched product of a chunk of rows per thread, then a sum).

    python benchmarks/product_rates.py [--threads 2 --repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from rnnlab.kernels.compiled import _summed_products

ROWS, WIDTH, GATES = 64 * 200, 64, 4 * 64  # batch x steps, inputs (= units), LSTM gates


def median_seconds(product: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        product()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    square = torch.randn(2048, 2048)
    x, gates, w_ih = torch.randn(ROWS, WIDTH), torch.randn(ROWS, GATES), torch.randn(GATES, WIDTH)
    projected, d_x = torch.empty(ROWS, GATES), torch.empty(ROWS, WIDTH)
    step_flop = 2 * ROWS * WIDTH * GATES
    products = {
        "2048 x 2048 x 2048 (the reference)": (lambda: square @ square, 2 * 2048**3),
        "input projection [12800x64] @ [64x256]": (lambda: torch.mm(x, w_ih.t(), out=projected), step_flop),
        "input gradient [12800x256] @ [256x64]": (lambda: torch.mm(gates, w_ih, out=d_x), step_flop),
        "weight gradient [64x12800] @ [12800x256]": (lambda: _summed_products(x, gates), step_flop),
    }
    print(f"fp32, {args.threads} thread(s), median of {args.repeats}:")
    reference = None
    for name, (product, flop) in products.items():
        rate = flop / median_seconds(product, args.repeats) / 1e9
        reference = reference or rate
        print(f"  {name:<42} {rate:6.0f} GFLOP/s  {rate / reference:4.0%} of the reference")


if __name__ == "__main__":
    main()
