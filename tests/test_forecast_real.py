"""Real series as users have them: dates, delimiters, missing values, seasons, scaling, honest verdicts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import forecast_data, run_in_process
from rnnlab.errors import UserError
from rnnlab.tasks.forecast.baselines import seasonal_naive_forecast
from rnnlab.tasks.forecast.report import compare_with_baselines, forecast_figure
from rnnlab.tasks.forecast.scaling import base_of
from rnnlab.tasks.forecast.series import read_csv_series

SHARED_SERIES = Path(__file__).parents[2] / "shared" / "data" / "series"  # ../shared/data beside the repository
T = np.arange(144)
NOISE = np.random.default_rng(0).normal(size=len(T))
SEASONAL = 100 + 20 * np.sin(2 * np.pi * T / 12) + 2 * NOISE  # stationary, yearly season
TREND = SEASONAL + 2 * T  # the same plus a trend that leaves the training range
GROWTH = 50 * 1.03**T * (1 + 0.2 * np.sin(2 * np.pi * T / 12)) * np.exp(0.01 * NOISE)  # multiplicative growth


def months(count: int, first_year: int = 1960) -> list[str]:
    return [f"{first_year + i // 12}-{i % 12 + 1:02d}" for i in range(count)]


def write_monthly(path: Path, values, dates: list[str] | None = None, delimiter: str = ",") -> str:
    """A CSV as the real ones are: quoted header and dates, one value per month."""
    dates = dates or months(len(values))
    rows = "".join(f'"{date}"{delimiter}{value}\n' for date, value in zip(dates, values, strict=True))
    path.write_text(f'"Month"{delimiter}"Sales"\n' + rows)
    return str(path)



# --- dates ----------------------------------------------------------------------------------------------------


def test_monthly_dates_are_read_and_give_the_frequency_and_a_season_of_12(tmp_path):
    data = forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL), seq_len=12)
    assert data.series.dates[0] == np.datetime64("1960-01-01") and data.series.dates[-1] == np.datetime64("1971-12-01")
    dates = data.summary["dates"]
    assert (dates["frequency"], dates["first"], dates["last"], dates["gaps"]) == ("monthly", "1960-01-01",
                                                                                  "1971-12-01", 0)
    assert data.season == data.summary["season"] == 12


def test_hourly_dates_from_year_month_day_hour_columns_give_a_season_of_24(tmp_path):
    path = tmp_path / "air.csv"
    rows = [f"{i + 1},2010,1,{1 + i // 24},{i % 24},{50 + 10 * np.sin(i / 4):.2f},NW\n" for i in range(240)]
    path.write_text("No,year,month,day,hour,pm2.5,cbwd\n" + "".join(rows))
    data = forecast_data(csv_path=str(path), column="pm2.5", date_parts=["year", "month", "day", "hour"], seq_len=6)
    assert data.series.dates[25] == np.datetime64("2010-01-02T01:00:00")
    assert data.summary["dates"]["frequency"] == "hourly" and data.season == 24


def test_daily_dates_give_a_season_of_7_and_an_explicit_season_wins(tmp_path):
    path = tmp_path / "temps.csv"
    days = np.arange(np.datetime64("1981-01-01"), np.datetime64("1981-04-01"))
    path.write_text("Date,Temp\n" + "".join(f"{day},{10 + i % 7}\n" for i, day in enumerate(days)))
    assert forecast_data(csv_path=str(path), seq_len=5).season == 7
    assert forecast_data(csv_path=str(path), seq_len=5, season=14).season == 14
    assert forecast_data(csv_path=str(path), seq_len=5, season=0).season is None
    assert "seasonal_naive" not in forecast_data(csv_path=str(path), seq_len=5, season=1).reference_forecasts()


def test_trading_days_skip_weekends_without_gaps_and_have_a_season_of_5(tmp_path):
    days = np.busday_offset("2020-01-02", np.arange(80)).tolist()
    del days[40]  # a holiday
    path = tmp_path / "prices.csv"
    path.write_text("Date,Close\n" + "".join(f"{day},{100 + i % 5}\n" for i, day in enumerate(days)))
    data = forecast_data(csv_path=str(path), seq_len=5)
    dates = data.summary["dates"]
    assert (dates["frequency"], dates["gaps"], dates["missing_points"], data.season) == ("business-daily", 1, 1, 5)


def test_a_gap_in_the_dates_is_warned_about_and_reported(tmp_path, caplog):
    dates = months(62)
    del dates[30:32]  # 1962-07 and 1962-08 are missing
    path = write_monthly(tmp_path / "sales.csv", SEASONAL[:60], dates)
    with caplog.at_level(logging.WARNING):
        data = forecast_data(csv_path=path, seq_len=6)
    assert data.summary["dates"]["gaps"] == 1 and data.summary["dates"]["missing_points"] == 2
    assert data.summary["dates"]["first_gaps"] == ["after 1962-06-01: 2 missing"]
    assert "1 gaps in the monthly dates (2 points missing), first after 1962-06-01" in caplog.text


def test_dates_out_of_order_or_repeated_name_the_line(tmp_path):
    dates = months(60)
    dates[10], dates[11] = dates[11], dates[10]
    with pytest.raises(UserError, match=r"line 13: the date 1960-11-01 comes after 1960-12-01 on line 12; sort"):
        forecast_data(csv_path=write_monthly(tmp_path / "shuffled.csv", SEASONAL[:60], dates), seq_len=6)
    dates = months(60)
    dates[20] = dates[19]
    with pytest.raises(UserError, match=r"line 22: the date 1961-08-01 repeats line 21's; keep one row per date"):
        forecast_data(csv_path=write_monthly(tmp_path / "doubled.csv", SEASONAL[:60], dates), seq_len=6)


def test_bad_dates_on_the_command_line_end_in_one_line_without_a_traceback(cli, tmp_path):
    dates = months(60)
    dates[10], dates[11] = dates[11], dates[10]
    path = write_monthly(tmp_path / "shuffled.csv", SEASONAL[:60], dates)
    result = cli(f"data.csv_path={path}", "data.seq_len=6")
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        f"rnnlab: error: {path} line 13: the date 1960-11-01 comes after 1960-12-01 on line 12; "
        "sort the file by date (oldest first)")


def test_a_date_column_that_is_not_a_date_names_the_line(tmp_path):
    dates = months(60)
    dates[5] = "June"
    with pytest.raises(UserError, match=r"line 7: column 'Month' holds 'June', not a date"):
        forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL[:60], dates), seq_len=6,
                  date_column="Month")
    with pytest.raises(UserError, match=r"data.date_column 'Day' is not in .*choose one of Month, Sales"):
        forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL[:60]), seq_len=6, date_column="Day")


def test_the_forecast_figure_is_drawn_against_the_dates():
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-11"))
    values = np.arange(10.0)[:, None]
    figure = forecast_figure(dates, values, values, {"naive": values, "linear": values})
    assert figure.axes[0].get_xlabel() == "date"
    assert forecast_figure(np.arange(10), values, values, {"naive": values, "linear": values}).axes[0].get_xlabel() \
        == "time index"


# --- reading the file -----------------------------------------------------------------------------------------


def test_a_semicolon_file_is_read_by_sniffing_its_delimiter(tmp_path):
    series = read_csv_series(write_monthly(tmp_path / "sales.csv", [1.5, 2.5, 3.5], delimiter=";"), None)
    np.testing.assert_array_equal(series.values, [1.5, 2.5, 3.5])
    assert series.dates[2] == np.datetime64("1960-03-01")


def test_a_wrong_delimiter_names_the_one_tried_and_the_header_found(tmp_path):
    path = write_monthly(tmp_path / "sales.csv", [1, 2, 3], delimiter=";")
    with pytest.raises(UserError, match=r"no numeric column when read with delimiter ',' \(given\); header found: "
                                        r"""'"Month";"Sales"'; set data.delimiter"""):
        read_csv_series(path, None, delimiter=",")
    with pytest.raises(UserError, match=r"data.column 'Sales' is not in .* \(read with delimiter ',' \(given\)\); "
                                        r'choose one of Month;"Sales"'):
        read_csv_series(path, "Sales", delimiter=",")


def test_a_non_numeric_value_names_the_file_and_the_line(tmp_path):
    path = write_monthly(tmp_path / "sales.csv", ["1", "2", "n.a.", "4"])
    with pytest.raises(UserError, match=r"sales.csv line 4: column 'Sales' holds 'n.a.', not a number"):
        read_csv_series(path, "Sales")


# --- missing values -------------------------------------------------------------------------------------------


@pytest.fixture
def gappy(tmp_path) -> str:
    """Values 1 NA 3 '' 5 ... 8 NA: missing in the middle (lines 3 and 5) and at the end."""
    return write_monthly(tmp_path / "sales.csv", ["NA", "1", "NA", "3", "", "5", "6", "7", "8", "NA"])


def test_missing_values_are_an_error_listing_their_lines_by_default(gappy):
    with pytest.raises(UserError, match=r"4 rows have missing values \('Sales' 4; lines 2, 4, 6, 11\); "
                                        r"set data.missing=drop, ffill, interpolate or zero"):
        read_csv_series(gappy, None)


@pytest.mark.parametrize(("policy", "expected", "first_date"), [
    ("drop", [1, 3, 5, 6, 7, 8], "1960-02"),
    ("ffill", [1, 1, 3, 3, 5, 6, 7, 8, 8], "1960-02"),  # the leading NA has nothing before it: dropped
    ("interpolate", [1, 2, 3, 4, 5, 6, 7, 8, 8], "1960-02"),  # the trailing NA carries the last value
    ("zero", [1, 0, 3, 0, 5, 6, 7, 8, 0], "1960-02"),  # as the Keras pollution tutorial does
])
def test_missing_value_policies(gappy, policy, expected, first_date):
    series = read_csv_series(gappy, None, missing=policy)
    np.testing.assert_array_equal(series.values, expected)
    assert series.dates[0] == np.datetime64(first_date)
    assert series.missing == {"count": 4, "by_column": {"Sales": 4}, "policy": policy,
                              "rows_dropped": 10 - len(expected)}


# --- splits and seasons ---------------------------------------------------------------------------------------


def test_too_few_windows_for_a_split_say_how_many_and_what_to_change(tmp_path):
    path = write_monthly(tmp_path / "sales.csv", SEASONAL[:30])
    with pytest.raises(UserError, match=r"data.seq_len=3 with data.horizon=1 leaves only 4 val, 4 test windows in a "
                                        r"series of 30 points .*fewer than data.min_windows=5; use a longer series, "
                                        r"lower data.seq_len, raise data.val_fraction or raise data.test_fraction"):
        forecast_data(csv_path=path, seq_len=3)
    assert len(forecast_data(csv_path=path, seq_len=3, min_windows=4).windows["test"].starts) == 4


def test_a_season_longer_than_the_training_part_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"data.season=200 is longer than the training part \(100 points of "
                                        r"sales.csv:Sales\); lower data.season"):
        forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL), seq_len=12, season=200)


def test_seasonal_naive_takes_the_value_one_season_before_each_target():
    values = np.arange(20.0)
    # season 2, targets 10, 11, 12: one season before 10 and 11 are 8 and 9; 12's is 10, itself a target, so 8
    np.testing.assert_array_equal(seasonal_naive_forecast(values, np.array([10, 13]), 3, 2), [[8, 9, 8], [11, 12, 11]])


def test_seasonal_naive_is_scored_on_the_models_test_windows(tmp_path):
    values = np.tile([1.0, 5.0, 3.0], 40) + np.arange(120) * 0.5  # season 3 plus a trend of 0.5 per step
    data = forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", values), seq_len=4, season=3)
    test = data.windows["test"]
    seasonal = data.reference_forecasts()["seasonal_naive"]
    np.testing.assert_allclose(seasonal, test.targets - 1.5)  # one season behind: 3 steps of 0.5 lower
    np.testing.assert_array_equal(seasonal[:, 0], values[test.starts - 3])


# --- scaling --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "season", "chosen"), [
    (SEASONAL, 0, "levels"),  # stays in its training range: levels, as the sine default
    (SEASONAL, None, "seasonal-differences"),  # last year's value forecasts better than last month's
    (TREND, None, "differences"),  # leaves the training range additively; last year's value lags the trend
    (GROWTH, None, "log-differences"),  # grows by percentages
])
def test_auto_scaling_chooses_by_the_validation_error_of_a_linear_proxy(tmp_path, values, season, chosen):
    data = forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", values), seq_len=12, season=season)
    scaling = data.summary["scaling"]
    assert scaling["requested"] == "auto" and scaling["chosen"] == chosen
    errors = scaling["validation_rmse"]
    proxies = {name: errors[name] for name in ("levels", "differences", "log-differences") if name in errors}
    if chosen == "seasonal-differences":
        assert errors["seasonal_naive"] < errors["naive"]
    else:
        assert errors[chosen] == min(proxies.values()) or chosen == "levels"
        assert season == 0 or errors["seasonal_naive"] >= errors["naive"]
    spec = data.spec
    assert (spec.relative, spec.log, spec.season) == (
        chosen != "levels", chosen == "log-differences", 12 if chosen == "seasonal-differences" else 0)


def test_seasonal_differences_start_from_the_value_one_season_before(tmp_path):
    inputs = np.arange(12.0)[None, :]
    np.testing.assert_array_equal(base_of(inputs, 2, 4), [[8, 9]])  # targets 12 and 13: values 8 and 9
    np.testing.assert_array_equal(base_of(inputs, 2, None), [[11]])
    path = write_monthly(tmp_path / "sales.csv", SEASONAL)
    with pytest.raises(UserError, match=r"seasonal-differences needs a season \(data.season, now None\) with "
                                        r"data.horizon=1 <= season <= data.seq_len=12"):
        forecast_data(csv_path=path, seq_len=12, season=0, scaling="seasonal-differences")
    with pytest.raises(UserError, match=r"<= data.seq_len=6; raise data.seq_len"):
        forecast_data(csv_path=path, seq_len=6, scaling="seasonal-differences")


def test_the_default_sine_keeps_modelling_levels():
    data = forecast_data()
    assert data.summary["scaling"]["chosen"] == "levels" and not data.spec.relative and not data.spec.log


def test_log_differences_read_and_return_original_units(tmp_path):
    data = forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", GROWTH), seq_len=12, scaling="log-differences")
    inputs = data.windows["train"].inputs[:3]
    scaled = data.scale(inputs).double().numpy()
    np.testing.assert_allclose(np.exp(scaled * data.spec.scale + data.spec.shift), inputs, rtol=1e-5)
    with pytest.raises(UserError, match="log-differences needs a positive series"):
        forecast_data(csv_path=write_monthly(tmp_path / "sales.csv", SEASONAL - 100), seq_len=12,
                  scaling="log-differences")


# --- the verdict ----------------------------------------------------------------------------------------------


def test_a_losing_model_is_warned_with_the_best_baseline_the_ratio_and_what_to_try():
    metrics = {"test/rmse": 6.0, "test/naive_rmse": 8.0, "test/seasonal_naive_rmse": 4.0, "test/drift_rmse": 9.0,
               "test/linear_rmse": 5.0, "test/noise_floor_rmse": 1.0}
    comparison = compare_with_baselines(metrics, seq_len=6, season=12, scaling="levels", train_windows=90)
    assert (comparison["best_baseline"], comparison["rmse_ratio"], comparison["loses"]) == ("seasonal_naive", 1.5,
                                                                                           True)
    assert comparison["verdict"].startswith("warning: the model loses to the seasonal naive baseline: test RMSE 6 "
                                            "is 1.50x its 4; try data.scaling=differences")
    assert "data.seq_len=24 (two seasons of 12" in comparison["verdict"]
    assert comparison["verdict"].endswith("a smaller model.hidden_size (only 90 training windows)")
    assert compare_with_baselines(metrics, seq_len=24, season=12, scaling="levels", train_windows=90)["hints"][0] \
        == "data.scaling=seasonal-differences (start from last season's value, which wins here)"
    winning = compare_with_baselines({**metrics, "test/rmse": 3.0}, seq_len=24, season=12, scaling="differences",
                                     train_windows=90)
    assert not winning["loses"] and winning["hints"] == []
    assert winning["verdict"] == "the model beats every baseline: test RMSE 3 is 0.75x the best baseline's " \
                                 "(seasonal naive, 4)"
    tie = compare_with_baselines({"test/rmse": 1.01, "test/naive_rmse": 1.0, "test/drift_rmse": 1.1,
                                  "test/linear_rmse": 1.0001}, seq_len=20, season=None, scaling="differences",
                                 train_windows=1000)
    assert "(within 2% of the last value: a tie" in tie["verdict"]
    assert tie["hints"] == ["a longer data.seq_len (now 20)", "more training (trainer.max_epochs, callbacks.patience)"]


def test_a_run_on_a_monthly_csv_reports_dates_season_baselines_steps_and_its_verdict(tmp_path, capsys):
    """A barely trained model on a seasonal series: it loses, and says so in the console and metrics.json."""
    path = write_monthly(tmp_path / "sales.csv", SEASONAL)
    results, run_dir = run_in_process(tmp_path, f"data.csv_path={path}", "data.seq_len=12", "data.horizon=2",
                                      "data.scaling=levels", "model.hidden_size=4", "debug=limit",
                                      "trainer.max_epochs=1", "logger=none")
    saved = json.loads((run_dir / "metrics.json").read_text())
    metrics = saved["metrics"]
    for name in ("rmse", "naive_rmse", "seasonal_naive_rmse", "drift_rmse", "linear_rmse", "ets_rmse"):
        assert isinstance(metrics[f"test/{name}"], float), name
    report = saved["report"]
    assert report["series"]["dates"]["frequency"] == "monthly" and report["series"]["season"] == 12
    assert report["series"]["scaling"]["chosen"] == "levels"  # as asked; auto would take seasonal differences
    assert report["baselines"]["loses"] and report["baselines"]["best_baseline"] == "ets"  # 2.21 vs linear AR 2.27
    assert len(report["per_step"]["model_rmse"]) == len(report["per_step"]["seasonal_naive_rmse"]) == 2
    assert (run_dir / "figures" / "error_per_step.png").is_file()
    printed = capsys.readouterr().out
    assert "warning: the model loses to the exponential smoothing (ETS) baseline" in printed
    assert "monthly 1960-01-01 .. 1971-12-01, no gaps" in printed and "scaling levels -> levels" in printed
    assert "RMSE per step ahead" in printed


@pytest.mark.skipif(not (SHARED_SERIES / "monthly-car-sales.csv").is_file(), reason="the shared real series are absent")
def test_the_real_series_are_read_as_they_are():
    sales = forecast_data(csv_path=str(SHARED_SERIES / "monthly-car-sales.csv"), seq_len=12)
    assert sales.summary["points"] == 108 and sales.season == 12 and sales.summary["dates"]["gaps"] == 0
    temps = forecast_data(csv_path=str(SHARED_SERIES / "daily-min-temperatures.csv"), seq_len=14)
    assert temps.season == 7 and temps.summary["dates"]["gaps"] == 2  # no 31 December in the two leap years
