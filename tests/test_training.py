"""Runs on the stock series: every architecture trains, the LSTM learns, a run leaves its results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import run_cli, run_in_process

CONF_MODELS = sorted(path.stem for path in (Path(__file__).parents[1] / "conf" / "model").glob("*.yaml"))
SHORT = ["debug=limit", "logger=none"]


@pytest.mark.parametrize("model", CONF_MODELS)
def test_every_model_config_trains_and_tests_on_stock(tmp_path, model):
    results, run_dir = run_in_process(tmp_path, "data=stock", f"model={model}", *SHORT)
    assert results["status"] == "ok" and results["epochs_trained"] == 2
    assert results["params"] > 0 and results["train_samples_per_s"] > 0
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert 0 < results["metrics"]["test/rmse"] < 10


def test_lstm_beats_naive_and_drift_and_nears_the_noise_floor_on_the_sine(tmp_path):
    results, _ = run_in_process(tmp_path, "model=lstm", "logger=none", "seed=0")
    metrics = results["metrics"]
    assert metrics["test/rmse"] < metrics["test/naive_rmse"]
    assert metrics["test/rmse"] < metrics["test/drift_rmse"]
    assert metrics["test/rmse_over_noise_floor"] <= 1.2
    floor, ratio = metrics["test/noise_floor_rmse"], metrics["test/rmse_over_noise_floor"]
    assert metrics["test/rmse"] == pytest.approx(floor * ratio)


def test_metrics_json_holds_final_metrics_baselines_and_costs(tmp_path):
    results, run_dir = run_in_process(tmp_path, *SHORT, "data.rollout_steps=7")
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(results, default=str))
    for key in ("test/mae", "test/rmse", "test/mase", "test/naive_rmse", "test/drift_rmse", "test/linear_rmse",
                "test/noise_floor_rmse", "val/loss", "val/rmse", "train/loss"):
        assert isinstance(saved["metrics"][key], float), key
    for key in ("params", "wall_time_s", "train_samples_per_s", "best_epoch", "history", "checkpoints"):
        assert key in saved
    assert [row["epoch"] for row in saved["history"]] == [0, 1]
    rollout = saved["report"]["rollout"]
    assert len(rollout["model_rmse"]) == len(rollout["naive_rmse"]) == 7
    assert {p.name for p in (run_dir / "figures").iterdir()} == {
        "learning_curves.png", "forecast_vs_actual.png", "rollout_error.png"}


def test_tensorboard_holds_scalars_figures_and_hparams_with_final_metrics(tmp_path):
    results, run_dir = run_in_process(tmp_path, "debug=limit", "logger=tensorboard")
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/loss_step", "val/loss", "val/rmse", "test/rmse", "test/naive_rmse"} <= scalars
    assert [e.step for e in events.Scalars("train/loss")] and len(events.Scalars("val/loss")) == 2
    assert events.Scalars("test/rmse")[-1].value == pytest.approx(results["metrics"]["test/rmse"], rel=1e-5)
    assert {"figures/learning_curves", "figures/forecast_vs_actual"} <= set(events.Tags()["images"])
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in plugins
    assert b"model.cell" in plugins["_hparams_/session_start_info"]
    assert b"hparams/test/rmse" in plugins["_hparams_/experiment"]
    assert events.Scalars("hparams/test/rmse")[0].value == pytest.approx(results["metrics"]["test/rmse"], rel=1e-5)


def test_fast_dev_run_checks_the_pipeline_without_checkpoints(tmp_path):
    results, run_dir = run_in_process(tmp_path, "debug=fast_dev_run")
    assert results["status"] == "ok" and "test/rmse" in results["metrics"]
    assert not list(run_dir.rglob("*.ckpt")) and results["checkpoints"]["best"] is None


def test_make_run_command_prints_metrics_baselines_and_where_things_are(cli, tmp_path):
    result = cli("debug=limit")
    assert result.returncode == 0, result.stderr
    run_dirs = list((tmp_path / "logs" / "stock" / "runs").iterdir())
    assert len(run_dirs) == 1
    run_dir = run_dirs[0]
    for text in ("test/rmse", "test/naive_rmse", "test/noise_floor_rmse", "metrics.json", "checkpoints",
                 "figures", "tensorboard --logdir"):
        assert text in result.stdout, text
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / ".hydra" / "overrides.yaml").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_a_run_shows_its_layers_without_the_flops_lightning_cannot_count(tmp_path):
    result = run_cli("debug=limit", "callbacks.progress_bar=rich", "print_config=false", f"paths.log_dir={tmp_path}",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "RecurrentEncoder" in result.stdout and "Trainable params" in result.stdout
    printed = result.stdout + result.stderr
    assert "FLOP" not in printed and "Skipping setting a default" not in printed


def test_fast_dev_run_prints_no_path_it_did_not_create_and_no_config(tmp_path):
    result = run_cli("debug=fast_dev_run", f"paths.log_dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run folder: " in result.stdout and "metrics: " in result.stdout
    assert "checkpoints: " not in result.stdout and "tensorboard --logdir" not in result.stdout
    assert "hidden_size:" not in result.stdout  # the composed config is printed only with print_config=true


def test_version_names_rnnlab_and_the_libraries_behind_its_numbers(tmp_path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("rnnlab ")
    assert all(name in result.stdout for name in ("torch ", "pytorch-lightning ", "hydra-core "))


def test_multi_step_horizon_on_a_user_csv(tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text("day,close\n" + "".join(f"{i},{100 + 10 * __import__('math').sin(i / 9)}\n" for i in range(400)))
    results, _ = run_in_process(tmp_path, f"data.csv_path={prices}", "data.column=close", "data.horizon=3", *SHORT)
    metrics = results["metrics"]
    assert {"test/rmse", "test/naive_rmse", "test/linear_rmse"} <= set(metrics)
    assert "test/noise_floor_rmse" not in metrics  # a user's series has no known clean signal
    assert metrics["test/linear_rmse"] < metrics["test/naive_rmse"]  # a smooth curve: the slope helps


def test_overfit_preset_drives_the_training_loss_down(tmp_path):
    results, _ = run_in_process(tmp_path, "debug=overfit", "trainer.max_epochs=40", "logger=none")
    losses = [row["train/loss"] for row in results["history"]]
    assert losses[-1] < 0.2 * losses[0]


def test_on_a_random_walk_a_relative_model_ties_the_naive_forecast(tmp_path):
    # seed 2's test part leaves the training range: a model of levels misses by 7x, one of changes ties
    results, _ = run_in_process(tmp_path, "experiment=stock_random_walk", "seed=2", "logger=none")
    metrics = results["metrics"]
    assert metrics["test/rmse"] < 1.05 * metrics["test/naive_rmse"]
