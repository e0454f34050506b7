"""The commands a benchmark leg runs, and how each one's result is read: the runner, the raw loop, Keras.

Every leg is a fresh process, so no leg inherits another's thread pool, allocator or subnormal setting.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERAS_PYTHON = HERE / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class Leg:
    """One measured configuration: `key` names it in the results, `command` runs it once."""

    key: str
    command: list[str]
    kind: str  # runner | raw | keras
    run_dir: Path | None = field(default=None, compare=False)

    def run(self) -> float:
        """Samples/s of one run (raises with the leg's stderr if it fails)."""
        if self.kind == "runner":
            with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
                _check(subprocess.run([*self.command, f"hydra.run.dir={folder}"], capture_output=True, text=True))
                return json.loads((Path(folder) / "metrics.json").read_text())["train_samples_per_s"]
        done = _check(subprocess.run(self.command, capture_output=True, text=True))
        return json.loads(done.stdout.strip().splitlines()[-1])["samples_per_s"]


def _check(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(done.args)} failed:\n{done.stderr[-3000:]}")
    return done


def runner_command(archive: Path, cell: str, batches: int, threads: int | None, precision: str = "cpu",
                   impl: str = "auto", progress_bar: str = "rich") -> list[str]:
    """`python -m rnnlab` on the tutorial recipe, one epoch cut to `batches` training batches."""
    threads_option = [] if threads is None else [f"trainer.num_threads={threads}"]
    return [sys.executable, "-m", "rnnlab", *threads_option, "experiment=imdb_tutorial", f"data.path={archive}",
            f"model={cell}", f"model.impl={impl}", f"trainer={precision}", "trainer.max_epochs=1",
            f"trainer.limit_train_batches={batches}", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
            "trainer.num_sanity_val_steps=0", f"callbacks.progress_bar={progress_bar}", "print_config=false"]


def runner_leg(key: str, archive: Path, cell: str, batches: int, threads: int | None, precision: str = "cpu",
               impl: str = "auto") -> Leg:
    command = runner_command(archive, cell, batches, threads, precision, impl)
    return Leg(key, command, "runner")


def _threads(threads: int | None) -> list[str]:
    return [] if threads is None else ["--threads", str(threads)]


def raw_leg(key: str, arrays: tuple[Path, Path], cell: str, threads: int | None, *options: str) -> Leg:
    command = [sys.executable, str(HERE / "raw_loop.py"), *map(str, arrays), "--cell", cell, *_threads(threads)]
    return Leg(key, [*command, *options], "raw")


def keras_leg(key: str, arrays: tuple[Path, Path], cell: str, threads: int | None) -> Leg:
    command = [str(KERAS_PYTHON), str(HERE / "keras_loop.py"), *map(str, arrays), "--cell", cell, *_threads(threads)]
    return Leg(key, command, "keras")


def keras_available() -> str | None:
    """None if the Keras environment works, else why not (the Keras column is then skipped)."""
    if not KERAS_PYTHON.exists():
        return f"no Keras environment at {KERAS_PYTHON.parent.parent} (`make bench` creates it)"
    done = subprocess.run([str(KERAS_PYTHON), "-c", "import tensorflow, keras"], capture_output=True, text=True)
    return None if done.returncode == 0 else f"tensorflow does not import in {KERAS_PYTHON}: {done.stderr[-300:]}"


_FIRST_STEP = re.compile(r"Epoch 0:\s+\d+%\S*\s*\|[^|]*\|\s*1/")


def seconds_to_first_step(archive: Path, threads: int | None) -> float:
    """Wall time from launching `python -m rnnlab` (LSTM tutorial recipe) until its first training step ends,
    read from the moment the tqdm progress bar first shows `1/N`."""
    command = runner_command(archive, "lstm", batches=3, threads=threads, progress_bar="tqdm")
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        start = time.perf_counter()
        process = subprocess.Popen([*command, f"hydra.run.dir={folder}"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, bufsize=1)
        seen, text = None, ""
        while chunk := process.stdout.read(1):
            text += chunk
            if seen is None and chunk in "\r\n" and _FIRST_STEP.search(text):
                seen = time.perf_counter() - start
        if process.wait() != 0 or seen is None:
            raise RuntimeError(f"no first training step seen in the runner's output:\n{text[-3000:]}")
        return seen


def runner_against_loop(runner: Callable[[], float], script: str, rounds: int) -> str:
    """`runner` (a rate) alternated with this script's own `--leg raw` (a fresh process printing {"rate": ...}) for
    `rounds` rounds: "runner R | <loop> L | runner / loop X [min-max]" with medians and the per-round ratios."""
    rates: dict[str, list[float]] = {"runner": [], "raw": []}
    for _ in range(rounds):
        rates["runner"].append(runner())
        raw = _check(subprocess.run([sys.executable, script, "--leg", "raw", *sys.argv[1:]], capture_output=True,
                                    text=True))
        rates["raw"].append(json.loads(raw.stdout.strip().splitlines()[-1])["rate"])
    ratios = [r / w for r, w in zip(rates["runner"], rates["raw"])]
    return (f"runner {statistics.median(rates['runner']):,.0f} | loop {statistics.median(rates['raw']):,.0f} | "
            f"runner / loop {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]")
