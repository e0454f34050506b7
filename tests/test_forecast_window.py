"""Per-window normalisation (data.scaling=window): each window in its own units (minus its mean, over its spread),
the forecast mapped back with them; for series whose level and amplitude both drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import forecast_data, run_in_process
from rnnlab.models.config import ModelConfig
from rnnlab.run.forecast import main as forecast_main
from rnnlab.tasks.forecast.data import StockData
from rnnlab.tasks.forecast.future import forecast_values
from rnnlab.tasks.forecast.scaling import MARGIN, SCALINGS, proxy_rmse, window_floor, window_stats
from rnnlab.tasks.forecast.series import Series
from rnnlab.tasks.forecast.task import ForecastTask
from rnnlab.tasks.optimizer import OptimizerConfig

N = 1000
T = np.arange(N)
AMP = 5 ** (T / N)  # level and amplitude both grow 5x across the series
NOISE = 0.05 * np.random.default_rng(0).normal(size=N)
CLEAN = lambda t: 5 ** (t / N) * (3 + np.sin(2 * np.pi * t / 12))  # noqa: E731
GROWING = CLEAN(T) + AMP * NOISE
SEQ_LEN = 24


def write_values(path: Path, values: np.ndarray) -> str:
    path.write_text("value\n" + "".join(f"{value:.6f}\n" for value in values))
    return str(path)



@pytest.fixture(scope="module")
def growing(tmp_path_factory) -> str:
    return write_values(tmp_path_factory.mktemp("window") / "growing.csv", GROWING)


def random_model(data: StockData) -> ForecastTask:
    torch.manual_seed(0)
    return ForecastTask(ModelConfig(hidden_size=8, impl="torch"), OptimizerConfig(), data.spec).eval()


def test_a_window_in_its_own_units_and_back_is_the_window_again(growing):
    data = forecast_data(csv_path=growing, seq_len=SEQ_LEN, scaling="window")
    spec, module = data.spec, random_model(data)
    assert spec.window and not spec.relative and not spec.log
    assert spec.window_floor == pytest.approx(window_floor(data.windows["train"].inputs) / spec.scale)
    inputs = data.windows["test"].inputs
    scaled = torch.as_tensor(spec.to_model(inputs), dtype=torch.float64)
    centre, spread = window_stats(scaled, spec.window_floor)
    units = (scaled - centre) / spread
    torch.testing.assert_close(units.mean(dim=1), torch.zeros(len(inputs), dtype=torch.float64))
    torch.testing.assert_close(units.std(dim=1, correction=0), torch.ones(len(inputs), dtype=torch.float64))
    np.testing.assert_allclose(module.unscale(centre + spread * units).numpy(), inputs, rtol=1e-12)
    flat = np.full((1, SEQ_LEN), 7.0)  # no spread: the floor, not a division by zero
    assert window_stats(flat, 0.5)[1][0, 0] == 0.5 and window_stats(flat, 0.5)[0][0, 0] == 7.0


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_every_forecast_is_mapped_back_with_its_own_windows_units(growing, strategy):
    """Stretch and shift a window and the forecast stretches and shifts alike, through the test pass (forecast),
    the rollout (generate) and python -m rnnlab.forecast (forecast_values): each is in its window's units."""
    data = forecast_data(csv_path=growing, seq_len=SEQ_LEN, horizon=3, strategy=strategy, scaling="window")
    module = random_model(data)
    inputs = data.windows["test"].inputs[:8]
    in_original_units = {
        "forecast": lambda x: module.unscale(module.forecast(data.scale(x))),
        "generate": lambda x: module.unscale(module.generate(data.scale(x), 7)),
    }
    for name, forecast in in_original_units.items():
        with torch.no_grad():
            plain, stretched = (forecast(x).double().numpy() for x in (inputs, 3 * inputs + 5))
        assert plain.shape[1] == (3 if name == "forecast" else 7)
        np.testing.assert_allclose(stretched, 3 * plain + 5, rtol=1e-4, err_msg=name)
    plain, stretched = (forecast_values(module, Series(values, "growing"), 5) for values in (GROWING, 3 * GROWING + 5))
    np.testing.assert_allclose(stretched, 3 * plain + 5, rtol=1e-4)


def test_the_linear_proxy_in_window_units_forecasts_the_growing_series_to_its_noise(growing):
    data = forecast_data(csv_path=growing, seq_len=SEQ_LEN, scaling="window")
    train, val = data.windows["train"], data.windows["val"]
    rmse = proxy_rmse(SCALINGS["window"], (train.inputs, train.targets), (val.inputs, val.targets),
                      data.series.values[: data.bounds["train"][1]], None)
    noise = np.sqrt(((AMP * NOISE)[val.starts] ** 2).mean())  # what no forecaster can know
    naive = np.sqrt(((val.inputs[:, -1:] - val.targets) ** 2).mean())
    assert rmse < 1.1 * noise < 0.2 * naive
    assert data.summary["scaling"]["validation_rmse"]["levels"] > 5 * rmse  # levels cannot leave the training range


def test_auto_chooses_window_when_level_and_amplitude_drift_and_not_on_the_default_sine(growing):
    scaling = forecast_data(csv_path=growing, seq_len=SEQ_LEN).summary["scaling"]
    errors = scaling["validation_rmse"]
    assert scaling["chosen"] == "window"
    assert all(errors["window"] < (1 - MARGIN) * errors[name] for name in ("levels", "differences", "log-differences"))
    sine = forecast_data().summary["scaling"]
    assert sine["chosen"] == "levels" and "window" in sine["validation_rmse"]


def test_a_tiny_window_model_forecasts_the_growing_series_in_original_units(growing, tmp_path, capsys):
    results, run_dir = run_in_process(
        tmp_path, f"data.csv_path={growing}", f"data.seq_len={SEQ_LEN}", "data.scaling=window",
        "model.hidden_size=16", "trainer.max_epochs=5", "optimizer.lr=0.01", "trainer.num_threads=1", "logger=none")
    metrics = results["metrics"]
    assert results["report"]["series"]["scaling"]["chosen"] == "window"
    assert metrics["test/rmse"] < 0.25 * metrics["test/naive_rmse"]  # 0.22 against 1.65
    capsys.readouterr()
    forecast_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "steps=6", f"out={tmp_path / 'future'}"])
    printed = capsys.readouterr().out.splitlines()
    future = np.array([float(line.split()[1]) for line in printed[2:8]])
    # past the end, the amplitude is 5x the start's and above any training window's: still the clean signal
    np.testing.assert_allclose(future, CLEAN(np.arange(N, N + 6)), atol=0.5)  # off by 0.23 at most
