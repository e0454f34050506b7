"""What every task shares: the optimizer and scheduler from config, the monitored metric, NaN guard."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure
from torch import Tensor

from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.private_apis import declare_no_amp_scaling, logger_writes_this_step
from rnnlab.tasks.checkpoints import stamp
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.registry import get_task

OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
FUSED_DEVICES = ("cpu", "cuda")  # where torch has fused Adam/AdamW kernels


def cosine_with_warmup(total_steps: int, warmup_fraction: float, min_fraction: float) -> Callable[[int], float]:
    """Learning-rate factor of step s: a linear rise over the warm-up, then a cosine from 1 down to `min_fraction`
    at the last step (nanoGPT's and most language-model recipes' schedule)."""
    warmup = int(total_steps * warmup_fraction)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class RecurrentTask(pl.LightningModule):
    """Base LightningModule; subclasses define the steps. The monitored metric and its direction default to
    what the task's registry entry says."""

    def __init__(self, model: ModelConfig, optimizer: OptimizerConfig, spec: Any, monitor: str | None = None,
                 mode: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        # plain dicts, so the checkpoint rebuilds the task without unpickling our classes (weights_only);
        # `extra` holds a task's own sections (e.g. decode) under their config names
        self.save_hyperparameters(
            {"model": asdict(model), "optimizer": asdict(optimizer), "spec": asdict(spec), **(extra or {})},
            logger=False,
        )
        self.spec = spec  # the dataset's spec dataclass (ForecastSpec, ClassifySpec)
        self.optimizer_cfg = optimizer
        task = get_task(spec.task)
        self.monitor = monitor or task.monitor
        self.test_report: dict[str, Any] = {}  # extra results for metrics.json, filled by the test loop
        self.test_figures: dict[str, Figure] = {}  # figures of the test loop, saved as figures/<name>.png
        self.test_files: dict[str, str] = {}  # text reports of the test loop, saved beside metrics.json
        self.mode = mode or task.mode(self.monitor)
        self._loss_sum: np.floating | None = None  # this epoch's training loss x batch size, summed
        self._loss_count = 0

    def configure_optimizers(self) -> Any:
        cfg = self.optimizer_cfg
        optimizer = OPTIMIZER_CLASSES[cfg.name](
            self.parameters(), lr=cfg.lr, betas=(0.9, cfg.beta2), weight_decay=cfg.weight_decay,
            fused=self._fused_update() or None,
        )
        if optimizer.defaults["fused"] and self._precision() == "bf16-mixed":
            # bf16 needs no loss scaling, so the fused kernel's own unscaling never runs; Lightning refuses
            # gradient clipping with any optimizer that has it, unless told it does not apply
            declare_no_amp_scaling(optimizer)
        if cfg.scheduler == "none":
            return optimizer
        if cfg.scheduler == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=cfg.lr, total_steps=int(self.trainer.estimated_stepping_batches),
                pct_start=cfg.warmup_fraction,
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        if cfg.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(
                int(self.trainer.estimated_stepping_batches), cfg.warmup_fraction, cfg.min_lr_fraction))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=self.mode, factor=cfg.plateau_factor, patience=cfg.plateau_patience
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor}}

    def _precision(self) -> str:
        return str(self.trainer.precision) if self._trainer is not None else "32-true"

    def _fused_update(self) -> bool:
        """`optimizer.fused`, where torch has the kernel for every parameter and Lightning can clip with it
        (not under fp16 loss scaling: the kernel unscales the gradients inside its step, too late to clip)."""
        if not self.optimizer_cfg.fused or self._precision() == "16-mixed":
            return False
        return all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in self.parameters())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        stamp(checkpoint)

    def log_train_loss(self, loss: Tensor, batch_size: int, batch_idx: int) -> None:
        """Stop on a NaN/inf loss, then log `train/loss` (epoch mean, progress bar) and `train/loss_step`.

        The same scalars as `self.log(loss, on_epoch=True)` and `self.log(loss, on_step=True)` on every
        step, at a fraction of the cost (each `self.log` call is about 1 ms of Lightning bookkeeping): the
        epoch mean is summed here as Lightning sums it (loss x batch size, in float32, in order) and logged
        once, on the epoch's last batch, so that callbacks read it when the epoch ends; the step value is
        logged only on the steps Lightning writes to the logger (every `trainer.log_every_n_steps`).
        """
        value = loss.item()  # one read (a sync on a GPU, as any NaN check) for the check and the mean
        self.check_finite(value)
        dtype = np.float64 if loss.dtype == torch.float64 else np.float32
        term = dtype(value) * dtype(batch_size)
        self._loss_sum = term if self._loss_sum is None else self._loss_sum + term
        self._loss_count += batch_size
        trainer = self.trainer
        if logger_writes_this_step(trainer) or trainer.fast_dev_run:
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, batch_size=batch_size)
        if batch_idx + 1 == trainer.num_training_batches:
            self._log_epoch_loss()

    def _log_epoch_loss(self) -> None:
        if self._loss_sum is not None:
            mean = self._loss_sum / self._loss_sum.dtype.type(self._loss_count)
            self.log("train/loss", torch.tensor(mean), on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
        self._loss_sum, self._loss_count = None, 0

    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._loss_count = None, 0

    def on_train_epoch_end(self) -> None:
        self._log_epoch_loss()  # only for an epoch cut short before its last batch

    def check_finite(self, loss: float) -> None:
        """Stop at the first NaN/inf loss with the step and the usual causes, instead of training on."""
        if not math.isfinite(loss):
            lr = self.optimizer_cfg.lr
            checkpoint = self.trainer.checkpoint_callback
            last = Path(checkpoint.dirpath) / "last.ckpt" if checkpoint is not None and checkpoint.dirpath else None
            kept = str(last) if last is not None and last.is_file() else ""
            raise UserError(
                f"loss became {loss} at step {self.global_step} (optimizer.lr={lr:g}); "
                "lower optimizer.lr or keep trainer.gradient_clip_val set (default 1.0)"
                + (f"; the last good checkpoint is {kept}" if kept else "")
            )
