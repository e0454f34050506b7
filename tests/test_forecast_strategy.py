"""Several steps ahead, two ways (data.strategy): direct (one output per step) and recursive (one step, fed back),
scored on the same test windows and steps."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import compose_config, forecast_data, run_in_process
from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.run.forecast import main as forecast_main
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.tasks.forecast.baselines import naive_forecast
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.task import ForecastTask
from rnnlab.tasks.optimizer import OptimizerConfig

MONTHS = 240
T = np.arange(MONTHS)
SEASONAL = 100 + 20 * np.sin(2 * np.pi * T / 12) + 0.2 * np.random.default_rng(0).normal(size=MONTHS)  # little noise
SEQ_LEN, HORIZON = 24, 3
TINY = ("model.hidden_size=8", "trainer.max_epochs=2", "trainer.num_threads=1", "logger=none")


def write_monthly(path: Path, values: np.ndarray) -> str:
    rows = "".join(f"{1960 + i // 12}-{i % 12 + 1:02d}-01,{value:.4f}\n" for i, value in enumerate(values))
    path.write_text(f"Month,Sales\n{rows}")
    return str(path)



@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """A tiny model of each strategy on the seasonal series, 3 steps ahead (auto: seasonal differences)."""
    root = tmp_path_factory.mktemp("strategy")
    path = write_monthly(root / "sales.csv", SEASONAL)
    found = {}
    for strategy in ("direct", "recursive"):
        folder = root / strategy
        folder.mkdir()
        found[strategy] = run_in_process(folder, f"data.csv_path={path}", f"data.seq_len={SEQ_LEN}",
                                         f"data.horizon={HORIZON}", f"data.strategy={strategy}", *TINY)
    return found


def test_both_strategies_forecast_every_test_window_the_same_steps_ahead_beside_the_same_baselines(runs):
    direct, recursive = runs["direct"][0], runs["recursive"][0]
    for results, run_dir in runs.values():
        per_step = results["report"]["per_step"]
        assert len(per_step["model_rmse"]) == len(per_step["seasonal_naive_rmse"]) == HORIZON
        assert (run_dir / "figures" / "error_per_step.png").is_file()
        module = load_task(load_checkpoint(run_dir / "checkpoints" / "best.ckpt"))
        data = forecast_data(**module.spec.data)
        forecast = module.forecast(data.model_inputs(data.windows["test"]))
        assert forecast.shape == (len(data.windows["test"].starts), HORIZON)
    assert recursive["report"]["series"]["scaling"]["chosen"] == "seasonal-differences"
    assert recursive["report"]["series"]["strategy"] == "recursive"
    assert "strategy recursive (one step at a time" in recursive["report"]["verdict"]
    for name in ("naive", "seasonal_naive", "linear", "ets"):  # the baselines do not depend on the strategy
        assert direct["metrics"][f"test/{name}_rmse"] == recursive["metrics"][f"test/{name}_rmse"], name
        assert direct["report"]["per_step"][f"{name}_rmse"] == recursive["report"]["per_step"][f"{name}_rmse"]
    assert direct["params"] - recursive["params"] == 2 * (8 + 1)  # a head of 3 outputs against 1 (hidden size 8)


def test_the_reported_errors_of_a_recursive_run_are_its_checkpoint_fed_its_own_forecasts(runs):
    results, run_dir = runs["recursive"]
    module = load_task(load_checkpoint(run_dir / "checkpoints" / "best.ckpt"))
    assert module.spec.strategy == "recursive" and module.spec.outputs == 1 and module.head.out_features == 1
    data = forecast_data(**module.spec.data)
    errors = {}
    for split in ("val", "test"):
        windows = data.windows[split]
        scaled = torch.as_tensor(module.spec.to_model(windows.inputs), dtype=torch.float32)
        forecast = module.unscale(module.generate(scaled, HORIZON)).double().numpy()  # one step, fed back twice
        errors[split] = (forecast - windows.targets) ** 2
    np.testing.assert_allclose(results["report"]["per_step"]["model_rmse"], np.sqrt(errors["test"].mean(axis=0)),
                               rtol=1e-5)
    assert results["metrics"]["test/rmse"] == pytest.approx(np.sqrt(errors["test"].mean()), rel=1e-5)
    assert results["metrics"]["val/rmse"] == pytest.approx(np.sqrt(errors["val"].mean()), rel=1e-4)  # best epoch


def test_a_recursive_checkpoint_forecasts_any_number_of_steps_one_at_a_time(runs, capsys, tmp_path):
    _, run_dir = runs["recursive"]
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    capsys.readouterr()
    forecast_main([f"ckpt={checkpoint}", "steps=7", f"out={tmp_path}"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("7 steps; the model forecasts 1 at a time, later steps from its own forecasts")
    module = load_task(load_checkpoint(checkpoint))
    window = torch.as_tensor(module.spec.to_model(SEASONAL[None, -SEQ_LEN:]), dtype=torch.float32)
    by_hand = []
    with torch.no_grad():
        for _ in range(7):
            by_hand.append(module(window))
            window = torch.cat([window[:, 1:], by_hand[-1]], dim=1)
    expected = module.unscale(torch.cat(by_hand, dim=1))[0].double().numpy()
    np.testing.assert_allclose([float(line.split()[1]) for line in printed[2:9]], expected, rtol=1e-5)


@pytest.mark.parametrize("scaling", ["levels", "differences", "log-differences", "seasonal-differences", "window"])
def test_a_recursive_forecast_feeds_back_in_the_models_own_scaling(tmp_path, scaling):
    """A model that forecasts no change in its own units (a zero head), fed back: the forecast that scaling
    implies, in original units, on the scored test windows."""
    data = forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL), seq_len=SEQ_LEN, horizon=HORIZON,
                     strategy="recursive", scaling=scaling)
    module = ForecastTask(ModelConfig(hidden_size=4, impl="torch"), OptimizerConfig(), data.spec).eval()
    torch.nn.init.zeros_(module.head.weight)
    torch.nn.init.zeros_(module.head.bias)
    test = data.windows["test"]
    forecast = module.unscale(module.forecast(data.model_inputs(test))).double().numpy()
    if scaling == "levels":  # the training mean, the scaled zero
        expected = np.full(test.targets.shape, data.spec.shift)
    elif scaling == "seasonal-differences":  # the value one season before each target
        expected = data.reference_forecasts()["seasonal_naive"]
    elif scaling == "window":  # each window's mean, then the mean of the window moved on by it
        windows, steps = test.inputs, []
        for _ in range(HORIZON):
            steps.append(windows.mean(axis=1, keepdims=True))
            windows = np.hstack([windows[:, 1:], steps[-1]])
        expected = np.hstack(steps)
    else:  # the last value, kept
        expected = naive_forecast(test.inputs, HORIZON)
    assert forecast.shape == test.targets.shape
    np.testing.assert_allclose(forecast, expected, rtol=1e-5)


def test_recursive_with_horizon_1_is_direct_with_horizon_1(tmp_path):
    path = write_monthly(tmp_path / "sales.csv", SEASONAL)
    direct, recursive = (forecast_data(csv_path=path, seq_len=SEQ_LEN, strategy=strategy)
                         for strategy in ("direct", "recursive"))
    assert {**asdict(direct.spec), "strategy": None, "data": None} == \
        {**asdict(recursive.spec), "strategy": None, "data": None}
    assert recursive.spec.outputs == direct.spec.outputs == 1
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        for a, b in zip(getattr(direct, loader)(), getattr(recursive, loader)(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_recursive_trains_on_the_next_value_of_every_training_window(tmp_path):
    data = forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL), seq_len=SEQ_LEN, horizon=HORIZON,
                     strategy="recursive")
    train, fit = data.windows["train"], data.fit_windows
    assert len(fit.starts) == len(train.starts) + HORIZON - 1  # targets up to the training part's end
    np.testing.assert_array_equal(fit.targets[: len(train.starts)], train.targets[:, :1])
    inputs, targets = data.train_dataloader().dataset.tensors
    assert targets.shape == (len(fit.starts), 1) and inputs.shape == (len(fit.starts), SEQ_LEN)
    assert next(iter(data.val_dataloader()))[1].shape[1] == HORIZON  # scored over the horizon


def test_recursive_past_one_step_with_input_columns_is_refused_in_one_line(tmp_path):
    fields = {"csv_path": str(tmp_path / "load.csv"), "columns": ["driver"], "strategy": "recursive"}
    with pytest.raises(UserError) as refused:
        StockDataConfig(**fields, horizon=3).check()
    assert str(refused.value) == (
        "data.strategy=recursive cannot forecast data.horizon=3 steps with data.columns=['driver']: their future "
        "values are unknown, so forecasts cannot be fed back in; use data.strategy=direct or drop data.columns")
    StockDataConfig(**fields, horizon=1).check()  # one step needs no future column values
    with pytest.raises(UserError, match=r"^data.strategy=recursive cannot forecast data.horizon=2 steps"):
        compose_config(tmp_path, "data.columns=[driver]", "data.strategy=recursive", "data.horizon=2")
    with pytest.raises(UserError, match=r"^data.strategy='sideways' is not valid; choose one of direct, recursive$"):
        StockDataConfig(strategy="sideways").check()
