"""Training throughput on the real IMDB tutorial batches: rnnlab's runner beside a hand-written loop and Keras.

Every leg trains on the same first `--batches` training batches of the tutorial recipe (64 reviews x 200
tokens) in a fresh process; each repeat runs every leg once, in the same order, so machine noise hits all
legs alike; medians over the repeats are printed and written to benchmarks/results.md (section "throughput",
or "throughput-threads-N" with --threads N).

  rnnlab               `python -m rnnlab experiment=imdb_tutorial model=... trainer=cpu|bf16`, cut to the
                       batches; samples/s from its metrics.json (ThroughputMeter)
  raw nn.* defaults    hand-written loop, nn.LSTM/GRU/RNN with PyTorch's default settings (no flushing)
  raw, runner settings hand-written loop with the runner's implementation and settings (overhead reference)
  Keras                the tutorial model in TensorFlow/Keras fp32 (needs benchmarks/.venv: `make bench`)

    python benchmarks/bench_imdb.py [--batches 100 --repeats 3 --cells lstm gru rnn]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

from imdb_batches import DEFAULT_ARCHIVE, save_batches
from legs import Leg, keras_available, keras_leg, raw_leg, runner_leg, seconds_to_first_step
from results_page import machine, median, number, write_section

TARGETS = {"lstm": 2.5, "gru": 2.0, "rnn": 2.0}  # issue 6: fp32 through the runner vs Keras; bf16 LSTM: 3.0
KERAS_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}


def legs_for(cell: str, archive: Path, arrays: tuple[Path, Path], batches: int, keras: bool,
             threads: int | None) -> list[Leg]:
    legs = [keras_leg(f"{cell}/keras", arrays, cell, threads)] if keras else []
    legs += [
        raw_leg(f"{cell}/raw-default", arrays, cell, threads, "--settings", "default"),
        runner_leg(f"{cell}/runner", archive, cell, batches, threads),
        raw_leg(f"{cell}/raw-runner", arrays, cell, threads, "--settings", "runner"),
        runner_leg(f"{cell}/runner-bf16", archive, cell, batches, threads, precision="bf16"),
        raw_leg(f"{cell}/raw-runner-bf16", arrays, cell, threads, "--settings", "runner", "--bf16"),
    ]
    # the implementation auto does not pick in fp32: auto runs the fused recurrence for every cell
    legs.append(runner_leg(f"{cell}/runner-other", archive, cell, batches, threads, impl="torch"))
    return legs


def measure(legs: list[Leg], repeats: int, archive: Path, threads: int | None) -> tuple[dict[str, list[float]], float]:
    """Samples/s per leg key, one per repeat, and the median seconds from command to first training step."""
    rates: dict[str, list[float]] = defaultdict(list)
    first_steps: list[float] = []
    for repeat in range(repeats):
        for leg in legs:
            rates[leg.key].append(leg.run())
            print(f"repeat {repeat + 1}/{repeats} {leg.key:<22} {rates[leg.key][-1]:>8.0f} samples/s", flush=True)
        first_steps.append(seconds_to_first_step(archive, threads))
        print(f"repeat {repeat + 1}/{repeats} first training step after {first_steps[-1]:.1f} s", flush=True)
    return dict(rates), median(first_steps)


def paired_ratio(rates: dict[str, list[float]], leg: str, reference: str) -> str:
    """leg / reference in each repeat (the two ran minutes apart, so machine load hits both alike): the median
    of those ratios, and their range over the repeats."""
    ratios = [a / b for a, b in zip(rates.get(leg, []), rates.get(reference, [])) if b]
    if not ratios:
        return "—"
    spread = f" [{min(ratios):.2f}-{max(ratios):.2f}]" if len(ratios) > 1 else ""
    return f"{median(ratios):.2f}x{spread}"


def table(rates: dict[str, list[float]], cells: list[str]) -> str:
    def get(cell: str, leg: str) -> float:
        return median(rates.get(f"{cell}/{leg}", []))

    def paired(cell: str, leg: str, reference: str) -> str:
        return paired_ratio(rates, f"{cell}/{leg}", f"{cell}/{reference}")

    rows = ["| cell | Keras fp32 | raw loop, nn.* defaults | rnnlab fp32 (impl=auto) "
            "| rnnlab fp32, the other impl | rnnlab bf16 | rnnlab fp32 / Keras (target) | rnnlab bf16 / Keras |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for cell in cells:
        runner, keras, bf16 = get(cell, "runner"), get(cell, "keras"), get(cell, "runner-bf16")
        other = f"{number(get(cell, 'runner-other'))} (torch)"
        bf16_target = " (≥ 3.0x)" if cell == "lstm" else ""
        rows.append(f"| {KERAS_NAMES[cell]} | {number(keras)} | {number(get(cell, 'raw-default'))} | {number(runner)} "
                    f"| {other} | {number(bf16)} "
                    f"| {paired(cell, 'runner', 'keras')} (≥ {TARGETS[cell]}x) "
                    f"| {paired(cell, 'runner-bf16', 'keras')}{bf16_target} |")
    rows += ["", "Runner overhead: the runner against the hand-written loop with the same implementation and "
             "settings (flushing, freed memory kept, Keras init, clipping at 1.0, fused Adam, same `RecurrentLayer`; "
             "target within 5%):", "",
             "| cell | precision | rnnlab | raw loop, runner settings | rnnlab / raw |",
             "| --- | --- | ---: | ---: | ---: |"]
    for cell in cells:
        for precision, suffix in (("fp32", ""), ("bf16", "-bf16")):
            runner, raw = get(cell, f"runner{suffix}"), get(cell, f"raw-runner{suffix}")
            rows.append(f"| {KERAS_NAMES[cell]} | {precision} | {number(runner)} | {number(raw)} "
                        f"| {paired(cell, f'runner{suffix}', f'raw-runner{suffix}')} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="the IMDB .tar.gz or folder")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"], choices=["lstm", "gru", "rnn"])
    parser.add_argument("--threads", type=int, help="threads of every leg (default: each library's, one per core)")
    args = parser.parse_args()
    missing_keras = keras_available()
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        arrays = save_batches(args.archive, args.batches, Path(folder))
        legs = [leg for cell in args.cells
                for leg in legs_for(cell, args.archive, arrays, args.batches, missing_keras is None, args.threads)]
        rates, first_step = measure(legs, args.repeats, args.archive, args.threads)
    note = f"\n\nKeras column skipped: {missing_keras}." if missing_keras else ""
    threads = "" if args.threads is None else f" --threads {args.threads}"
    command = (f"python benchmarks/bench_imdb.py --batches {args.batches} --repeats {args.repeats}{threads} "
               f"--cells {' '.join(args.cells)}")
    text = (f"## Training throughput (samples/s)\n\nMachine: {machine()}.\nCommand: `{command}` (`make bench`). "
            f"Median of {args.repeats} interleaved runs of each leg on the first {args.batches} real training "
            f"batches (64 × 200 tokens); every leg's first 2 batches (Keras: graph tracing; PyTorch: lazy set-up) "
            f"are not timed. Ratios: the median over the repeats of the two legs' ratio within each repeat, "
            f"its range in brackets. Threads per leg: {args.threads or 'each library default (one per core)'}."
            f"{note}\n\n"
            f"{table(rates, args.cells)}\n\n"
            f"Time from `python -m rnnlab experiment=imdb_tutorial ...` to the end of its first training step "
            f"(imports, config, cached arrays, model, trainer): median {first_step:.1f} s.")
    print(text)
    write_section("throughput" if args.threads is None else f"throughput-threads-{args.threads}", text)


if __name__ == "__main__":
    main()
