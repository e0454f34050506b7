"""Forecasting the future from a checkpoint: `python -m rnnlab.forecast ckpt=... steps=N [csv=...]` continues the
series' dates, feeds its forecasts back in past the model's horizon, writes a CSV and a plot, and refuses bad
input in one line."""

from __future__ import annotations

import csv
import runpy
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_in_process
from rnnlab.errors import UserError
from rnnlab.run.forecast import main as forecast_main
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.run.predict import main as predict_main
from rnnlab.tasks.forecast.calendar import continue_dates
from rnnlab.tasks.forecast.future import Future, check_steps, plot
from rnnlab.tasks.forecast.schema import StockDataConfig
from rnnlab.tasks.forecast.series import Series, generate_series

MONTHS = 96  # 1960-01 .. 1967-12
VALUES = 100 + 20 * np.sin(2 * np.pi * np.arange(MONTHS + 3) / 12) + np.random.default_rng(0).normal(size=MONTHS + 3)
TINY = ("model.hidden_size=8", "trainer.max_epochs=1", "trainer.num_threads=1", "logger=none")
SEQ_LEN, HORIZON = 12, 2


def write_months(path: Path, values: np.ndarray, column: str = "Sales") -> Path:
    """A monthly CSV, dates on the first of each month from 1960-01."""
    rows = "".join(f"{1960 + i // 12}-{i % 12 + 1:02d}-01,{value:.4f}\n" for i, value in enumerate(values))
    path.write_text(f"Month,{column}\n{rows}")
    return path


