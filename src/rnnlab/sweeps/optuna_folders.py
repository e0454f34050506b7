"""Support for hyperparameter searches (conf/hparams_search/): the Optuna sweeper's storage lives in the
sweep folder, which must exist before the sweeper opens it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rnnlab.private_apis import HydraCallback


class MakeSweepFolder(HydraCallback):
    """Creates the sweep folder when a multirun starts (Hydra's launchers make it only at the first job)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)
