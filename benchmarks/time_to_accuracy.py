"""Wall time until the IMDB tutorial recipe reaches 85% test accuracy: rnnlab beside Keras.

rnnlab: the runner's own pieces (`build_data`, `build_task`, `build_trainer`, the tutorial config composed by
Hydra) with one extra callback that measures test accuracy after every epoch and stops at the target; the clock
starts when this script starts (imports included) and includes the per-epoch test passes. Keras: the tutorial
model on the same encoded reviews (all 25,000 training reviews, the test set as validation data, as the Keras
tutorial does), clocked the same way in its own process. Results go to benchmarks/results.md ("accuracy").

    python benchmarks/time_to_accuracy.py [--cell lstm --target 0.85 --max-epochs 5]
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from imdb_batches import DEFAULT_ARCHIVE, tutorial_config  # noqa: E402
from legs import HERE, KERAS_PYTHON, keras_available  # noqa: E402
from results_page import machine, write_section  # noqa: E402

from rnnlab.data.archive import default_cache_dir  # noqa: E402
from rnnlab.run.build import build_data, build_task, build_trainer  # noqa: E402
from rnnlab.tasks.classify.imdb import load_encoded_imdb, locate_imdb  # noqa: E402


class TestEachEpoch(pl.Callback):
    """Test accuracy after every training epoch, with the seconds since the script started; stops at `target`."""

    def __init__(self, target: float) -> None:
        self.target, self.epochs = target, []

    def on_train_epoch_end(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        correct = total = 0
        task.eval()
        with torch.no_grad(), trainer.precision_plugin.forward_context():
            for tokens, lengths, labels, _ in trainer.datamodule.test_dataloader():
                correct += int(((task(tokens, lengths) > 0).long() == labels).sum())
                total += len(labels)
        task.train()
        self.epochs.append({"epoch": trainer.current_epoch + 1, "test_acc": correct / total,
                            "seconds": time.perf_counter() - STARTED})
        print(json.dumps(self.epochs[-1]), flush=True)
        trainer.should_stop = correct / total >= self.target


def rnnlab_epochs(archive: Path, cell: str, target: float, max_epochs: int, threads: int | None) -> list[dict]:
    threads_option = [] if threads is None else [f"trainer.num_threads={threads}"]
    cfg = tutorial_config([f"data.path={archive}", f"model={cell}", f"trainer.max_epochs={max_epochs}",
                           "logger=none", "callbacks.progress_bar=none", *threads_option])
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    data = build_data(cfg)
    task = build_task(cfg, data.spec)
    with tempfile.TemporaryDirectory(prefix="rnnlab-tta-") as folder:
        trainer = build_trainer(cfg, task, Path(folder))
        tester = TestEachEpoch(target)
        trainer.callbacks.append(tester)
        trainer.fit(task, datamodule=data)
    return tester.epochs


def keras_epochs(archive: Path, cell: str, target: float, max_epochs: int, threads: int | None) -> list[dict]:
    """Keras's epochs on all 25,000 encoded training reviews, with the test reviews as validation data."""
    cfg = tutorial_config([f"data.path={archive}"]).data
    cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
    encoded = load_encoded_imdb(locate_imdb(archive, cache_dir), cfg.text_settings(), cache_dir)
    with tempfile.TemporaryDirectory(prefix="rnnlab-tta-") as folder:
        paths = [Path(folder) / f"{split}_{name}.npy" for split in ("train", "test") for name in ("tokens", "labels")]
        for path, array in zip(paths, (encoded.train.tokens, encoded.train.labels, encoded.test.tokens,
                                       encoded.test.labels)):
            np.save(path, array)
        command = [str(KERAS_PYTHON), str(HERE / "keras_loop.py"), *map(str, paths[:2]), "--cell", cell,
                   "--epochs", str(max_epochs), "--target", str(target), "--test", *map(str, paths[2:]),
                   *([] if threads is None else ["--threads", str(threads)])]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["epochs"]


def reached(epochs: list[dict], target: float) -> str:
    hit = next((e for e in epochs if e["test_acc"] >= target), None)
    return f"{hit['seconds']:.0f} s (epoch {hit['epoch']})" if hit else f"not reached in {len(epochs)} epochs"


def curve(epochs: list[dict]) -> str:
    return ", ".join(f"{100 * e['test_acc']:.1f}% at {e['seconds']:.0f} s" for e in epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="the IMDB .tar.gz or folder")
    parser.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--max-epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, help="threads of both (default: each library's, one per core)")
    args = parser.parse_args()
    ours = rnnlab_epochs(args.archive, args.cell, args.target, args.max_epochs, args.threads)
    missing_keras = keras_available()
    theirs = [] if missing_keras else keras_epochs(args.archive, args.cell, args.target, args.max_epochs, args.threads)
    keras_row = (f"| Keras fp32 | {reached(theirs, args.target)} | {curve(theirs)} |" if theirs
                 else f"| Keras fp32 | skipped: {missing_keras} | |")
    threads = "" if args.threads is None else f" --threads {args.threads}"
    text = (f"## Time to {100 * args.target:.0f}% IMDB test accuracy\n\nMachine: {machine()}.\n"
            f"Command: `python benchmarks/time_to_accuracy.py --cell {args.cell} --target {args.target} "
            f"--max-epochs {args.max_epochs}{threads}` (`make bench`). Tutorial recipe ({args.cell}, seed 0), "
            f"test accuracy after every epoch, wall time from the command's start, per-epoch test passes included; "
            f"training stops at the target.\n\n"
            f"| system | time to {100 * args.target:.0f}% | test accuracy after each epoch |\n"
            f"| --- | ---: | --- |\n| rnnlab (runner's data, task and trainer) | {reached(ours, args.target)} "
            f"| {curve(ours)} |\n{keras_row}")
    print(text)
    write_section("accuracy", text)


if __name__ == "__main__":
    main()