@pytest.fixture(scope="module")
def monthly(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny model trained on a monthly series (seasonal differences, 2 steps at once): checkpoint and series."""
    root = tmp_path_factory.mktemp("monthly")
    series = write_months(root / "sales.csv", VALUES[:MONTHS])
    _, run_dir = run_in_process(root, f"data.csv_path={series}", f"data.seq_len={SEQ_LEN}",
                                f"data.horizon={HORIZON}", "data.scaling=seasonal-differences", *TINY)
    return run_dir / "checkpoints" / "best.ckpt", series


def forecast(capsys, *argv: str) -> list[str]:
    """The lines `python -m rnnlab.forecast <argv>` prints."""
    capsys.readouterr()
    forecast_main(list(argv))
    return capsys.readouterr().out.splitlines()


def refused(capsys, argv: list[str], main=forecast_main) -> str:
    """The one line a bad command prints on stderr (exit code 2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    return error.strip()


def read_forecast(path: Path) -> list[list[str]]:
    with path.open(newline="") as file:
        return list(csv.reader(file))


def by_hand(checkpoint: Path, values: np.ndarray, calls: int) -> np.ndarray:
    """The model called on the last window, then on windows moved on by its own `HORIZON` forecasts."""
    module = load_task(load_checkpoint(checkpoint))
    window = torch.as_tensor(module.spec.to_model(values[None, -SEQ_LEN:]), dtype=torch.float32)
    forecasts = []
    with torch.no_grad():
        for _ in range(calls):
            forecasts.append(module(window))
            window = torch.cat([window[:, HORIZON:], forecasts[-1]], dim=1)
    return module.unscale(torch.cat(forecasts, dim=1))[0].double().numpy()


# --- the forecast -----------------------------------------------------------------------------------------------


def test_the_forecast_continues_the_monthly_dates_and_writes_a_csv_and_a_plot(monthly, capsys):
    checkpoint, _ = monthly
    printed = forecast(capsys, f"ckpt={checkpoint}", "steps=5")
    assert printed[0].startswith("forecast of sales.csv:Sales after its last value, ")
    assert printed[0].endswith("on 1967-12-01 (monthly): 5 steps; the model forecasts 2 at a time, later steps "
                               "from its own forecasts")
    assert printed[1].split() == ["date", "forecast"]
    assert [line.split()[0] for line in printed[2:7]] == ["1968-01-01", "1968-02-01", "1968-03-01", "1968-04-01",
                                                          "1968-05-01"]
    out = checkpoint.parents[1] / "forecast"
    assert printed[7] == f"wrote {out / 'forecast.csv'} and {out / 'forecast.png'}" and len(printed) == 8
    rows = read_forecast(out / "forecast.csv")
    assert rows[0] == ["date", "forecast"]
    assert [row[0] for row in rows[1:]] == [line.split()[0] for line in printed[2:7]]
    assert (out / "forecast.png").stat().st_size > 0


def test_the_values_are_the_models_forecasts_fed_back_in_past_its_horizon(monthly, capsys):
    checkpoint, _ = monthly
    forecast(capsys, f"ckpt={checkpoint}", "steps=5")
    written = [float(row[1]) for row in read_forecast(checkpoint.parents[1] / "forecast" / "forecast.csv")[1:]]
    expected = by_hand(checkpoint, VALUES[:MONTHS], calls=3)[:5]
    np.testing.assert_allclose(written, expected, rtol=1e-6)
    forecast(capsys, f"ckpt={checkpoint}", "steps=1")  # within the horizon: the model's first value
    written = read_forecast(checkpoint.parents[1] / "forecast" / "forecast.csv")
    assert len(written) == 2 and float(written[1][1]) == pytest.approx(expected[0], rel=1e-6)


def test_a_csv_with_new_rows_moves_the_start_and_out_puts_the_files_elsewhere(monthly, capsys, tmp_path):
    checkpoint, _ = monthly
    newer = write_months(tmp_path / "newer.csv", VALUES)  # three more months: 1968-01 .. 1968-03
    printed = forecast(capsys, f"ckpt={checkpoint}", "steps=3", f"csv={newer}", f"out={tmp_path / 'next'}")
    assert "on 1968-03-01 (monthly): 3 steps" in printed[0]
    assert [line.split()[0] for line in printed[2:5]] == ["1968-04-01", "1968-05-01", "1968-06-01"]
    assert printed[-1] == f"wrote {tmp_path / 'next' / 'forecast.csv'} and {tmp_path / 'next' / 'forecast.png'}"
    written = [float(row[1]) for row in read_forecast(tmp_path / "next" / "forecast.csv")[1:]]
    np.testing.assert_allclose(written, by_hand(checkpoint, VALUES, calls=2)[:3], rtol=1e-6)


def test_python_m_rnnlab_forecast_runs_the_command(monthly, tmp_path, capsys, monkeypatch):
    checkpoint, _ = monthly
    monkeypatch.setattr(sys, "argv", ["rnnlab.forecast", f"ckpt={checkpoint}", "steps=2", f"out={tmp_path}"])
    capsys.readouterr()
    runpy.run_module("rnnlab.forecast", run_name="__main__")
    assert capsys.readouterr().out.splitlines()[2].startswith("1968-01-01  ") and (tmp_path / "forecast.png").is_file()


def test_a_generated_series_is_generated_again_and_its_steps_are_numbered(tmp_path, capsys):
    _, run_dir = run_in_process(tmp_path, "data.length=300", "data.seq_len=10", "seed=3", *TINY)
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    printed = forecast(capsys, f"ckpt={checkpoint}", "steps=3")
    assert printed[0].startswith("forecast of sine(noise_std=0.1) after its last value, ")
    assert " at t: 3 steps; the model forecasts 1 at a time" in printed[0]
    assert [line.split()[0] for line in printed[1:5]] == ["step", "t+1", "t+2", "t+3"]
    module = load_task(load_checkpoint(checkpoint))
    assert module.spec.seed == 3 and module.spec.data["generator"] == "sine"  # seed 3, not the default 0
    values = generate_series(StockDataConfig(length=300), seed=3).values
    window = torch.as_tensor(module.spec.to_model(values[None, -10:]), dtype=torch.float32)
    with torch.no_grad():
        first = float(module.unscale(module(window))[0, 0])
    assert float(printed[2].split()[1]) == pytest.approx(first, rel=1e-5)


def test_a_checkpoint_from_before_rnnlab_forecast_needs_the_csv(monthly, capsys, tmp_path):
    checkpoint, series = monthly
    old = torch.load(checkpoint, weights_only=True)
    for key in ("data", "seed"):
        del old["hyper_parameters"]["spec"][key]
    torch.save(old, tmp_path / "old.ckpt")
    assert refused(capsys, [f"ckpt={tmp_path / 'old.ckpt'}", "steps=2"]) == (
        "rnnlab: error: this checkpoint does not say which series it trained on (it was written before "
        "rnnlab.forecast); give the series with csv=<path>")
    printed = forecast(capsys, f"ckpt={tmp_path / 'old.ckpt'}", "steps=2", f"csv={series}", f"out={tmp_path}")
    assert printed[2].startswith("1968-01-01")


def test_predict_points_a_forecasting_checkpoint_to_rnnlab_forecast(monthly, capsys):
    checkpoint, _ = monthly
    for argv in ([f"ckpt={checkpoint}"], [f"ckpt={checkpoint}", "text=1 2 3"]):
        assert refused(capsys, argv, predict_main) == (
            f"rnnlab: error: this checkpoint is a forecast model: forecast with python -m rnnlab.forecast "
            f"ckpt={checkpoint} steps=<values to forecast>")


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    ([], "give ckpt= and steps=; usage: python -m rnnlab.forecast ckpt="),
    (["steps=3"], "give ckpt= and steps=; usage:"),
    (["ckpt=x.ckpt", "steps=3", "colour=red"], "'colour=red' is not understood; usage:"),
    (["ckpt=x.ckpt", "12"], "'12' is not understood; usage:"),
    (["ckpt=x.ckpt", "steps=0"], "steps='0' is not a positive integer; usage:"),
    (["ckpt=x.ckpt", "steps=-2"], "steps='-2' is not a positive integer; usage:"),
    (["ckpt=x.ckpt", "steps=1.5"], "steps='1.5' is not a positive integer; usage:"),
    (["ckpt=x.ckpt", "steps=ten"], "steps='ten' is not a positive integer; usage:"),
    (["ckpt=x.ckpt", "steps=3", "history=0"], "history='0' is not a positive integer; usage:"),
])
def test_bad_arguments_print_one_line_with_the_usage(capsys, argv, message):
    error = refused(capsys, argv)
    assert error.startswith(f"rnnlab: error: {message}")


