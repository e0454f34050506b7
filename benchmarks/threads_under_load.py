"""`make run`'s job beside a busy process: how the torch thread settings fare when the cores are shared.

On a 2-core machine under other load, the default run (torch's default: one thread per core) once took 41 s
against 5.9 s with `trainer.num_threads=1` (issue 21): OpenMP threads that wait by spinning fight the other
process for the cores. This runs `python -m rnnlab` (the embedded default) under each setting, with and without
`--busy` processes spinning beside it, rounds interleaved, and reports the median wall time of the whole command
and its ratio to one thread:

    python benchmarks/threads_under_load.py [--rounds 3 --busy 1] [--settings default one_thread passive]

Settings: `default` (what `make run` does), `one_thread` (trainer.num_threads=1), `passive`
(OMP_WAIT_POLICY=PASSIVE: waiting threads sleep instead of spinning) and `active` (OMP_WAIT_POLICY=ACTIVE:
they spin).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

SETTINGS = {
    "default": ([], {}),
    "one_thread": (["trainer.num_threads=1"], {}),
    "passive": ([], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "active": ([], {"OMP_WAIT_POLICY": "ACTIVE"}),
}


def spin() -> None:
    while True:
        pass


def run_seconds(overrides: list[str], env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="rnnlab-threads-") as folder:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "rnnlab", "print_config=false", "callbacks.progress_bar=none",
                               "logger=none", f"hydra.run.dir={folder}", *overrides],
                              capture_output=True, text=True, env={**os.environ, **env})
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=1, help="spinning processes beside the run under load")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args()
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for load in ("idle", "loaded"):
            busy = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy if load == "loaded"
                                                                                     else 0)]
            for process in busy:
                process.start()
            try:
                for name in args.settings:
                    overrides, env = SETTINGS[name]
                    times.setdefault((load, name), []).append(run_seconds(overrides, env))
            finally:
                for process in busy:
                    process.terminate()
    print(f"python -m rnnlab (make run's job), {os.cpu_count()} cores, {args.busy} busy process(es) under load, "
          f"median of {args.rounds} interleaved rounds (whole command, start-up included)\n")
    print("| load | setting | wall time (s) | / one thread |\n| --- | --- | ---: | ---: |")
    for load in ("idle", "loaded"):
        base = statistics.median(times[(load, "one_thread")]) if (load, "one_thread") in times else None
        for name in args.settings:
            median = statistics.median(times[(load, name)])
            ratio = f"{median / base:.2f}" if base else "-"
            print(f"| {load} | {name} | {median:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
