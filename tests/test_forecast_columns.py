"""Forecasting from several columns: the target's past plus input columns, numeric and text (one-hot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import run_in_process
from rnnlab.errors import UserError
from rnnlab.tasks.forecast.data import StockData
from rnnlab.tasks.forecast.schema import StockDataConfig

HOURS = 1200


def write_driven(path: Path, missing_wind: bool = False) -> str:
    """Hourly rows: `load` follows `driver` two hours later (a lagged driver the target's own past cannot
    predict) and is higher when `wind` is "calm"; dates in year/month/day/hour columns like pollution.csv."""
    rng = np.random.default_rng(0)
    driver = rng.normal(size=HOURS)
    wind = rng.choice(["calm", "NW", "SE"], size=HOURS)
    load = np.zeros(HOURS)
    load[2:] = 3 * driver[:-2] + 2 * (wind[:-2] == "calm") + 0.1 * rng.normal(size=HOURS - 2)
    lines = ["No,year,month,day,hour,load,driver,wind"]
    for i, date in enumerate(np.datetime64("2020-01-01T00") + np.arange(HOURS)):
        year, month, day, hour = date.item().year, date.item().month, date.item().day, date.item().hour
        cell = "NA" if missing_wind and i == 700 else wind[i]
        lines.append(f"{i + 1},{year},{month},{day},{hour},{load[i]:.4f},{driver[i]:.4f},{cell}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def driven_config(path: str, **fields) -> StockDataConfig:
    return StockDataConfig(**{"csv_path": path, "column": "load", "columns": ["driver", "wind"], "seq_len": 6,
                              "date_parts": ["year", "month", "day", "hour"], "scaling": "levels", **fields})


def test_input_columns_are_read_numeric_standardised_and_text_one_hot(tmp_path):
    data = StockData(driven_config(write_driven(tmp_path / "load.csv")), seed=0)
    data.setup()
    assert data.series.feature_names == ("driver", "wind=NW", "wind=SE", "wind=calm")
    assert data.spec.input_size == 5 and data.summary["columns"] == list(data.series.feature_names)
    one_hot = data.series.features[:, 1:]
    assert set(np.unique(one_hot)) == {0.0, 1.0} and (one_hot.sum(axis=1) == 1).all()
    batch, _ = next(iter(data.train_dataloader()))
    assert batch.shape == (32, 6, 5)
    train_inputs = data.model_inputs(data.windows["train"]).numpy()
    assert abs(train_inputs[..., 1].mean()) < 0.05 and abs(train_inputs[..., 1].std() - 1) < 0.05


def test_a_model_reading_the_driver_beats_every_baseline_of_the_target_alone(tmp_path):
    path = write_driven(tmp_path / "load.csv")
    results, run_dir = run_in_process(
        tmp_path, f"data.csv_path={path}", "data.column=load", "data.columns=[driver,wind]", "data.seq_len=6",
        "data.date_parts=[year,month,day,hour]", "data.scaling=levels", "model.hidden_size=16",
        "trainer.max_epochs=15", "optimizer.lr=0.01")
    metrics = results["metrics"]
    for baseline in ("naive", "linear", "seasonal_naive"):
        assert metrics["test/rmse"] < 0.5 * metrics[f"test/{baseline}_rmse"], baseline
    assert "test/linear_all_rmse" in metrics  # the least-squares line on every column, for an honest comparison
    assert (run_dir / "figures" / "forecast_vs_actual.png").is_file()


def test_a_missing_text_cell_is_a_row_of_zeros_and_a_missing_number_follows_data_missing(tmp_path):
    path = write_driven(tmp_path / "load.csv", missing_wind=True)
    data = StockData(driven_config(path), seed=0)
    data.setup()
    assert data.series.features[700, 1:].sum() == 0
    lines = Path(path).read_text().splitlines()
    lines[11] = lines[11].replace(lines[11].split(",")[6], "NA")  # the driver of the row on line 12
    Path(path).write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"1 rows have missing values \('driver' 1; lines 12\); set data.missing"):
        StockData(driven_config(path), seed=0).setup()
    data = StockData(driven_config(path, missing="interpolate"), seed=0)
    data.setup()
    assert data.series.missing["by_column"] == {"driver": 1}


@pytest.mark.parametrize("columns, message", [
    (["pressure"], r"data.columns 'pressure' is not in .*load.csv; choose one of No, year, month, day, hour, load"),
    (["load"], r"data.columns lists the target 'load'"),
])
def test_a_bad_input_column_is_named(tmp_path, columns, message):
    with pytest.raises(UserError, match=message):
        StockData(driven_config(write_driven(tmp_path / "load.csv"), columns=columns), seed=0).setup()


def test_input_columns_without_a_csv_are_refused():
    with pytest.raises(UserError, match="data.columns and data.missing_flags read columns of a CSV; set data.csv_path"):
        StockData(StockDataConfig(columns=["x"]), seed=0).setup()


def test_missing_flags_mark_filled_values_and_carry_the_last_measured_one(tmp_path):
    path = tmp_path / "load.csv"
    write_driven(path)
    lines = path.read_text().splitlines()
    for line in (11, 12):  # the load of the rows on file lines 12 and 13 (indexes 10 and 11)
        cells = lines[line].split(",")
        cells[5] = "NA"
        lines[line] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    data = StockData(driven_config(str(path), missing="zero", missing_flags=True), seed=0)
    data.setup()
    names = list(data.series.feature_names)
    assert {"load:missing", "load:last_seen"} <= set(names) and "driver:missing" not in names
    flags = data.series.features[:, names.index("load:missing")]
    last_seen = data.series.features[:, names.index("load:last_seen")]
    assert flags[10] == flags[11] == 1 and flags.sum() == 2
    assert data.series.values[10] == data.series.values[11] == 0  # scored as filled, as the tutorial does
    assert last_seen[10] == last_seen[11] == data.series.values[9] and last_seen[12] == data.series.values[12]
    with pytest.raises(UserError, match="data.missing_flags marks values that data.missing fills in"):
        StockData(driven_config(str(path), missing="drop", missing_flags=True), seed=0).setup()
