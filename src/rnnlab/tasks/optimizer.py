"""The `optimizer:` section: which optimizer, its learning rate and schedule."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, choice
from rnnlab.errors import UserError

OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("plateau", "onecycle", "cosine", "none")


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    beta2: float = 0.999
    scheduler: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    warmup_fraction: float = 0.3
    min_lr_fraction: float = 0.1
    fused: bool = True
    average_from: int | None = None

    def check(self) -> None:
        choice("optimizer.name", self.name, OPTIMIZERS)
        if not self.lr > 0:
            raise UserError(f"optimizer.lr={self.lr} is not valid; use a learning rate > 0")
        at_least("optimizer.weight_decay", self.weight_decay, 0.0)
        if not 0 <= self.beta2 < 1:
            raise UserError(f"optimizer.beta2={self.beta2} is not valid; use a value in [0, 1)")
        choice("optimizer.scheduler", self.scheduler, SCHEDULERS)
        if not 0 < self.plateau_factor < 1:
            raise UserError(f"optimizer.plateau_factor={self.plateau_factor} is not valid; use a value in (0, 1)")
        at_least("optimizer.plateau_patience", self.plateau_patience, 0)
        if not 0 <= self.warmup_fraction < 1 or (self.scheduler == "onecycle" and self.warmup_fraction == 0):
            raise UserError(f"optimizer.warmup_fraction={self.warmup_fraction} is not valid; use a value in "
                            f"{'(0, 1) with onecycle' if self.scheduler == 'onecycle' else '[0, 1)'}")
        if self.average_from is not None:
            at_least("optimizer.average_from", self.average_from, 0)
        if not 0 <= self.min_lr_fraction <= 1:
            raise UserError(f"optimizer.min_lr_fraction={self.min_lr_fraction} is not valid; use a value in [0, 1]")