def test_a_missing_checkpoint_is_one_line(capsys, tmp_path):
    assert refused(capsys, [f"ckpt={tmp_path / 'nope.ckpt'}", "steps=3"]) == (
        f"rnnlab: error: checkpoint '{tmp_path / 'nope.ckpt'}' does not exist; give the best.ckpt or last.ckpt of "
        "a finished run")


def test_a_checkpoint_of_another_task_is_refused(capsys, tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("the cat sat on the mat. " * 100)
    _, run_dir = run_in_process(tmp_path, "data=chars", f"data.path={text}", "data.batch_size=4", "data.bptt=16",
                                "data.eval_batch_size=2", "data.sample_length=0", "data.ngram_order=2", *TINY)
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    assert refused(capsys, [f"ckpt={checkpoint}", "steps=3"]) == (
        "rnnlab: error: this checkpoint is a chars model, which does not forecast a series; rnnlab.forecast takes "
        "forecast models")
    assert refused(capsys, [f"ckpt={checkpoint}", "text=the"], predict_main) == (
        "rnnlab: error: this checkpoint is a chars model, which rnnlab.predict does not take; it predicts with "
        "classify, tagging, translate models")


def test_a_csv_without_the_trained_column_or_shorter_than_the_window_is_refused(monthly, capsys, tmp_path):
    checkpoint, _ = monthly
    other = write_months(tmp_path / "other.csv", VALUES[:MONTHS], column="Revenue")
    assert refused(capsys, [f"ckpt={checkpoint}", "steps=3", f"csv={other}"]) == (
        f"rnnlab: error: csv '{other}' has no column 'Sales', the one the model was trained on; its columns: "
        "Month, Revenue")
    short = write_months(tmp_path / "short.csv", VALUES[: SEQ_LEN - 1])
    assert refused(capsys, [f"ckpt={checkpoint}", "steps=3", f"csv={short}"]) == (
        "rnnlab: error: short.csv:Sales has 11 values, fewer than the model's window of 12 (data.seq_len); give a "
        "series of at least 12 rows")
    assert refused(capsys, [f"ckpt={checkpoint}", "steps=3", f"csv={tmp_path / 'absent.csv'}"]) == (
        f"rnnlab: error: csv '{tmp_path / 'absent.csv'}' does not exist; give the series as a CSV file with a "
        "header row")


def test_an_out_that_is_a_file_is_refused(monthly, capsys, tmp_path):
    (tmp_path / "taken").write_text("")
    assert refused(capsys, [f"ckpt={monthly[0]}", "steps=1", f"out={tmp_path / 'taken'}"]) == (
        f"rnnlab: error: out={tmp_path / 'taken'} is not a folder that can be written (File exists); give another out=")


def test_a_model_with_input_columns_forecasts_only_up_to_its_horizon(monthly):
    spec = replace(load_task(load_checkpoint(monthly[0])).spec, input_size=3)
    check_steps(spec, HORIZON)
    with pytest.raises(UserError, match=r"^steps=3 is past the model's horizon of 2: it also reads 2 input column\(s\) "
                                        r"whose future values are unknown, so its forecasts cannot be fed back in; "
                                        r"give steps=2 or fewer$"):
        check_steps(spec, HORIZON + 1)


# --- dates and the plot -----------------------------------------------------------------------------------------


def dates(*texts: str) -> np.ndarray:
    return np.array(texts, dtype="datetime64[s]")


@pytest.mark.parametrize(("frequency", "given", "expected"), [
    ("monthly", ("1999-11-01", "1999-12-01"), ("2000-01-01", "2000-02-01", "2000-03-01")),
    ("monthly", ("1999-11-30", "1999-12-31"), ("2000-01-31", "2000-02-29", "2000-03-31")),  # month ends stay ends
    ("monthly", ("1999-11-15", "1999-12-15"), ("2000-01-15", "2000-02-15", "2000-03-15")),
    ("quarterly", ("1999-09-30", "1999-12-31"), ("2000-03-31", "2000-06-30", "2000-09-30")),
    ("yearly", ("1998-01-01", "1999-01-01"), ("2000-01-01", "2001-01-01", "2002-01-01")),
    ("weekly", ("1999-12-24", "1999-12-31"), ("2000-01-07", "2000-01-14", "2000-01-21")),
    ("daily", ("1999-12-30", "1999-12-31"), ("2000-01-01", "2000-01-02", "2000-01-03")),
    ("business-daily", ("2000-01-06", "2000-01-07"), ("2000-01-10", "2000-01-11", "2000-01-12")),  # Friday -> Monday
    ("hourly", ("1999-12-31T22:00", "1999-12-31T23:00"), ("2000-01-01T00:00", "2000-01-01T01:00", "2000-01-01T02:00")),
])
def test_dates_continue_at_the_series_frequency(frequency, given, expected):
    np.testing.assert_array_equal(continue_dates(dates(*given), frequency, 3), dates(*expected))


def test_irregular_dates_are_not_continued():
    assert continue_dates(dates("2000-01-01", "2000-01-04", "2000-01-05"), "irregular", 2) is None


def test_the_plot_shows_the_last_values_and_the_forecast_against_the_dates():
    series = Series(np.arange(30.0), "sales.csv:Sales", dates=np.arange(np.datetime64("2000-01-01"),
                                                                        np.datetime64("2000-01-31")).astype("datetime64[s]"),
                    column="Sales")
    future = Future(np.array([30.0, 31.0]), ["2000-01-31", "2000-02-01"], dates("2000-01-31", "2000-02-01"),
                    "2000-01-30", "daily")
    axes = plot(series, future, shown=10).axes[0]
    history, ahead = axes.get_lines()
    assert len(history.get_xdata()) == 10 and len(ahead.get_xdata()) == 3  # joined to the last value
    assert axes.get_xlabel() == "date" and axes.get_ylabel() == "Sales"
