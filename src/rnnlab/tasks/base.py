"""What every task shares: the optimizer and scheduler from config, the monitored metric, NaN guard."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure
from torch import Tensor

from rnnlab.checkpoints import stamp
from rnnlab.config import ModelConfig, OptimizerConfig
from rnnlab.errors import UserError

HIGHER_IS_BETTER = ("acc", "f1", "auroc", "precision", "recall", "bleu", "match")

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


class RecurrentTask(pl.LightningModule):
    """Base LightningModule; subclasses set `default_monitor` and the steps."""

    default_monitor = "val/loss"

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
        self.monitor = monitor or self.default_monitor
        self.test_report: dict[str, Any] = {}  # extra results for metrics.json, filled by the test loop
        self.test_figures: dict[str, Figure] = {}  # figures of the test loop, saved as figures/<name>.png
        self.test_files: dict[str, str] = {}  # text reports of the test loop, saved beside metrics.json
        self.mode = mode or ("max" if any(word in self.monitor for word in HIGHER_IS_BETTER) else "min")

    def configure_optimizers(self) -> Any:
        cfg = self.optimizer_cfg
        optimizer = OPTIMIZERS[cfg.name](self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.scheduler == "none":
            return optimizer
        if cfg.scheduler == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=cfg.lr, total_steps=int(self.trainer.estimated_stepping_batches),
                pct_start=cfg.warmup_fraction,
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=self.mode, factor=cfg.plateau_factor, patience=cfg.plateau_patience
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        stamp(checkpoint)

    def check_finite(self, loss: Tensor) -> None:
        """Stop at the first NaN/inf loss with the step and the usual causes, instead of training on."""
        if not torch.isfinite(loss):
            lr = self.optimizer_cfg.lr
            checkpoint = self.trainer.checkpoint_callback
            kept = checkpoint.last_model_path if checkpoint is not None else ""
            raise UserError(
                f"loss became {loss.item()} at step {self.global_step} (optimizer.lr={lr:g}); "
                "lower optimizer.lr or keep trainer.gradient_clip_val set (default 1.0)"
                + (f"; the last good checkpoint is {kept}" if kept else "")
            )
