"""Turn the typed config into the objects of a run: data, task, trainer (with logger and callbacks)."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)
from pytorch_lightning.loggers import CSVLogger, Logger

from rnnlab.run.board import Board, BoardLogger, run_board
from rnnlab.run.callbacks import (
    LastCheckpoint,
    MetricHistory,
    ParameterSummary,
    RandomState,
    ThroughputMeter,
    TorchSettings,
    WeightAveraging,
)
from rnnlab.run.config import Config
from rnnlab.run.interruptions import StopRecorder
from rnnlab.run.profiling import Unprofiled, build_profiler
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.registry import get_task, task_of_schema


def build_data(cfg: Config) -> pl.LightningDataModule:
    """The dataset's LightningDataModule, set up so that `data.spec` is known."""
    data = task_of_schema(cfg.data).datamodule_class()(cfg.data, cfg.seed)
    data.setup("fit")
    return data


def build_task(cfg: Config, spec: object) -> RecurrentTask:
    """The LightningModule the dataset's task calls for, wrapping the configured encoder."""
    task = get_task(spec.task)
    sections = {name: getattr(cfg, name) for name in task.sections}
    return task.module_class()(cfg.model, cfg.optimizer, spec, cfg.callbacks.monitor, cfg.callbacks.mode, **sections)


def build_logger(cfg: Config, run_dir: Path, board: Board | None = None) -> Logger | bool:
    if cfg.logger.kind == "tensorboard":
        folder = (board or run_board(run_dir, [])).folder
        return BoardLogger(save_dir=folder.parent, name=folder.name, version="", default_hp_metric=False)
    if cfg.logger.kind == "csv":
        return CSVLogger(save_dir=run_dir, name="csv", version="")
    return False


def build_callbacks(cfg: Config, task: RecurrentTask, run_dir: Path) -> list[Callback]:
    c = cfg.callbacks
    callbacks: list[Callback] = [
        TorchSettings(cfg.trainer.flush_denormal, cfg.trainer.num_threads, cfg.trainer.reuse_memory,
                      cfg.trainer.single_thread_below),
        MetricHistory(),
        ThroughputMeter(c.throughput_warmup_batches),
        RandomState(),
        StopRecorder(run_dir),
        # written when each epoch ends, after its history row: the point a resumed run continues from
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints", filename="best", monitor=task.monitor, mode=task.mode,
            save_last=False, enable_version_counter=False, auto_insert_metric_name=False,
            save_on_train_epoch_end=True,
        ),
    ]
    if c.save_last:
        callbacks.append(LastCheckpoint(run_dir / "checkpoints" / "last.ckpt"))
    if cfg.optimizer.average_from is not None:
        callbacks.append(WeightAveraging(cfg.optimizer.average_from))
    if c.early_stopping:
        callbacks.append(EarlyStopping(monitor=task.monitor, mode=task.mode, patience=c.patience,
                                       min_delta=c.min_delta))
    if c.lr_monitor and cfg.logger.kind != "none":
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    if c.progress_bar != "none":
        callbacks.append(ParameterSummary())
    if c.progress_bar == "rich":
        callbacks.append(RichProgressBar(refresh_rate=c.progress_bar_refresh_rate, leave=True))
    elif c.progress_bar == "tqdm":
        callbacks.append(TQDMProgressBar())
    return callbacks


def resolve_precision(accelerator: str, precision: str) -> str:
    """bf16 where the device has it; GPUs without bf16 fall back to fp16 mixed precision."""
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if precision == "bf16-mixed" and on_gpu and not torch.cuda.is_bf16_supported():
        return "16-mixed"
    return precision


def build_trainer(cfg: Config, task: RecurrentTask, run_dir: Path, board: Board | None = None) -> pl.Trainer:
    t = cfg.trainer
    return pl.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
        precision=resolve_precision(t.accelerator, t.precision),
        max_epochs=t.max_epochs, min_epochs=t.min_epochs, max_time=t.max_time, gradient_clip_val=t.gradient_clip_val,
        deterministic=t.deterministic, benchmark=t.benchmark, log_every_n_steps=t.log_every_n_steps,
        check_val_every_n_epoch=t.check_val_every_n_epoch, num_sanity_val_steps=t.num_sanity_val_steps,
        limit_train_batches=t.limit_train_batches, limit_val_batches=t.limit_val_batches,
        limit_test_batches=t.limit_test_batches, overfit_batches=t.overfit_batches, fast_dev_run=t.fast_dev_run,
        logger=build_logger(cfg, run_dir, board), callbacks=build_callbacks(cfg, task, run_dir),
        default_root_dir=run_dir, enable_progress_bar=cfg.callbacks.progress_bar != "none",
        enable_model_summary=cfg.callbacks.progress_bar != "none", profiler=build_profiler(t.profiler, run_dir),
    )


def build_tester(cfg: Config) -> pl.Trainer:
    """A one-device trainer for the test pass after a multi-process fit: every test sample scored once, in order."""
    t = cfg.trainer
    return pl.Trainer(
        accelerator=t.accelerator, devices=1, precision=resolve_precision(t.accelerator, t.precision),
        limit_test_batches=t.limit_test_batches, fast_dev_run=t.fast_dev_run, logger=False,
        callbacks=[TorchSettings(t.flush_denormal, t.num_threads, t.reuse_memory, t.single_thread_below)],
        enable_progress_bar=False,
        enable_model_summary=False, profiler=Unprofiled(),
    )
