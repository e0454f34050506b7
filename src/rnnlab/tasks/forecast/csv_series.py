"""A series from a user's CSV: delimiter sniffed, target column, dates, missing values, all checked."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from rnnlab.errors import UserError
from rnnlab.tasks.forecast.calendar import check_increasing, parse_date

log = logging.getLogger(__name__)
DELIMITERS = ",;\t|"  # the delimiters sniffed for; anything else needs data.delimiter
MISSING = {"", "na", "n/a", "nan", "null", "none", "-"}  # cells read as a missing value (case-insensitive)
DATE_PARTS = ("year", "month", "day", "hour", "minute")  # what data.date_parts name, in this order
SHOWN_ROWS = 5  # missing rows listed in an error


@dataclass(frozen=True)
class CsvSeries:
    values: np.ndarray  # float64, missing values handled
    dates: np.ndarray | None  # datetime64[s] per value, None when the file has no dates
    column: str
    date_source: str | None  # the date column, or the part columns joined by "+"
    missing: dict[str, object] = field(default_factory=dict)  # how many values were missing and what was done
    features: np.ndarray | None = None  # [N, F] float64 input columns (data.columns), text ones one-hot
    feature_names: tuple[str, ...] = ()  # a numeric column's name, or "column=category" for a one-hot one


@dataclass(frozen=True)
class Table:
    path: str
    header: list[str]
    rows: list[list[str]]
    lines: np.ndarray  # the file line of each row (the header is line 1)
    delimiter: str
    how: str  # "sniffed" | "given" | "assumed"
    first_line: str  # the header line as written, shown when the delimiter seems wrong

    def cells(self, name: str) -> list[str]:
        index = self.header.index(name)
        return [row[index] if index < len(row) else "" for row in self.rows]

    def delimiter_note(self) -> str:
        return f"read with delimiter {self.delimiter!r} ({self.how})"


def read_table(path: str, delimiter: str | None) -> Table:
    """The rows of a CSV with a header row; the delimiter is sniffed from the first lines unless given."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"data.csv_path '{path}' does not exist; give the path of a CSV file with a header row")
    text = file.read_text(encoding="utf-8-sig", errors="replace")
    how = "given"
    if delimiter is None:
        try:
            delimiter, how = csv.Sniffer().sniff(text[:8192], delimiters=DELIMITERS).delimiter, "sniffed"
        except csv.Error:
            delimiter, how = ",", "assumed"
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for row in reader:
        if any(cell.strip() for cell in row):
            rows.append([cell.strip() for cell in row])
            lines.append(reader.line_num)
    if len(rows) < 2:
        raise UserError(f"data.csv_path '{path}' has no rows; give a CSV with a header row and values below it")
    return Table(path, rows[0], rows[1:], np.asarray(lines[1:]), delimiter, how, text.splitlines()[0])


def read_csv(path: str, column: str | None, *, delimiter: str | None = None, date_column: str | None = None,
             date_parts: list[str] | None = None, missing: str = "error",
             inputs: list[str] | None = None, missing_flags: bool = False) -> CsvSeries:
    """One numeric column of a CSV in file order, with its dates when the file has them, and the `inputs`
    columns (data.columns) beside it: numeric ones as numbers, text ones one-hot by category. With
    `missing_flags`, each numeric column whose missing values were filled in gets two more input columns:
    `<column>:missing` (1 where the value was filled in) and `<column>:last_seen` (its last observed value),
    so the model can tell a filled value from a measured one (data.missing_flags)."""
    table = read_table(path, delimiter)
    column = column if column is not None else _only_numeric_column(table)
    _require_column(table, column, "data.column")
    inputs = list(inputs or [])
    for name in inputs:
        _require_column(table, name, "data.columns")
        if name == column:
            raise UserError(f"data.columns lists the target '{column}'; the model always reads the target's past "
                            "values, so list only the other columns")
    numeric = [name for name in inputs if _numeric(table, name)]
    values = np.column_stack([_numbers(table, name) for name in [column, *numeric]])
    dates, date_source = _dates(table, column, date_column, date_parts)
    if dates is not None:
        check_increasing(dates, table.lines, path)
    filled = np.isnan(values)
    keep, values, report = _handle_missing(values, table, [column, *numeric], missing)
    encoded, names = [values[:, 1:]], list(numeric)
    if missing_flags:
        flags, flag_names = _missing_flags(values, filled[keep], [column, *numeric], missing)
        encoded.append(flags)
        names += flag_names
    for name in inputs:
        if name not in numeric:
            one_hot, categories = _one_hot(table.cells(name))
            encoded.append(one_hot[keep])
            names += [f"{name}={category}" for category in categories]
    features = np.hstack(encoded) if names else None
    dates = dates[keep] if dates is not None else None
    return CsvSeries(values[:, 0], dates, column, date_source, report, features, tuple(names))


