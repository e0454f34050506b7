"""Wall time of a 4-job stock sweep: Hydra's basic launcher (one job after another, each with torch's
default threads) against `hydra/launcher=joblib` (jobs in parallel processes, cores // n_jobs threads each).

    .venv/bin/python benchmarks/bench_launcher.py --repeats 3

Runs alternate between the launchers (basic, joblib, joblib, basic, ...) so that load from other work
on the machine falls on both; the median of each is reported, with the load average around the runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = ["-m", "model=rnn,lstm,gru,bilstm", "trainer.max_epochs=10", "callbacks.early_stopping=false",
         "logger=none", "callbacks.progress_bar=none", "print_config=false"]
LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}


def sweep_seconds(launcher: list[str], folder: Path) -> float:
    """Wall time of the whole command, start-up included: what a user waits for."""
    command = [sys.executable, "-m", "rnnlab", *SWEEP, *launcher, f"paths.log_dir={folder}",
               f"hydra.sweep.dir={folder / 'sweep'}"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"the sweep failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per launcher")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    times: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    for repeat in range(args.repeats):
        order = list(LAUNCHERS) if repeat % 2 == 0 else list(reversed(LAUNCHERS))
        for name in order:
            with tempfile.TemporaryDirectory() as folder:
                seconds = sweep_seconds(LAUNCHERS[name], Path(folder))
            times[name].append(seconds)
            print(f"repeat {repeat} {name:>6}: {seconds:6.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)
    basic, joblib = (statistics.median(times[name]) for name in ("basic", "joblib"))
    print("\n| launcher | runs (s) | median (s) |\n| --- | --- | --- |")
    for name, runs in times.items():
        print(f"| {name} | {', '.join(f'{t:.1f}' for t in runs)} | {statistics.median(runs):.1f} |")
    print(f"\nspeedup of joblib over basic (median wall time): {basic / joblib:.2f}x; "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
