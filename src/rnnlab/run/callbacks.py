"""Callbacks of our own: CPU settings in every training process, metric history, throughput, the layer table."""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.accelerators import CPUAccelerator
from pytorch_lightning.callbacks import Callback, Checkpoint, ModelSummary
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.model_summary import get_human_readable_count
from rich import get_console
from rich.table import Table
from torch import Tensor

from rnnlab.kernels import reuse_freed_memory, set_flush_denormal_everywhere

log = logging.getLogger("rnnlab")
TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before any run of this process set it


def configure_torch(flush_denormal: bool, num_threads: int | None, reuse_memory: bool = False) -> None:
    """Flush subnormal floats to zero, set the thread count and (`reuse_memory`) keep freed memory for
    reuse (rnnlab/kernels/memory.py) in this process.

    Back-propagation through long sequences drives many gradients into the subnormal range, which the
    CPU handles in a slow path (5-7x slower LSTM training on IMDB-sized inputs); TensorFlow flushes
    them by default, PyTorch only when told. The setting is per thread: `set_flush_denormal_everywhere`
    reaches the OpenMP workers too, after the thread count is set.
    """
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    set_flush_denormal_everywhere(flush_denormal)
    if reuse_memory:
        reuse_freed_memory()


def threads_per_job(n_jobs: int, cores: int | None = None) -> int:
    """Torch threads for each of `n_jobs` jobs running at once, so that jobs x threads <= cores.

    `n_jobs` counts as joblib counts: -1 is one job per core, -2 all cores but one.
    """
    cores = cores or os.cpu_count() or 1
    parallel = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    return max(1, cores // parallel)


class TorchSettings(pl.Callback):
    """Applies `configure_torch` in whichever process trains (launcher workers, DDP ranks).

    Without `trainer.num_threads`, a model of fewer than `single_thread_below` parameters trains on one thread:
    a second thread gains it nothing on an idle machine, and beside another busy process its spinning OpenMP
    threads made `make run` 1.65x slower than one thread (benchmarks/threads_under_load.py)."""

    def __init__(self, flush_denormal: bool, num_threads: int | None, reuse_memory: bool = False,
                 single_thread_below: int = 0) -> None:
        self.flush_denormal, self.num_threads, self.reuse_memory = flush_denormal, num_threads, reuse_memory
        self.single_thread_below = single_thread_below

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        threads = self.num_threads
        if threads is None and isinstance(trainer.accelerator, CPUAccelerator):
            count = sum(p.numel() for p in pl_module.parameters())
            small = count < self.single_thread_below
            threads = 1 if small else TORCH_DEFAULT_THREADS  # the default again after a small model in this process
            if small:
                log.info("one torch thread: %d parameters, fewer than trainer.single_thread_below=%d", count,
                         self.single_thread_below)
        configure_torch(self.flush_denormal, threads, self.reuse_memory)


class FitState(pl.Callback):
    """A callback whose state travels in checkpoints to resume a fit, and only then.

    Lightning restores callbacks from the checkpoint `trainer.test(ckpt_path=best)` reads too; that must
    not roll the metric history back to the best epoch.
    """

    key = ""

    def fit_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_fit_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault("rnnlab_state", {})[self.key] = self.fit_state()

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("rnnlab_state", {})
        if trainer.state.fn == TrainerFn.FITTING and self.key in saved:
            self.load_fit_state(saved[self.key])


class MetricHistory(FitState):
    """Epoch-level scalars (train/*, val/*, learning rate) as a list of dicts, for curves and summaries."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    key = "metric_history"

    def fit_state(self) -> dict[str, Any]:
        return {"epochs": self.epochs}  # a resumed run keeps the rows of earlier epochs

    def load_fit_state(self, state: dict[str, Any]) -> None:
        self.epochs = list(state["epochs"])

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")) and not key.endswith("_step"):
                row[key] = float(value)
        self.epochs.append(row)


class ThroughputMeter(FitState):
    """Training samples per second over the training batches only (validation time excluded).

    The first `warmup_batches` batches of a fit are left out when there are more: they carry one-off
    start-up work (lazy set-up of kernels and allocations), as Keras's first batches carry its graph
    tracing, so the figure compares steady training speed. A fit with no batch past them reports all.
    A resumed fit carries on the totals and leaves out its own first batches too (its process starts up
    again).
    """

    key = "throughput"

    def __init__(self, warmup_batches: int = 0) -> None:
        self.warmup_batches = warmup_batches
        self.batches = 0
        self.samples = {"all": 0, "steady": 0}
        self.seconds = {"all": 0.0, "steady": 0.0}
        self._last = 0.0
        self._fit_batches = 0  # batches of this fit in this process: the warm-up is counted on these

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_batches = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        self.batches += 1
        self._fit_batches += 1
        parts = ("all", "steady") if self._fit_batches > self.warmup_batches else ("all",)
        for part in parts:
            self.seconds[part] += now - self._last
            self.samples[part] += len(batch[0])
        self._last = now

    def fit_state(self) -> dict[str, Any]:
        return {"batches": self.batches, "samples": dict(self.samples), "seconds": dict(self.seconds)}

    def load_fit_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state["samples"], dict):  # checkpoints from before the warm-up split
            state = {"batches": 0, "samples": {"all": state["samples"], "steady": 0},
                     "seconds": {"all": state["seconds"], "steady": 0.0}}
        self.batches, self.samples, self.seconds = state["batches"], state["samples"], state["seconds"]

    @property
    def samples_per_second(self) -> float:
        part = "steady" if self.samples["steady"] else "all"
        return self.samples[part] / self.seconds[part] if self.seconds[part] else 0.0


class RandomState(FitState):
    """Saves the random generators with every checkpoint and restores them on resume.

    A resumed run then draws the same dropout masks and teacher-forcing coins as the run that never
    stopped (data order is seeded per epoch, see `rnnlab.data.splits`), so it ends with the same metrics.
    Stored as tensors and lists, which `torch.load(weights_only=True)` reads.
    """

    key = "random"

    def fit_state(self) -> dict[str, Any]:
        kind, keys, position, has_gauss, cached = np.random.get_state()
        version, state, gauss = random.getstate()
        return {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), position, has_gauss, cached],
                "python": [version, list(state), gauss]}

    def load_fit_state(self, saved: dict[str, Any]) -> None:
        torch.set_rng_state(saved["torch"])
        kind, keys, position, has_gauss, cached = saved["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
        version, state, gauss = saved["python"]
        random.setstate((version, tuple(state), gauss))


class ParameterSummary(ModelSummary):
    """Lightning's table of the model's layers at the start of a fit, without its FLOPs column and total:
    Lightning counts FLOPs only for a module that declares an example input, so here they would read 0."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int,
                  **summarize_kwargs: Any) -> None:
        table = Table(header_style="bold magenta")
        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table.add_column(" ", style="dim")
        for name, _ in columns[1:]:
            table.add_column(name, justify="right" if name == "Params" else "left")
        for row in zip(*(values for _, values in columns)):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        frozen = total_parameters - trainable_parameters
        console.print(f"[bold]Trainable params[/]: {get_human_readable_count(trainable_parameters)}   "
                      f"[bold]Non-trainable params[/]: {get_human_readable_count(frozen)}   "
                      f"[bold]Size[/]: {model_size:,.3f} MB")


