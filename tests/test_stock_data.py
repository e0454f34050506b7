"""The stock series: seeded, split by time, scaled on train only, CSV input, honest baselines."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import forecast_data
from rnnlab.errors import UserError
from rnnlab.tasks.forecast.baselines import LinearAutoregression, drift_forecast, naive_forecast
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.series import generate_series, read_csv_series


@pytest.mark.parametrize("generator", ["sine", "sine_trend", "random_walk", "gbm"])
def test_generators_are_reproducible_from_the_seed(generator):
    cfg = StockDataConfig(generator=generator, length=300)
    first, again, other = (generate_series(cfg, seed).values for seed in (0, 0, 1))
    assert first.shape == (300,)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    if generator == "gbm":
        assert np.all(first > 0)


def test_default_series_is_the_tutorial_sine_with_its_noise():
    series = generate_series(StockDataConfig(), seed=0)
    t = np.linspace(0, 100, 1000)
    noise = series.values - np.sin(0.1 * t)
    assert abs(noise.std() - 0.1) < 0.01
    starts = np.array([500, 900])
    np.testing.assert_allclose(series.oracle(series.values, starts, 2), np.sin(0.1 * t)[[[500, 501], [900, 901]]])


def test_split_is_chronological_and_targets_never_cross_it():
    data = forecast_data(seq_len=20, horizon=3)
    last_target = {name: data.windows[name].starts.max() + 2 for name in ("train", "val", "test")}
    first_target = {name: data.windows[name].starts.min() for name in ("train", "val", "test")}
    assert last_target["train"] < first_target["val"] and last_target["val"] < first_target["test"]
    assert first_target["val"] == data.bounds["val"][0] and last_target["test"] == 999
    test = data.windows["test"]
    np.testing.assert_array_equal(test.inputs[0], data.series.values[test.starts[0] - 20 : test.starts[0]])
    np.testing.assert_array_equal(test.targets[0], data.series.values[test.starts[0] : test.starts[0] + 3])


def test_scaler_is_fitted_on_the_training_part_only():
    data = forecast_data(generator="sine_trend", trend=0.05)
    train_values = data.series.values[: data.bounds["train"][1]]
    assert data.spec.shift == pytest.approx(train_values.mean())
    assert data.spec.scale == pytest.approx(train_values.std())
    assert data.spec.shift < data.series.values.mean()  # the trend keeps rising after the training part


def test_only_training_batches_are_shuffled():
    data = forecast_data()
    first_val = next(iter(data.val_dataloader()))[1][:, 0].numpy()
    expected = ((data.windows["val"].targets[: len(first_val), 0] - data.spec.shift) / data.spec.scale)
    np.testing.assert_allclose(first_val, expected, rtol=1e-5)
    train_batch = next(iter(data.train_dataloader()))[1][:, 0].numpy()
    in_order = (data.windows["train"].targets[: len(train_batch), 0] - data.spec.shift) / data.spec.scale
    assert not np.allclose(train_batch, in_order)


def test_seq_len_longer_than_the_series_is_a_clear_error():
    with pytest.raises(UserError, match="data.seq_len=900 .* lower data.seq_len"):
        forecast_data(seq_len=900)


def test_csv_column_is_read_in_file_order(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("date,close\n" + "".join(f"2020-01-{d:02d},{100 + d}\n" for d in range(1, 29)))
    series = read_csv_series(str(path), None)
    np.testing.assert_array_equal(series.values, 100 + np.arange(1, 29))
    data = forecast_data(csv_path=str(path), seq_len=5, val_fraction=0.2, test_fraction=0.2)
    assert "oracle" not in data.reference_forecasts()


def test_csv_errors_name_the_cause_and_the_fix(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("open,close\n1,2\n3,oops\n")
    with pytest.raises(UserError, match="does not exist"):
        read_csv_series(str(tmp_path / "missing.csv"), None)
    with pytest.raises(UserError, match="data.column 'volume' is not in .*choose one of open, close"):
        read_csv_series(str(path), "volume")
    with pytest.raises(UserError, match="2 numeric columns .*data.column"):
        read_csv_series(str(path), None)
    with pytest.raises(UserError, match="line 3: column 'close' holds 'oops'"):
        read_csv_series(str(path), "close")


def test_baselines_forecast_what_they_promise():
    windows = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(naive_forecast(windows, 2), [[3, 3], [5, 5]])
    np.testing.assert_array_equal(drift_forecast(windows, 2), [[4, 5], [5, 5]])
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(200, 4))
    targets = inputs @ np.array([[0.5], [-1.0], [0.0], [2.0]]) + 3.0
    np.testing.assert_allclose(LinearAutoregression(inputs, targets)(inputs[:5]), targets[:5])


def test_noise_floor_is_the_clean_signals_error_on_the_test_points():
    data = forecast_data()
    test = data.windows["test"]
    floor = np.sqrt(((data.reference_forecasts()["oracle"] - test.targets) ** 2).mean())
    assert 0.07 < floor < 0.13  # the empirical noise of ~150 test points, noise_std = 0.1


def write_series(path, values) -> str:
    path.write_text("close\n" + "".join(f"{float(value)!r}\n" for value in values))
    return str(path)


def test_mase_scale_is_the_mean_step_of_the_training_part_only(tmp_path):
    """A calm training part (steps of 1) before a volatile validation and test part (steps of 10): MASE
    divides by the naive forecast's in-sample error, so the later steps must not enter its scale."""
    index = np.arange(100)
    values = np.where(index < 70, 100 + index % 2, 100 + 10 * (index % 2))  # train: targets 0-69 of 100
    data = forecast_data(csv_path=write_series(tmp_path / "prices.csv", values), seq_len=5)
    assert data.bounds["train"] == (0, 70)
    assert data.spec.mase_scale == 1.0


def test_the_linear_baseline_is_fitted_on_the_training_windows_not_the_test_windows(tmp_path):
    """The series changes regime after the training part (AR(1) with +0.9, then -0.9): a baseline fitted
    on the test windows would forecast them far better, and would not be a fair bar for the model."""
    rng = np.random.default_rng(0)
    values = np.zeros(400)
    for t in range(1, 400):
        values[t] = (0.9 if t < 280 else -0.9) * values[t - 1] + rng.normal()
    data = forecast_data(csv_path=write_series(tmp_path / "prices.csv", values), seq_len=5)
    train, test = data.windows["train"], data.windows["test"]
    linear = data.reference_forecasts()["linear"]
    np.testing.assert_allclose(linear, LinearAutoregression(train.inputs, train.targets)(test.inputs))
    peeking = LinearAutoregression(test.inputs, test.targets)(test.inputs)

    def rmse(forecast):
        return np.sqrt(((forecast - test.targets) ** 2).mean())

    assert rmse(peeking) < 0.6 * rmse(linear)  # the data tells a peeking baseline apart
