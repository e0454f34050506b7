"""Exponential smoothing (ETS with additive errors: a level, optionally a damped trend and an additive season)
as a forecasting baseline, fitted on the training part only.

Written here in numpy rather than taken from a library: statsmodels (ETSModel, ExponentialSmoothing) needs
scipy, pandas and patsy (60 MB of wheels, about 300 MB installed) and statsforecast needs statsmodels, scipy and
pandas in turn, for a model that is a four-line recursion. Checked against statsmodels' ExponentialSmoothing:
the same one-step forecasts to 1e-13 given the same parameters and initial state.

The model (Hyndman et al., "Forecasting with Exponential Smoothing", 2008, error-correction form):

    forecast  f_t = l + phi b + s_{t-m}          error e_t = y_t - f_t
    level     l <- l + phi b + alpha e_t
    trend     b <- phi b + beta e_t              (no trend: b = 0)
    season    s_t = s_{t-m} + gamma e_t          (no season: s = 0)

with 0 <= alpha <= 1, 0 <= beta <= alpha, 0 <= gamma <= 1 - alpha and 0.8 <= phi <= 1 (phi = 1: Holt's
undamped trend). Two models are fitted, without and with the damped trend, and two more with the season when one
is given; the smallest AIC wins. A season the dates imply but the data lacks (the weekly "season" of daily
temperatures) costs m - 1 initial states for nothing and is dropped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

# Parameters are fitted on the last this-many training values: the filter is a Python loop (~0.3 s of fitting
# for 5,000); hourly pollution's test RMSE is the same to 4 digits fitted on 15,000 or 30,000.
MAX_FIT_POINTS = 5000
INIT_POINTS = 10  # without a season, the initial level and trend come from a line through this many values
PHI_MIN = 0.8
ALPHA_GRID = (0.1, 0.3, 0.5, 0.7, 0.9)  # the coarse grid of the coordinates in [0, 1] (see _parameters)
GRID = (1 / 6, 1 / 2, 5 / 6)  # ... of the other coordinates
TOLERANCE = 1 / 200  # the local search stops when its step in those coordinates is below this
FLUSH_EVERY, TINY = 500, 1e-250  # phi >= 0.8 takes 1e-250 to 1e-298 in 500 steps, not yet subnormal (< 2e-308)


@dataclass(frozen=True)
class State:
    """Level and trend before the first filtered value, and the season of the `m` values before it."""

    level: float
    trend: float
    season: np.ndarray  # [m], by phase (index t % m); [1] of zeros without a season


@dataclass(frozen=True)
class EtsModel:
    """A fitted model: its parameters and the state it starts from at `values[start]`."""

    trend: bool  # damped trend
    season: int | None
    alpha: float
    beta: float
    gamma: float
    phi: float
    start: int
    initial: State
    sse: float  # one-step squared error on the values it was fitted to
    aic: float

    @property
    def name(self) -> str:
        trend = ("Ad" if self.phi < 1 else "A") if self.trend else "N"
        return f"ETS(A,{trend},{'A' if self.season else 'N'})"

    def forecast(self, values: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
        """[N, horizon] forecasts of values[s:s + horizon] from the state after filtering values[start:s], for
        each s in `starts` (> start): one filter pass with the fitted parameters, no refitting."""
        if starts.min() <= self.start:
            raise ValueError(f"forecast origins must come after the first filtered value ({self.start})")
        parameters = (np.array([p]) for p in (self.alpha, self.beta, self.gamma, self.phi))
        levels, trends, seasons = _filter(np.asarray(values[self.start:], dtype=float), *parameters,
                                          np.array([self.initial.level]), np.array([self.initial.trend]),
                                          self.initial.season[:, None], record=True)
        m = len(self.initial.season)
        history = np.concatenate([self.initial.season, seasons[:, 0]])  # history[m + t]: season after value t
        last = starts - self.start - 1  # the last value filtered before each origin
        steps = np.arange(horizon)
        damping = np.cumsum(self.phi ** np.arange(1, horizon + 1))
        season = history[m + last[:, None] + 1 + steps - m * (steps // m + 1)]  # its phase's latest, up to `last`
        return levels[last] + damping * trends[last] + season


def ets_forecast(values: np.ndarray, train_end: int, starts: np.ndarray, horizon: int,
                 season: int | None) -> np.ndarray:
    """Exponential smoothing fitted on values[:train_end]: [N, horizon] forecasts of values[s:s + horizon] for
    each s in `starts` (>= train_end) from the values before s, in original units."""
    if starts.min() < train_end:
        raise ValueError(f"forecast origins must not be in the training part (< {train_end})")
    return fit_ets(values[:train_end], season).forecast(values, starts, horizon)


def fit_ets(train: np.ndarray, season: int | None, max_points: int = MAX_FIT_POINTS) -> EtsModel:
    """The model of smallest AIC among those without and with a damped trend, and with and without `season`,
    each fitted to the last `max_points` values of `train` (at least two) by least one-step squared error.
    A season needs two seasons of those values; with fewer it is left out."""
    start = max(0, len(train) - max_points)
    y = np.asarray(train[start:], dtype=float)
    seasons = [None] + ([season] if season is not None and season > 1 and len(y) >= 2 * season else [])
    candidates = [(trend, m, _initial_state(y, m, trend)) for trend in (False, True) for m in seasons]
    fits = []
    for (trend, m, initial), ((alpha, beta, gamma, phi), sse) in zip(candidates, _least_squares(y, candidates)):
        count = 2 + 3 * trend + (m or 0)  # smoothing parameters and initial states (the season sums to zero)
        aic = len(y) * np.log(max(sse, 1e-300) / len(y)) + 2 * count
        fits.append(EtsModel(trend, m, alpha, beta, gamma, phi, start, initial, sse, aic))
    return min(fits, key=lambda fit: fit.aic)


def _initial_state(y: np.ndarray, m: int | None, trend: bool) -> State:
    """The usual heuristic (R's HoltWinters): level and trend from the means of the first two seasons, the season
    from the mean deviation of each phase from the line through them; without a season, the line through the
    first INIT_POINTS values. Without a trend, the trend is 0."""
    if m is None:
        count = min(len(y), INIT_POINTS)
        slope, intercept = np.polyfit(np.arange(count), y[:count], 1)
        level, season = intercept - slope, np.zeros(1)
    else:
        first = y[:m].mean()
        slope = (y[m:2 * m].mean() - first) / m
        deviation = (y[:2 * m] - first - slope * (np.arange(2 * m) - (m - 1) / 2)).reshape(2, m).mean(axis=0)
        level, season = first - slope * (m + 1) / 2, deviation - deviation.mean()
    return State(float(level), float(slope) if trend else 0.0, season)


def _parameters(u: np.ndarray, trend: np.ndarray, seasonal: np.ndarray) -> tuple[np.ndarray, ...]:
    """alpha, beta, gamma, phi [K] from coordinates u [K, 4] in [0, 1], squared where small values matter;
    beta = 0 without a trend, gamma = 0 without a season."""
    alpha = u[:, 0] ** 2
    return alpha, alpha * u[:, 1] ** 2 * trend, (1 - alpha) * u[:, 2] ** 2 * seasonal, PHI_MIN + (1 - PHI_MIN) * u[:, 3]


def _least_squares(y: np.ndarray, candidates: list[tuple[bool, int | None, State]]
                   ) -> list[tuple[tuple[float, ...], float]]:
    """The parameters (alpha, beta, gamma, phi) of least one-step squared error of each candidate, and that error:
    a coarse grid, then a 3^k grid around the best point over the candidate's k free coordinates, moving to its
    best neighbour or else halving the step. Every candidate is searched in the same filter passes."""
    trends = np.array([trend for trend, _, _ in candidates])
    seasonals = np.array([m is not None for _, m, _ in candidates])
    width = max(len(initial.season) for _, _, initial in candidates)
    seasons = np.stack([np.zeros(width) if m is None else initial.season for _, m, initial in candidates], axis=1)

    def sse(which: list[int], points: list[np.ndarray]) -> list[np.ndarray]:
        """The one-step squared error at each point [n, 4] of the candidates in `which`, in one filter pass."""
        rows = np.repeat(which, [len(p) for p in points])
        with np.errstate(over="ignore", invalid="ignore"):
            errors = _filter(y, *_parameters(np.concatenate(points), trends[rows], seasonals[rows]),
                             np.array([candidates[i][2].level for i in rows]),
                             np.array([candidates[i][2].trend for i in rows]), seasons[:, rows])
            total = np.square(errors).sum(axis=0)
        return np.split(np.where(np.isfinite(total), total, np.inf), np.cumsum([len(p) for p in points])[:-1])

    everyone = list(range(len(candidates)))
    free = [[0] + [1, 3] * bool(trend) + [2] * bool(seasonal) for trend, seasonal in zip(trends, seasonals)]
    grids = [np.array(list(itertools.product(*[ALPHA_GRID if i == 0 else GRID if i in f else (1.0,)
                                               for i in range(4)]))) for f in free]
    offsets = [np.zeros((3 ** len(f) - 1, 4)) for f in free]
    for f, offset in zip(free, offsets):
        offset[:, f] = [step for step in itertools.product((-1, 0, 1), repeat=len(f)) if any(step)]
    best = [(grid[scores.argmin()], scores.min()) for grid, scores in zip(grids, sse(everyone, grids))]
    steps = [(GRID[1] - GRID[0]) / 2] * len(candidates)
    while max(steps) >= TOLERANCE:
        active = [i for i in everyone if steps[i] >= TOLERANCE]
        near = [np.clip(best[i][0] + steps[i] * offsets[i], 0, 1) for i in active]
        for i, points, scores in zip(active, near, sse(active, near)):
            if scores.min() < best[i][1]:
                best[i] = points[scores.argmin()], scores.min()
            else:
                steps[i] /= 2
    return [(tuple(float(p[0]) for p in _parameters(u[None], trends[i:i + 1], seasonals[i:i + 1])), float(score))
            for i, (u, score) in enumerate(best)]


def _filter(y: np.ndarray, alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray, phi: np.ndarray,
            level: np.ndarray, trend: np.ndarray, season: np.ndarray, record: bool = False):
    """Run K models (parameters, level and trend [K], season [m, K] by phase) through y: the one-step errors
    [T, K], or with `record` the level, trend and season of the current phase after each value (3 x [T, K])."""
    season = season.astype(float)  # a copy: updated in place
    m = len(season)
    out = np.empty((3 if record else 1, len(y), len(alpha)))
    for t, value in enumerate(y):
        phase = season[t % m]
        damped = phi * trend
        base = level + damped
        error = value - base - phase
        level = base + alpha * error
        trend = damped + beta * error
        phase += gamma * error
        if t % FLUSH_EVERY == 0:  # a decaying trend would reach subnormal numbers, 10-100x slower to compute with
            trend[np.abs(trend) < TINY] = 0.0
        if record:
            out[:, t] = level, trend, phase
        else:
            out[0, t] = error
    return tuple(out) if record else out[0]
