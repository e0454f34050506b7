"""The typed config schema of a run: dataclasses stored in Hydra's ConfigStore.

The sections come from the layers that read them (`model:` and `decode:` from models, `optimizer:` from
tasks, `data:` from the task the dataset names, through the registry); the trainer, callbacks, logger and
paths are the run's own. Hydra checks key names and types while composing (an unknown key or
`trainer.max_epochs=abc` fails before any work); `to_config` then checks choices and ranges, each
section's `check()` raising a one-line `UserError` that names the key and the allowed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from rnnlab.checks import at_least, choice
from rnnlab.errors import UserError
from rnnlab.models.config import DecodeConfig, ModelConfig
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.registry import load_tasks, task_of_schema

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true")
PROFILERS = ("simple", "advanced", "pytorch")  # Lightning's; null profiles nothing
PRECISIONS = ("32-true", "32", "64-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true")


@dataclass
class TrainerConfig:
    """Arguments of Lightning's Trainer, plus the CPU settings applied in every training process."""

    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_epochs: int = 20
    min_epochs: int = 1
    max_time: str | None = None
    gradient_clip_val: float | None = 1.0
    deterministic: bool = False
    benchmark: bool | None = None
    log_every_n_steps: int = 10
    check_val_every_n_epoch: int = 1
    num_sanity_val_steps: int = 2
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    overfit_batches: Any = 0.0
    fast_dev_run: Any = False
    flush_denormal: bool = True
    num_threads: int | None = None
    single_thread_below: int = 50_000
    reuse_memory: bool = True
    profiler: str | None = None

    def check(self) -> None:
        choice("trainer.accelerator", self.accelerator, ACCELERATORS)
        choice("trainer.strategy", self.strategy, STRATEGIES)
        choice("trainer.precision", str(self.precision), PRECISIONS)
        if self.profiler is not None:
            choice("trainer.profiler", self.profiler, PROFILERS)
        at_least("trainer.max_epochs", self.max_epochs, 1)
        at_least("trainer.min_epochs", self.min_epochs, 0)
        if self.max_time is not None and not re.fullmatch(r"\d{2}:\d{2}:\d{2}:\d{2}", str(self.max_time)):
            raise UserError(f"trainer.max_time={self.max_time!r} is not valid; give DD:HH:MM:SS, e.g. 00:00:30:00")
        if self.gradient_clip_val is not None:
            at_least("trainer.gradient_clip_val", self.gradient_clip_val, 0.0)
        if self.num_threads is not None:
            at_least("trainer.num_threads", self.num_threads, 1)
        at_least("trainer.single_thread_below", self.single_thread_below, 0)
        for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches", "overfit_batches"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise UserError(f"trainer.{key}={value!r} is not valid; give a fraction (0.25) or a batch count (10)")


PROGRESS_BARS = ("rich", "tqdm", "none")


@dataclass
class CallbacksConfig:
    """Checkpointing, early stopping and what is shown while training."""

    monitor: str | None = None
    mode: str | None = None
    save_last: bool = True
    test_checkpoint: str = "best"
    early_stopping: bool = True
    patience: int = 5
    min_delta: float = 0.0
    lr_monitor: bool = True
    progress_bar: str = "rich"
    progress_bar_refresh_rate: int = 10
    throughput_warmup_batches: int = 2

    def check(self) -> None:
        if self.mode is not None:
            choice("callbacks.mode", self.mode, ("min", "max"))
        at_least("callbacks.patience", self.patience, 1)
        choice("callbacks.test_checkpoint", self.test_checkpoint, ("best", "last"))
        if self.test_checkpoint == "last" and not self.save_last:
            raise UserError("callbacks.test_checkpoint=last tests checkpoints/last.ckpt, which callbacks.save_last="
                            "false does not keep; set callbacks.save_last=true or callbacks.test_checkpoint=best")
        choice("callbacks.progress_bar", self.progress_bar, PROGRESS_BARS)
        at_least("callbacks.progress_bar_refresh_rate", self.progress_bar_refresh_rate, 1)
        at_least("callbacks.throughput_warmup_batches", self.throughput_warmup_batches, 0)


LOGGERS = ("tensorboard", "csv", "none")


@dataclass
class LoggerConfig:
    kind: str = "tensorboard"

    def check(self) -> None:
        choice("logger.kind", self.kind, LOGGERS)


@dataclass
class PathsConfig:
    log_dir: str = "logs"
    min_free_mb: int = 100

    def check(self) -> None:
        at_least("paths.min_free_mb", self.min_free_mb, 0)


@dataclass
class Config:
    data: Any = MISSING
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    task_name: str = MISSING
    seed: int = 0
    resume: str | None = None
    tags: list[str] = field(default_factory=list)
    print_config: bool = False


def register_schemas() -> None:
    """Store the schemas where the YAML files name them: the run's (`rnnlab_schema`) and each task's data
    section (`defaults: [/schema/data/<task>@_here_]`, stored when the registry loads the task)."""
    ConfigStore.instance().store(name="rnnlab_schema", node=Config)
    load_tasks()


def section_schemas() -> dict[str, type]:
    """Every section's dataclass by class name (the run's, the plain models', every task's data section)."""
    sections = [Config, *(hint for hint in get_type_hints(Config).values() if is_dataclass(hint))]
    return {node.__name__: node for node in [*sections, *(task.schema for task in load_tasks().values())]}


def check_keys(cfg: DictConfig, schema: type = Config, prefix: str = "") -> None:
    """Refuse keys the schema does not have, at any depth: Hydra lets `+model.hiden_size=5` add one to a
    typed section, and the run would train with the misspelled key ignored."""
    known = [item.name for item in fields(schema)]
    unknown = sorted(set(cfg.keys()) - set(known))
    if unknown:
        where = f"{prefix.rstrip('.')} has" if prefix else "the top level has"
        raise UserError(f"'{prefix}{unknown[0]}' is not a config key; {where}: {', '.join(known)} "
                        "(python -m rnnlab --cfg job shows them all)")
    for name in known:
        node = cfg.get(name)
        section = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
        if section is not None and is_dataclass(section):
            check_keys(node, section, f"{prefix}{name}.")


def to_config(cfg: DictConfig) -> Config:
    """Turn Hydra's composed config into typed dataclasses and check every section."""
    check_keys(cfg)
    config = OmegaConf.to_object(cfg)
    assert isinstance(config, Config) and is_dataclass(config.data), "config composed without its schema"
    for item in fields(config):
        section = getattr(config, item.name)
        if hasattr(section, "check"):
            section.check()
    task = task_of_schema(config.data)
    if task.check_model is not None:
        task.check_model(config.model)
    return config
