"""Exponential smoothing as a forecasting baseline: fitted on the training part, forecasting from the past only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnlab.tasks.forecast.baselines import naive_forecast, seasonal_naive_forecast
from rnnlab.tasks.forecast.data import StockData
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.smoothing import EtsModel, ets_forecast, fit_ets

SHARED_SERIES = Path(__file__).parents[2] / "shared" / "data" / "series"
RNG = np.random.default_rng(0)


def targets(values: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
    return values[starts[:, None] + np.arange(horizon)]


def rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def test_a_noiseless_line_is_forecast_exactly():
    values = 5 + 0.7 * np.arange(300.0)
    starts = np.arange(210, 298)
    forecast = ets_forecast(values, 210, starts, 3, None)
    np.testing.assert_allclose(forecast, targets(values, starts, 3), rtol=1e-9)


@pytest.mark.parametrize(("season", "horizon"), [(12, 3), (2, 5)])  # 5 steps ahead pass two seasons of 2
def test_a_noiseless_line_plus_season_is_forecast_exactly(season, horizon):
    shape = RNG.normal(size=season)
    values = 100 - 0.3 * np.arange(300.0) + np.tile(shape - shape.mean(), 300 // season)
    starts = np.arange(210, 300 - horizon + 1)
    model = fit_ets(values[:210], season)
    assert model.name == "ETS(A,A,A)"  # phi = 1: the trend is not damped
    np.testing.assert_allclose(model.forecast(values, starts, horizon), targets(values, starts, horizon), rtol=1e-9)


def test_a_noisy_season_beats_the_last_value_and_matches_last_seasons():
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(600) / 12) + RNG.normal(size=600)
    starts = np.arange(420, 600)
    model = fit_ets(values[:420], 12)
    forecast = model.forecast(values, starts, 1)
    actual = targets(values, starts, 1)
    assert model.season == 12
    assert rmse(forecast, actual) < 0.5 * rmse(naive_forecast(values[starts[:, None] - 1], 1), actual)
    # last season's value carries its noise too: averaging seasons does better
    assert rmse(forecast, actual) < rmse(seasonal_naive_forecast(values, starts, 1, 12), actual)


@pytest.mark.parametrize("season", [None, 7])
def test_a_random_walk_is_forecast_as_well_as_by_its_last_value(season):
    values = 100 + np.cumsum(RNG.normal(size=2000))
    starts = np.arange(1400, 2000)
    model = fit_ets(values[:1400], season)
    actual = targets(values, starts, 1)
    assert model.season is None  # a weekly "season" of a random walk is dropped
    assert rmse(model.forecast(values, starts, 1), actual) < 1.03 * rmse(values[starts - 1, None], actual)


@pytest.mark.parametrize("horizon", [1, 3])
def test_forecasts_use_no_value_at_or_after_their_start(horizon):
    values = 20 + 3 * np.sin(2 * np.pi * np.arange(400) / 7) + np.cumsum(RNG.normal(size=400))
    starts = np.arange(300, 400 - horizon + 1)
    forecast = ets_forecast(values, 280, starts, horizon, 7)
    assert forecast.shape == (len(starts), horizon)
    cut = 350
    changed = values.copy()
    changed[cut:] += RNG.normal(scale=50, size=400 - cut)
    again = ets_forecast(changed, 280, starts, horizon, 7)
    np.testing.assert_array_equal(again[starts <= cut], forecast[starts <= cut])
    assert not np.allclose(again[starts > cut], forecast[starts > cut])


def test_only_the_last_max_points_training_values_are_fitted():
    values = 10 + np.cumsum(RNG.normal(size=1000))
    changed = values.copy()
    changed[:500] = 0.0
    starts = np.arange(800, 1000)
    model = fit_ets(values[:800], None, max_points=300)
    assert model.start == 500
    np.testing.assert_array_equal(fit_ets(changed[:800], None, max_points=300).forecast(changed, starts, 2),
                                  model.forecast(values, starts, 2))


def test_origins_in_the_training_part_are_refused():
    with pytest.raises(ValueError, match=r"not be in the training part \(< 100\)"):
        ets_forecast(np.arange(200.0), 100, np.array([99, 150]), 1, None)


def plain_loop(model: EtsModel, values: np.ndarray, origin: int, horizon: int) -> list[float]:
    """The model's recursion written out for one origin, value by value."""
    level, trend, season = model.initial.level, model.initial.trend, list(model.initial.season)
    m = len(season)
    for t in range(model.start, origin):
        phase = (t - model.start) % m
        error = values[t] - (level + model.phi * trend + season[phase])
        level, trend = level + model.phi * trend + model.alpha * error, model.phi * trend + model.beta * error
        season[phase] += model.gamma * error
    damping = np.cumsum(model.phi ** np.arange(1, horizon + 1))
    return [level + damping[j] * trend + season[(origin - model.start + j) % m] for j in range(horizon)]


def test_the_forecasts_are_the_recursion_written_out():
    values = 30 + 0.05 * np.arange(500) + 4 * np.sin(2 * np.pi * np.arange(500) / 12) + RNG.normal(size=500)
    model = fit_ets(values[:350], 12)
    assert model.trend and model.season == 12 and model.gamma > 0
    starts = np.array([350, 351, 400, 487])
    expected = [plain_loop(model, values, origin, 14) for origin in starts]
    np.testing.assert_allclose(model.forecast(values, starts, 14), expected, rtol=1e-12)


@pytest.mark.skipif(not (SHARED_SERIES / "monthly-car-sales.csv").is_file(), reason="the shared real series are absent")
def test_on_real_car_sales_it_beats_the_last_value_and_last_years():
    data = StockData(StockDataConfig(csv_path=str(SHARED_SERIES / "monthly-car-sales.csv")), seed=0)
    data.setup()
    test, references = data.windows["test"], data.reference_forecasts()
    forecast = ets_forecast(data.series.values, data.bounds["train"][1], test.starts, 1, data.season)
    assert rmse(forecast, test.targets) < 0.9 * min(rmse(references[name], test.targets)
                                                   for name in ("naive", "seasonal_naive"))
