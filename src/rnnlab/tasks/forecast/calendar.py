"""Dates of a series: parsed from a CSV, checked for order, their frequency, gaps and season inferred."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from rnnlab.errors import UserError

DATE_FORMATS = ("%Y-%m", "%Y/%m/%d", "%Y/%m", "%d.%m.%Y")  # besides ISO 8601 (datetime.fromisoformat)
HOUR, DAY = 3600, 86400
# name, fixed step in seconds (None: counted in calendar months), months per step, the season it implies
FREQUENCIES = (
    ("hourly", HOUR, None, 24),
    ("daily", DAY, None, 7),
    ("weekly", 7 * DAY, None, 52),
    ("monthly", None, 1, 12),
    ("quarterly", None, 3, 4),
    ("yearly", None, 12, 1),
)
SHOWN_GAPS = 5  # gaps listed by name in the warning and metrics.json


def parse_date(text: str) -> datetime | None:
    """ISO 8601 (`1981-01-01`, `2010-01-01 13:00`) or a few common forms (`1960-01`, `2020/01/31`); None
    when `text` is not a date (plain numbers are not dates: they are values or row numbers)."""
    text = text.strip()
    try:
        float(text)
        return None
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for layout in DATE_FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def check_increasing(dates: np.ndarray, lines: np.ndarray, path: str) -> None:
    """Dates must strictly increase down the file: a forecast of a shuffled or doubled series means nothing."""
    steps = np.diff(dates)
    bad = np.flatnonzero(steps <= np.timedelta64(0, "s"))
    if len(bad):
        i = int(bad[0])
        earlier, later, line = _show(dates[i]), _show(dates[i + 1]), int(lines[i + 1])
        if dates[i] == dates[i + 1]:
            raise UserError(f"{path} line {line}: the date {later} repeats line {int(lines[i])}'s; "
                            "keep one row per date (remove or aggregate the duplicates)")
        raise UserError(f"{path} line {line}: the date {later} comes after {earlier} on line {int(lines[i])}; "
                        "sort the file by date (oldest first)")


@dataclass(frozen=True)
class Calendar:
    """What the dates say: how often the series is sampled, and where points are missing."""

    first: str
    last: str
    frequency: str  # hourly | daily | business-daily | weekly | monthly | quarterly | yearly | irregular
    season: int | None  # the usual season of that frequency (12 for monthly), None when unknown
    gaps: list[str]  # the first SHOWN_GAPS gaps, "after 1960-03: 2 missing"
    gap_count: int
    missing_points: int

    def report(self) -> dict[str, object]:
        return {"first": self.first, "last": self.last, "frequency": self.frequency, "gaps": self.gap_count,
                "missing_points": self.missing_points, "first_gaps": self.gaps}


def describe_dates(dates: np.ndarray) -> Calendar:
    """Infer the sampling frequency from the median step and count the steps longer than it (gaps)."""
    seconds = np.diff(dates).astype("timedelta64[s]").astype(np.int64)
    months = np.diff(_month_number(dates))
    frequency, season, missed = "irregular", None, np.zeros(len(seconds), dtype=np.int64)
    if len(seconds):
        median = float(np.median(seconds))
        for name, step, month_step, implied in FREQUENCIES:
            if step is not None and median == step:
                frequency, season, missed = name, implied, seconds // step - 1
                break
            if month_step is not None and abs(median - month_step * 30.44 * DAY) < 3 * DAY * month_step:
                frequency, season, missed = name, implied, months // month_step - 1
                break
    days = dates.astype("datetime64[D]")
    if frequency == "daily" and np.is_busday(days).all():  # trading days: weekends are not gaps
        frequency, season, missed = "business-daily", 5, np.busday_count(days[:-1], days[1:]) - 1
    gap_at = np.flatnonzero(missed > 0)
    gaps = [f"after {_show(dates[i])}: {int(missed[i])} missing" for i in gap_at[:SHOWN_GAPS]]
    return Calendar(_show(dates[0]), _show(dates[-1]), frequency, season, gaps, len(gap_at), int(missed[gap_at].sum()))


def continue_dates(dates: np.ndarray, frequency: str, count: int) -> np.ndarray | None:
    """The `count` dates after the last of `dates` at `frequency` (`describe_dates`'): business days skip weekends,
    monthly, quarterly and yearly dates keep their day of the month (month ends stay month ends), every date its
    time of day; None for irregular dates."""
    last = dates[-1].astype("datetime64[s]")
    day = last.astype("datetime64[D]")
    time_of_day, ahead = last - day, np.arange(1, count + 1)
    if frequency == "business-daily":
        return np.busday_offset(day, ahead) + time_of_day
    steps = {name: (seconds, months) for name, seconds, months, _ in FREQUENCIES}
    if frequency not in steps:
        return None
    seconds, months = steps[frequency]
    if seconds is not None:
        return last + ahead * np.timedelta64(seconds, "s")
    month = day.astype("datetime64[M]")
    future = month + ahead * months
    future_ends = (future + 1).astype("datetime64[D]") - 1
    if day == (month + 1).astype("datetime64[D]") - 1:
        return future_ends + time_of_day
    into_month = day - month.astype("datetime64[D]")
    return np.minimum(future.astype("datetime64[D]") + into_month, future_ends) + time_of_day


def _month_number(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[M]").astype(np.int64)


def _show(date: np.datetime64) -> str:
    text = str(date.astype("datetime64[s]")).replace("T", " ")
    return text.removesuffix(" 00:00:00")
