"""`python -m rnnlab`: Hydra composes the config, we validate it and run; user mistakes print one line."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rnnlab.errors import UserError
from rnnlab.run.config import register_schemas, to_config
from rnnlab.run.preflight import preflight
from rnnlab.run.resume import expand_resume

log = logging.getLogger("rnnlab")


def discard_unstarted_run(run_dir: Path) -> None:
    """Remove a run folder that holds nothing but Hydra's config and log: no result should look finished."""
    leftovers = {path.name for path in run_dir.iterdir()} - {".hydra"} if run_dir.is_dir() else set()
    if all(name.endswith(".log") for name in leftovers):
        shutil.rmtree(run_dir, ignore_errors=True)


def failed_job_value() -> float | None:
    """What a failed sweep job returns: under an optimising sweeper (Optuna) the worst possible score, so
    the trial is recorded and the search goes on; otherwise nothing."""
    direction = HydraConfig.get().sweeper.get("direction")
    if not isinstance(direction, str):
        return None
    return float("inf") if direction == "minimize" else float("-inf")


def recorded_failure(run_dir: Path, error: str) -> bool:
    metrics = run_dir / "metrics.json"
    return metrics.is_file() and json.loads(metrics.read_text()).get("error") == error


def fail(message: str) -> None:
    print(f"rnnlab: error: {message}", file=sys.stderr)
    sys.exit(2)


@hydra.main(version_base="1.3", config_path="pkg://rnnlab.conf", config_name="config")
def hydra_main(cfg: DictConfig) -> Any:
    from rnnlab.run.train import run  # imported here so that `--help` and config errors stay fast

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    share_cores_with_parallel_jobs(cfg)
    try:
        config = to_config(cfg)
        if config.print_config:
            log.info("config:\n%s", OmegaConf.to_yaml(cfg, resolve=True))
        results = run(config, run_dir, OmegaConf.to_container(cfg, resolve=True), board_of(run_dir))
    except UserError as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:  # one failed job must not end the sweep
            from rnnlab.run.results import write_json_atomic

            log.error("rnnlab: error: %s", error)
            if not recorded_failure(run_dir, str(error)):  # training may have recorded it already, with its history
                write_json_atomic(run_dir / "metrics.json", {"status": "failed", "error": str(error)})
            return failed_job_value()
        discard_unstarted_run(run_dir)
        fail(str(error))
    return results["metrics"].get(results["monitor"])  # what a sweeper optimises: the best validation score


def board_of(run_dir: Path) -> Any:
    """Where this job's TensorBoard events go and which keys its HPARAMS row shows (rnnlab/run/board.py)."""
    from rnnlab.run.board import run_board, sweep_board

    hydra_config = HydraConfig.get()
    overrides = list(hydra_config.overrides.task)
    if hydra_config.mode == RunMode.MULTIRUN:
        return sweep_board(Path(hydra_config.sweep.dir), overrides)
    return run_board(run_dir, overrides)


def share_cores_with_parallel_jobs(cfg: DictConfig) -> None:
    """Under the joblib launcher, give each job cores // n_jobs torch threads unless trainer.num_threads is set."""
    from rnnlab.run.callbacks import threads_per_job  # torch is imported only once a job runs

    launcher = HydraConfig.get().launcher
    if "joblib" in str(launcher.get("_target_", "")) and cfg.trainer.get("num_threads") is None:
        cfg.trainer.num_threads = threads_per_job(int(launcher.n_jobs))


def quiet_library_noise() -> None:
    """Hide warnings that tell a user nothing actionable (in-memory data needs no loader workers; a resumed
    run writes into its own checkpoint folder on purpose; the layer table is ours, run/callbacks.py)."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
    noise = ("litlogger", "Skipping setting a default `ModelSummary`")  # the second: ours replaces it on purpose
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: not any(text in record.getMessage() for text in noise))


def versions() -> str:
    """rnnlab's version and those of the libraries that decide its results."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("rnnlab", "torch", "pytorch-lightning", "hydra-core", "omegaconf", "torchmetrics"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        print(versions())
        return
    quiet_library_noise()
    register_schemas()
    try:
        sys.argv[1:] = expand_resume(sys.argv[1:])
        preflight(sys.argv[1:])
    except UserError as error:
        fail(str(error))
    hydra_main()