def _missing_flags(values: np.ndarray, filled: np.ndarray, columns: list[str],
                   policy: str) -> tuple[np.ndarray, list[str]]:
    """For each column with filled-in values: 1 where filled, and the last observed value carried forward (under
    ffill that is the value itself, so only the flag)."""
    if policy in ("error", "drop"):
        raise UserError(f"data.missing_flags marks values that data.missing fills in, and data.missing={policy} "
                        "fills none; set data.missing=ffill, interpolate or zero, or data.missing_flags=false")
    flags, names = [], []
    for i, name in enumerate(columns):
        if not filled[:, i].any():
            continue
        flags.append(filled[:, i].astype(float))
        names.append(f"{name}:missing")
        if policy != "ffill":
            flags.append(_carried_forward(values[:, i], filled[:, i]))
            names.append(f"{name}:last_seen")
    return (np.column_stack(flags) if flags else np.empty((len(values), 0))), names


def _carried_forward(column: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Each row's last value not `missing` (rows before the first one take the first one's)."""
    present = np.flatnonzero(~missing)
    return column[present[np.maximum(np.searchsorted(present, np.arange(len(column)), side="right") - 1, 0)]]


def _numeric(table: Table, name: str) -> bool:
    """Whether a column holds numbers (its first present cell is one); a text column is one-hot encoded."""
    present = [cell for cell in table.cells(name) if not _is_missing(cell)]
    try:
        float(present[0])
    except (IndexError, ValueError):
        return False
    return True


def _one_hot(cells: list[str]) -> tuple[np.ndarray, list[str]]:
    """[N, categories] 0/1 columns of a text column, categories sorted; a missing cell is a row of zeros."""
    categories = sorted({cell for cell in cells if not _is_missing(cell)})
    index = {category: i for i, category in enumerate(categories)}
    one_hot = np.zeros((len(cells), len(categories)))
    for row, cell in enumerate(cells):
        if cell in index:
            one_hot[row, index[cell]] = 1.0
    return one_hot, categories


def _require_column(table: Table, name: str, key: str) -> None:
    if name not in table.header:
        # one column found: most likely the wrong delimiter, so say which one was used
        note = f" ({table.delimiter_note()})" if len(table.header) == 1 else ""
        raise UserError(f"{key} '{name}' is not in {table.path}{note}; choose one of {', '.join(table.header)}")


def _is_missing(cell: str) -> bool:
    return cell.lower() in MISSING


def _only_numeric_column(table: Table) -> str:
    candidates = [name for name in table.header if _numeric(table, name)]
    if not candidates:
        raise UserError(
            f"{table.path} has no numeric column when {table.delimiter_note()}; header found: "
            f"{table.first_line!r}; set data.delimiter to the file's delimiter "
            "or data.column to the column to forecast"
        )
    if len(candidates) != 1:
        raise UserError(
            f"{table.path} has {len(candidates)} numeric columns ({', '.join(candidates)}); "
            f"choose one with data.column=<name> (columns: {', '.join(table.header)})"
        )
    return candidates[0]


def _numbers(table: Table, column: str) -> np.ndarray:
    """The column as floats, NaN where a cell is missing; any other text is an error naming its line."""
    values = np.empty(len(table.rows))
    for i, cell in enumerate(table.cells(column)):
        if _is_missing(cell):
            values[i] = np.nan
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            raise UserError(
                f"{table.path} line {table.lines[i]}: column '{column}' holds {cell!r}, not a number; "
                "clean the file or choose another column (data.column, data.columns)"
            ) from None
    return values


def _dates(table: Table, column: str, date_column: str | None,
           date_parts: list[str] | None) -> tuple[np.ndarray | None, str | None]:
    """Dates from `data.date_parts` columns, from `data.date_column`, or else from the first column whose
    first cell is a date; (None, None) when the file has none."""
    if date_parts:
        return _dates_from_parts(table, date_parts), "+".join(date_parts)
    if date_column is None:
        first = table.rows[0]
        found = [name for i, name in enumerate(table.header)
                 if name != column and i < len(first) and parse_date(first[i]) is not None]
        if not found:
            return None, None
        date_column = found[0]
    _require_column(table, date_column, "data.date_column")
    dates = []
    for line, cell in zip(table.lines, table.cells(date_column), strict=True):
        date = parse_date(cell)
        if date is None:
            raise UserError(f"{table.path} line {line}: column '{date_column}' holds {cell!r}, not a date; "
                            "write dates as 2020-01-31 or 2020-01-31 13:00 (ISO 8601) or 2020-01")
        dates.append(date)
    return np.array(dates, dtype="datetime64[s]"), date_column


def _dates_from_parts(table: Table, parts: list[str]) -> np.ndarray:
    for name in parts:
        _require_column(table, name, "data.date_parts")
    columns = [table.cells(name) for name in parts]
    dates = []
    for i, line in enumerate(table.lines):
        cells = [column[i] for column in columns]
        try:
            numbers = [int(float(cell)) for cell in cells]
            dates.append(datetime(*numbers, *[1] * (3 - len(numbers))))
        except (ValueError, TypeError):
            shown = ", ".join(f"{name}={cell!r}" for name, cell in zip(parts, cells, strict=True))
            raise UserError(f"{table.path} line {line}: {shown} is not a date; data.date_parts names the "
                            f"columns of {', '.join(DATE_PARTS[:len(parts)])}, in that order") from None
    return np.array(dates, dtype="datetime64[s]")


def _handle_missing(values: np.ndarray, table: Table, columns: list[str],
                    policy: str) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """`data.missing` for the numeric `columns` of `values` [N, columns] (the target first): error (list the
    first rows) | drop the rows | ffill (carry the last value on) | interpolate (linearly between neighbours)
    | zero (as the Keras pollution tutorial does). Rows before the target's first value have nothing to
    forecast from: every policy but error drops them; ffill and interpolate also drop rows before an input
    column's first value, and interpolate carries the last value over trailing ones.
    Returns the rows kept (a mask over the file's rows), their values and what was done."""
    gone = np.isnan(values)
    counts = {name: int(gone[:, i].sum()) for i, name in enumerate(columns) if gone[:, i].any()}
    if not counts:
        return np.ones(len(values), dtype=bool), values, {}
    for name, count in counts.items():
        if count == len(values):
            raise UserError(f"{table.path}: column '{name}' holds no values at all; choose another column")
    if policy == "error":
        rows = gone.any(axis=1)
        shown = ", ".join(str(line) for line in table.lines[rows][:SHOWN_ROWS])
        where = ", ".join(f"'{name}' {count}" for name, count in counts.items())
        raise UserError(
            f"{table.path}: {int(rows.sum())} rows have missing values ({where}; lines {shown}"
            f"{', ...' if rows.sum() > SHOWN_ROWS else ''}); set data.missing=drop, ffill, interpolate or zero"
        )
    rows = np.arange(len(values))
    if policy == "drop":
        keep = ~gone.any(axis=1)
    elif policy == "zero":
        keep = rows >= np.argmax(~gone[:, 0])
        values = np.where(gone, 0.0, values)
    else:
        keep = rows >= max(int(np.argmax(~gone[:, i])) for i in range(values.shape[1]))
        values = values.copy()
        for i in range(values.shape[1]):
            if policy == "ffill":
                values[:, i] = _carried_forward(values[:, i], gone[:, i])
            else:
                present = np.flatnonzero(~gone[:, i])
                values[:, i] = np.interp(rows, present, values[present, i])
    log.warning("%s: missing values (%s) handled by data.missing=%s; %d rows kept", table.path,
                ", ".join(f"'{name}' {count}" for name, count in counts.items()), policy, int(keep.sum()))
    report = {"count": sum(counts.values()), "by_column": counts, "policy": policy,
              "rows_dropped": int((~keep).sum())}
    return keep, values[keep], report