class LastCheckpoint(Checkpoint):
    """`checkpoints/last.ckpt` at the end of every training epoch, the point an interrupted run continues from.

    Lightning 2.6's `ModelCheckpoint(save_last=True)` rewrites last.ckpt only in an epoch that also wrote the
    best checkpoint, so after the best epoch it stayed behind (a resumed run would repeat epochs, and
    callbacks.test_checkpoint=last would test the best). As a `Checkpoint` this runs after ModelCheckpoint's own
    epoch-end bookkeeping, so the file holds this epoch's best-so-far state too."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and not trainer.fast_dev_run:
            trainer.save_checkpoint(self.path)


class WeightAveraging(Callback):
    """`optimizer.average_from`: the mean of the weights at each validation from that epoch on (stochastic weight
    averaging). Late in training the weights wander around a minimum with the noise of the last batches; their
    mean generalises better and varies less from seed to seed than any one epoch's (on pollution.csv, the spread
    of test RMSE over seeds). Validation runs on the mean and checkpoints store it as the model's weights, so
    testing, `rnnlab.predict` and `rnnlab.forecast` use it; the weights being trained travel in this callback's
    state, so an interrupted run resumes exactly."""

    def __init__(self, start_epoch: int) -> None:
        self.start_epoch = start_epoch
        self.count = 0
        self.average: dict[str, Tensor] = {}
        self._resumed: dict[str, Tensor] = {}  # trained weights from a checkpoint, put back when training starts

    def _averaging(self, trainer: pl.Trainer) -> bool:
        return trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._averaging(trainer):
            return
        if trainer.current_epoch >= self.start_epoch:
            self.count += 1
            with torch.no_grad():
                for name, param in pl_module.named_parameters():
                    if name in self.average:
                        self.average[name] += (param.detach() - self.average[name]) / self.count
                    else:
                        self.average[name] = param.detach().clone()
        self._swap(pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._averaging(trainer):
            self._swap(pl_module)

    def _swap(self, pl_module: pl.LightningModule) -> None:
        """Exchange the trained weights and their average (a no-op before the first average)."""
        if self.count:
            for name, param in pl_module.named_parameters():
                param.data, self.average[name] = self.average[name], param.data

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"].update({name: value.clone() for name, value in self.average.items()})

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._module = pl_module  # whose trained weights state_dict() saves

    def state_dict(self) -> dict[str, Any]:
        trained = {name: p.detach().clone() for name, p in self._module.named_parameters()} if self.count else {}
        return {"count": self.count, "average": self.average, "trained": trained}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.count, self.average, self._resumed = state_dict["count"], state_dict["average"], state_dict["trained"]

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """On resume the model was loaded with the checkpoint's average: train on from the trained weights."""
        with torch.no_grad():
            for name, param in pl_module.named_parameters():
                if name in self._resumed:
                    param.copy_(self._resumed[name])
                if name in self.average:
                    self.average[name] = self.average[name].to(param.device)
        self._resumed = {}
