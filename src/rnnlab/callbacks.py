"""Callbacks of our own: CPU settings in every training process, metric history, throughput."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


def configure_torch(flush_denormal: bool, num_threads: int | None) -> None:
    """Flush subnormal floats to zero and set the thread count for this process.

    Back-propagation through long sequences drives many gradients into the subnormal range, which the
    CPU handles in a slow path (5-7x slower LSTM training on IMDB-sized inputs); TensorFlow flushes
    them by default, PyTorch only when told. The setting is per process, hence a callback.
    """
    torch.set_flush_denormal(flush_denormal)
    if num_threads is not None:
        torch.set_num_threads(num_threads)


def threads_per_job(n_jobs: int, cores: int | None = None) -> int:
    """Torch threads for each of `n_jobs` jobs running at once, so that jobs x threads <= cores.

    `n_jobs` counts as joblib counts: -1 is one job per core, -2 all cores but one.
    """
    cores = cores or os.cpu_count() or 1
    parallel = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    return max(1, cores // parallel)


class TorchSettings(pl.Callback):
    """Applies `configure_torch` in whichever process trains (launcher workers, DDP ranks)."""

    def __init__(self, flush_denormal: bool, num_threads: int | None) -> None:
        self.flush_denormal, self.num_threads = flush_denormal, num_threads

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        configure_torch(self.flush_denormal, self.num_threads)


class MetricHistory(pl.Callback):
    """Epoch-level scalars (train/*, val/*, learning rate) as a list of dicts, for curves and summaries."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}  # in checkpoints, so a resumed run keeps the curves of earlier epochs

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict["epochs"])

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")) and not key.endswith("_step"):
                row[key] = float(value)
        self.epochs.append(row)


class ThroughputMeter(pl.Callback):
    """Training samples per second over the training batches only (validation time excluded)."""

    def __init__(self) -> None:
        self.samples = 0
        self.seconds = 0.0
        self._last = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        self.seconds += now - self._last
        self._last = now
        self.samples += len(batch[0])

    def state_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.samples, self.seconds = state_dict["samples"], state_dict["seconds"]

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0


class RandomState(pl.Callback):
    """Saves the random generators with every checkpoint and restores them on resume.

    A resumed run then draws the same dropout masks and teacher-forcing coins as the run that never
    stopped (data order is seeded per epoch, see `rnnlab.data.splits`), so it ends with the same metrics.
    Stored as tensors and lists, which `torch.load(weights_only=True)` reads.
    """

    def state_dict(self) -> dict[str, Any]:
        kind, keys, position, has_gauss, cached = np.random.get_state()
        version, state, gauss = random.getstate()
        return {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), position, has_gauss, cached],
                "python": [version, list(state), gauss]}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        torch.set_rng_state(saved["torch"])
        kind, keys, position, has_gauss, cached = saved["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
        version, state, gauss = saved["python"]
        random.setstate((version, tuple(state), gauss))
