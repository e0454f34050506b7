"""One run: seed -> data -> task -> fit (continuing from last.ckpt) -> test on the best checkpoint -> results."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from rnnlab.errors import UserError
from rnnlab.run.board import Board, run_board
from rnnlab.run.build import build_data, build_task, build_tester, build_trainer
from rnnlab.run.config import Config
from rnnlab.run.interruptions import INTERRUPTIONS, last_checkpoint
from rnnlab.run.results import collect_results, last_saved, print_summary, write_results
from rnnlab.tasks.checkpoints import read_checkpoint

log = logging.getLogger("rnnlab")


def check_continuable(run_dir: Path, checkpoint: dict[str, Any], max_epochs: int) -> None:
    """Refuse to continue a run that has finished (a sweep re-run into its own folder would otherwise train on
    from its last epoch) or that trained more epochs than `trainer.max_epochs` now allows."""
    metrics = run_dir / "metrics.json"
    if metrics.is_file() and json.loads(metrics.read_text()).get("status") == "ok":
        raise UserError(f"{run_dir} holds a finished run (results in {metrics}); give a new folder "
                        "(hydra.run.dir=, or hydra.sweep.dir= for a sweep) or delete that one to run again")
    if checkpoint.get("epoch", 0) > max_epochs:
        raise UserError(f"{run_dir}/checkpoints/last.ckpt has trained {checkpoint['epoch'] + 1} epochs, more than "
                        f"trainer.max_epochs={max_epochs}; raise trainer.max_epochs to continue it, or delete the "
                        "folder to start again")


def run(cfg: Config, run_dir: Path, config_tree: dict[str, Any], board: Board | None = None) -> dict[str, Any]:
    """Train and test one configuration; returns what metrics.json holds.

    A run folder that already holds `checkpoints/last.ckpt` (an interrupted run, re-run in its folder or
    with `resume=`) continues from it: weights, optimizer, scheduler, early stopping, random generators,
    metric history and the TensorBoard step all pick up where the last finished epoch left them.
    """
    started = time.perf_counter()
    resume_from = last_checkpoint(run_dir)
    if resume_from is not None:
        check_continuable(run_dir, read_checkpoint(resume_from, f"delete it to train {run_dir} from the start"),
                          cfg.trainer.max_epochs)
        log.info("continuing from %s", resume_from)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    data = build_data(cfg)
    task = build_task(cfg, data.spec)
    board = board or run_board(run_dir, [])
    trainer = build_trainer(cfg, task, run_dir, board)
    try:
        trainer.fit(task, datamodule=data, ckpt_path=resume_from, weights_only=True)
    except INTERRUPTIONS:  # SIGTERM: Lightning stops with exit status 0, which would look like success
        sys.exit(128 + signal.SIGTERM)
    if not trainer.is_global_zero:  # the other processes of a multi-process fit only train
        return {"status": "ok", "metrics": {}, "monitor": task.monitor}
    # after a multi-process fit, test on one device: sharded test sets would score some samples twice
    tester = trainer if trainer.world_size == 1 else build_tester(cfg)
    checkpoints = trainer.checkpoint_callback
    tested = last_saved(trainer) if cfg.callbacks.test_checkpoint == "last" else \
        checkpoints.best_model_path if checkpoints is not None else ""
    test_metrics = tester.test(task, datamodule=data, ckpt_path=tested or None, verbose=False, weights_only=True)[0]
    results = collect_results(trainer, task, test_metrics, time.perf_counter() - started)
    write_results(run_dir, trainer, task, results, config_tree, board.keys)
    print_summary(run_dir, results)
    return results
