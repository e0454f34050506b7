"""Where a run's TensorBoard events go and what its HPARAMS row shows, so that a sweep reads well in TensorBoard.

A single run writes into `<run>/tensorboard`. A sweep's jobs write into `<sweep>/tensorboard/<variant>`, the
variant named by the overrides that differ across the sweep (`model=gru,seed=1`), so `tensorboard --logdir
<sweep>` lists runs by what they are instead of `0/tensorboard`, `1/tensorboard`. The HPARAMS row holds those
varying keys first and the few that define any run (the task, the cell and its size, the seed), not all ~95
keys of the config, and the scalars leave out Lightning's `epoch` counter (the x axis already says it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pytorch_lightning.loggers import TensorBoardLogger

from rnnlab.private_apis import expand_sweep

DEFINING = ("model.cell", "model.hidden_size", "model.num_layers", "model.bidirectional", "seed")


@dataclass(frozen=True)
class Board:
    folder: Path  # the TensorBoard log folder of this run
    keys: tuple[str, ...]  # config keys shown in the HPARAMS row, in this order


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def varying_keys(sweep: Path, job_overrides: list[str]) -> list[str]:
    """The keys whose values differ between the sweep's jobs, from its multirun.yaml (an Optuna search, which
    writes none, varies every key it sets per trial). Kept in `<sweep>/tensorboard/varying.yaml` by the first
    job: a re-run of failed jobs rewrites multirun.yaml with its own few jobs, and must name them the same."""
    kept = sweep / "tensorboard" / "varying.yaml"
    if kept.is_file():
        return list(yaml.safe_load(kept.read_text()) or [])
    multirun = sweep / "multirun.yaml"
    if multirun.is_file():
        values: dict[str, set[str]] = {}
        for job in expand_sweep(yaml.safe_load(multirun.read_text())["hydra"]["overrides"]["task"]):
            for item in job:
                values.setdefault(_key(item), set()).add(item.partition("=")[2])
        varying = [key for key, seen in values.items() if len(seen) > 1]
    else:
        varying = [_key(item) for item in job_overrides]
    kept.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(kept, "x") as handle:  # parallel jobs compute the same list; the first one writes it
            yaml.safe_dump(varying, handle)
    except FileExistsError:
        pass
    return varying


def sweep_board(sweep: Path, job_overrides: list[str]) -> Board:
    """A sweep job's board: named by its varying overrides, in the sweep's shared tensorboard folder."""
    varying = varying_keys(sweep, job_overrides)
    label = ",".join(item.lstrip("+~") for item in job_overrides if _key(item) in varying) or "base"
    name = label.replace("/", "∕")  # a value holding a path must not nest folders
    return Board(sweep / "tensorboard" / name, tuple(dict.fromkeys([*varying, "data", *DEFINING])))


def run_board(run_dir: Path, overrides: list[str]) -> Board:
    return Board(run_dir / "tensorboard", tuple(dict.fromkeys([*map(_key, overrides), "data", *DEFINING])))


def shown_hparams(flat: dict[str, Any], keys: tuple[str, ...], task: str) -> dict[str, Any]:
    """The HPARAMS row: `keys` in order (`data` is the task's name), those the config has."""
    values = {**flat, "data": task}
    return {key: values[key] for key in keys if key in values}


class BoardLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger without the `epoch` scalar it adds to every write (it would be the first
    card of the scalars tab, before any loss)."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step)
