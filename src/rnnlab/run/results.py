"""What a finished run leaves behind: metrics.json, figures, hparams with final metrics, a summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger
from rich.console import Console
from rich.table import Table

from rnnlab.figures import line_figure, save_figure
from rnnlab.run.board import shown_hparams
from rnnlab.run.callbacks import LastCheckpoint, MetricHistory, ThroughputMeter
from rnnlab.tasks.base import RecurrentTask


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(temporary, path)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"cell": "lstm"}} -> {"model.cell": "lstm"}; values TensorBoard's HPARAMS tab accepts."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


def learning_curves(history: list[dict[str, float]]) -> dict[str, Any]:
    epochs = [row["epoch"] for row in history]
    losses = {key: (epochs, [row.get(key, float("nan")) for row in history]) for key in ("train/loss", "val/loss")}
    return {"learning_curves": line_figure("Learning curves", "epoch", "loss", losses, log_y=True)}


def best_epoch(history: list[dict[str, float]], monitor: str, mode: str) -> dict[str, float]:
    """The history row where the monitored metric was best (the best checkpoint's epoch)."""
    scored = [row for row in history if monitor in row]
    if not scored:
        return history[-1] if history else {}
    pick = max if mode == "max" else min
    return pick(scored, key=lambda row: row[monitor])


def collect_results(
    trainer: pl.Trainer, task: RecurrentTask, test_metrics: dict[str, float], wall_time: float
) -> dict[str, Any]:
    history = next(c for c in trainer.callbacks if isinstance(c, MetricHistory)).epochs
    meter = next(c for c in trainer.callbacks if isinstance(c, ThroughputMeter))
    checkpoint = trainer.checkpoint_callback
    best = best_epoch(history, task.monitor, task.mode)
    return {
        "status": "ok",
        "task": task.spec.task,
        "monitor": task.monitor,
        "best_epoch": best.get("epoch"),
        "epochs_trained": len(history),
        "metrics": {**{k: v for k, v in best.items() if k != "epoch"}, **test_metrics},
        "params": sum(p.numel() for p in task.parameters()),
        "wall_time_s": round(wall_time, 2),
        "train_samples_per_s": round(meter.samples_per_second, 1),
        "checkpoints": {"best": checkpoint.best_model_path or None, "last": last_saved(trainer)}
        if checkpoint is not None else {},
        "report": task.test_report,
        "history": history,
    }


def last_saved(trainer: pl.Trainer) -> str | None:
    """The path of checkpoints/last.ckpt when this fit wrote it (callbacks.save_last)."""
    return next((str(c.path) for c in trainer.callbacks if isinstance(c, LastCheckpoint) and c.path.is_file()), None)


def write_results(run_dir: Path, trainer: pl.Trainer, task: RecurrentTask, results: dict[str, Any],
                  config: dict[str, Any], hparam_keys: tuple[str, ...]) -> None:
    """metrics.json, figures/*.png (also in TensorBoard), and hparams with the final metrics."""
    figures = {**learning_curves(results["history"]), **task.test_figures}
    tensorboard = trainer.logger if isinstance(trainer.logger, TensorBoardLogger) else None
    for name, figure in figures.items():
        if tensorboard is not None:
            tensorboard.experiment.add_figure(f"figures/{name}", figure, close=False)
        save_figure(figure, run_dir / "figures" / f"{name}.png")
    if tensorboard is not None:
        # own tags for the HPARAMS tab: Lightning writes them at step 0, which must not join the val/test curves
        final = {f"hparams/{k}": v for k, v in results["metrics"].items() if k.startswith(("test/", "val/"))}
        tensorboard.log_hyperparams(shown_hparams(flatten(config), hparam_keys, task.spec.task), metrics=final)
        tensorboard.finalize("success")
        results["tensorboard"] = tensorboard.log_dir
    for name, text in task.test_files.items():
        (run_dir / name).write_text(text)
    write_json_atomic(run_dir / "metrics.json", results)


def print_summary(run_dir: Path, results: dict[str, Any], console: Console | None = None) -> None:
    """The test metrics, baselines and where everything was written."""
    console = console or Console()
    table = Table(title=f"Test metrics (best epoch {results['best_epoch']}, {results['monitor']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results["metrics"].items():
        if key.startswith("test/"):
            table.add_row(key, f"{value:.4f}")
    console.print(table)
    if results.get("report", {}).get("table"):  # the task's per-class table, as plain text
        console.print(results["report"]["table"], markup=False, highlight=False, soft_wrap=True)
    if results.get("report", {}).get("verdict"):  # the task's own word on how it compares with its baselines
        console.print(results["report"]["verdict"], soft_wrap=True)
    console.print(f"params {results['params']:,} · wall time {results['wall_time_s']:.1f} s · "
                  f"{results['train_samples_per_s']:.0f} training samples/s")
    board = results.get("tensorboard")
    shown = (("run folder", run_dir, run_dir), ("metrics", run_dir / "metrics.json", run_dir / "metrics.json"),
             ("checkpoints", run_dir / "checkpoints", run_dir / "checkpoints"),
             ("figures", run_dir / "figures", run_dir / "figures"),
             ("tensorboard", f"tensorboard --logdir {board}", Path(board) if board else None))
    for label, text, made in shown:  # only what the run wrote; unwrapped, so a path copies whole
        if made is not None and made.exists():
            console.print(f"{label:>12}: {text}", soft_wrap=True, highlight=False)
