"""Shared helpers: compose a config as the CLI would, run rnnlab in-process or as a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnlab.run.config import Config, register_schemas, to_config

QUIET = ["print_config=false", "callbacks.progress_bar=none"]


def compose_config(log_dir: Path, *overrides: str) -> tuple[Config, DictConfig]:
    """The typed config `python -m rnnlab <overrides>` would run, with logs under `log_dir`."""
    register_schemas()
    with initialize_config_module(version_base="1.3", config_module="rnnlab.conf"):
        cfg = compose("config", overrides=[*QUIET, f"paths.log_dir={log_dir}", *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return to_config(cfg), cfg


def run_in_process(tmp_path: Path, *overrides: str) -> tuple[dict, Path]:
    """Train and test like the CLI, in this process (no start-up cost); returns metrics and run folder."""
    from rnnlab.run.train import run

    config, cfg = compose_config(tmp_path, *overrides)
    run_dir = tmp_path / "run"
    return run(config, run_dir, OmegaConf.to_container(cfg, resolve=True)), run_dir


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m rnnlab <args>` as a user types it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "rnnlab", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def cli(tmp_path: Path):
    def invoke(*args: str) -> subprocess.CompletedProcess:
        return run_cli(*args, *QUIET, f"paths.log_dir={tmp_path / 'logs'}", cwd=tmp_path)

    return invoke


def forecast_data(**fields):
    """The forecasting data module (`StockData`) for these `data:` fields, set up, seed 0."""
    from rnnlab.tasks.forecast.data import StockData
    from rnnlab.tasks.forecast.schema import StockDataConfig

    data = StockData(StockDataConfig(**fields), seed=0)
    data.setup()
    return data
