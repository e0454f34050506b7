"""One run: seed -> data -> task -> fit -> test on the best checkpoint -> write results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from rnnlab.build import build_data, build_task, build_trainer
from rnnlab.config import Config
from rnnlab.results import collect_results, print_summary, write_results


def run(cfg: Config, run_dir: Path, config_tree: dict[str, Any]) -> dict[str, Any]:
    """Train and test one configuration; returns what metrics.json holds."""
    started = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    data = build_data(cfg)
    task = build_task(cfg, data.spec)
    trainer = build_trainer(cfg, task, run_dir)
    trainer.fit(task, datamodule=data)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    test_metrics = trainer.test(task, datamodule=data, ckpt_path=best or None, verbose=False)[0]
    results = collect_results(trainer, task, test_metrics, time.perf_counter() - started)
    write_results(run_dir, trainer, task, results, config_tree)
    print_summary(run_dir, results)
    return results
