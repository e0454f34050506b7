"""Steady-state time per training step of the tutorial model, per implementation and precision, in one process.

The runner's table compares implementations in separate processes, where machine noise between legs is as
large as the difference; here the legs run in turn in one process (same allocator, threads and batches),
`--rounds` times, and each leg reports the median over its rounds of the median step time (first 2 steps of
a round untimed). The loop is benchmarks/raw_loop.py's model with the runner's settings (subnormals flushed,
freed memory kept, Keras init, clipping at 1.0, fused Adam, bf16 autocast for `bf16` legs).

    python benchmarks/impl_steps.py --cell lstm --legs torch:cpu fused:cpu torch:bf16 fused:bf16 --rounds 6
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from imdb_batches import DEFAULT_ARCHIVE, save_batches
from step_times import raw_steps, runner_process_settings


def median_step_ms(cell: str, impl: str, precision: str, arrays: tuple[Path, Path]) -> float:
    return 1e3 * statistics.median(raw_steps(cell, arrays, precision, impl)[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    parser.add_argument("--legs", nargs="+", default=["torch:cpu", "fused:cpu"], help="impl:precision (cpu = fp32)")
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    runner_process_settings(args.threads)
    rounds: dict[str, list[float]] = {leg: [] for leg in args.legs}
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        arrays = save_batches(DEFAULT_ARCHIVE, args.batches, Path(folder))
        for _ in range(args.rounds):
            for leg in args.legs:
                impl, precision = leg.split(":")
                rounds[leg].append(median_step_ms(args.cell, impl, precision, arrays))
    print(f"{args.cell}, {args.threads} thread(s), {args.rounds} round(s) of {args.batches} steps: ms per step")
    for leg, values in rounds.items():
        median = statistics.median(values)
        print(f"  {leg:<12} {median:6.1f} ms  {64e3 / median:6.0f} samples/s  [{' '.join(f'{v:.1f}' for v in values)}]")


if __name__ == "__main__":
    main()
