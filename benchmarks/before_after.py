"""The runner's IMDB tutorial throughput from two source trees, side by side: has a change slowed training?

    git worktree add /tmp/before <commit>
    python benchmarks/before_after.py /tmp/before/src src [--cells lstm gru rnn --precisions cpu bf16
        --batches 60 --repeats 3 --threads 2]
    python benchmarks/before_after.py /tmp/before/src src --tagging ../shared/data/ud_english_ewt [--batches 80]

Each leg is `python -m rnnlab experiment=imdb_tutorial ...` cut to `--batches` training batches (the command
bench_imdb.py's runner legs run), or with `--tagging <treebank>` bench_tagging.py's `experiment=pos_ewt`
command, with PYTHONPATH set to one tree's `src`; each repeat runs every leg of both trees in turn, and each
configuration reports both trees' median samples/s and the median per-repeat ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

import bench_tagging
from imdb_batches import DEFAULT_ARCHIVE
from legs import runner_command


def samples_per_second(tree: Path, command: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
        done = subprocess.run([*command, f"hydra.run.dir={folder}"], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"{tree}: {done.stderr[-2000:]}")
        return json.loads((Path(folder) / "metrics.json").read_text())["train_samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the `src` folder of the tree before the change")
    parser.add_argument("after", type=Path, help="the `src` folder of the tree after it")
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    parser.add_argument("--precisions", nargs="+", default=["cpu", "bf16"])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tagging", type=Path, help="a treebank folder: measure the pos_ewt tagger instead")
    args = parser.parse_args()
    if args.tagging is not None:
        job = "pos_ewt tagger"
        configs = {("pos_ewt", "fp32"): bench_tagging.runner_command(args.tagging.resolve(), args.batches,
                                                                     args.threads)}
    else:
        job = "IMDB tutorial"
        configs = {(cell, "fp32" if precision == "cpu" else precision):
                   runner_command(args.archive.resolve(), cell, args.batches, args.threads, precision,
                                  progress_bar="none")
                   for cell in args.cells for precision in args.precisions}
    rates: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.repeats):
        for (model, precision), command in configs.items():
            for side, tree in (("before", args.before), ("after", args.after)):
                rates.setdefault((model, precision, side), []).append(samples_per_second(tree, command))
    print(f"{job} through the runner, {args.batches} batches, {args.threads} threads, {args.repeats} repeats "
          "(samples/s, medians; ratio: median of per-repeat after / before)")
    print("| model | precision | before | after | after / before |\n| --- | --- | ---: | ---: | ---: |")
    for model, precision in configs:
        before, after = rates[(model, precision, "before")], rates[(model, precision, "after")]
        ratios = [a / b for a, b in zip(after, before)]
        print(f"| {model} | {precision} | {statistics.median(before):,.0f} | {statistics.median(after):,.0f} | "
              f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}] |")


if __name__ == "__main__":
    main()
