"""Split-conformal quantiles from calibration residuals.

Residuals are measured on windows held out from training (the last ones of each
series), after dividing by the spread the forecast was scaled with, so one set of
residuals serves series of any level. A quantile at level ``alpha`` is the
conformal order statistic of the residuals of its horizon step.

A flat window (a spread of next to nothing, as in the zero stretches of an
intermittent series or a constant stretch before a jump) says nothing about the size
of the errors that follow it; dividing by its spread would inflate a residual by
orders of magnitude. :func:`normalizing_spread` gives such windows the typical
window spread of their series instead.
"""

from __future__ import annotations

import math
import sys
import warnings
from statistics import NormalDist

import numpy as np

__all__ = [
    "calibration_windows",
    "conformal_quantiles",
    "extend_to_steps",
    "interpolate_levels",
    "normalizing_spread",
    "typical_spreads",
    "unresolved_coverages",
    "warn_unresolved",
]

#: total calibration residuals per horizon step that ``calibration_size="auto"`` aims
#: for: enough for a 95 % interval (19) with a little to spare
AUTO_RESIDUALS = 20
#: at most this share of a series' windows is held out for calibration
MAX_CALIBRATION_SHARE = 0.25
#: a window whose spread is under this share of its series' typical window spread
#: is flat: its residuals are measured against the typical spread instead (no
#: window of ordinary series comes this low: on airline, lynx, shampoo sales,
#: US macro series and random walks, windows of 12 or more values stay above 7 %)
FLAT_SPREAD_SHARE = 0.05


def typical_spreads(series: list[np.ndarray], window: int) -> np.ndarray:
    """The typical spread of each series' windows: the root mean square of the
    standard deviations of all its windows of ``window`` values, per channel.

    Parameters
    ----------
    series : list of ndarray of shape (n_t, n_channels)
    window : int

    Returns
    -------
    ndarray of shape (len(series), n_channels)
        Zero for a series shorter than ``window`` or constant.
    """
    out = []
    for values in series:
        values = np.asarray(values, dtype=np.float64)
        if len(values) < window:
            out.append(np.zeros(values.shape[1]))
            continue
        if np.isnan(values).any():
            out.append(_typical_spread_observed(values, window))
            continue
        # each window's variance from running sums, in time linear in the series'
        # length and without a copy per window; centring first keeps the
        # difference of sums accurate
        centred = values - values.mean(axis=0)
        zero = np.zeros((1, values.shape[1]))
        sums = np.cumsum(np.vstack([zero, centred]), axis=0)
        squares = np.cumsum(np.vstack([zero, centred**2]), axis=0)
        mean = (sums[window:] - sums[:-window]) / window
        variance = (squares[window:] - squares[:-window]) / window - mean**2
        # what the sums leave of a flat window is rounding: zero, as for std
        flat = variance < 1e-10 * np.mean(centred**2, axis=0)
        variance[flat] = 0.0
        out.append(np.sqrt(np.mean(variance, axis=0)))
    return np.stack(out)


def _typical_spread_observed(values: np.ndarray, window: int) -> np.ndarray:
    """:func:`typical_spreads` of one series with missing (NaN) values: each
    window's standard deviation is that of its observed values, and windows
    without one are left out (a channel with none in any window: zero)."""
    observed = ~np.isnan(values)
    centred = np.where(observed, values - np.nanmean(values, axis=0), 0.0)
    zero = np.zeros((1, values.shape[1]))

    def running(v):
        sums = np.cumsum(np.vstack([zero, v]), axis=0)
        return sums[window:] - sums[:-window]

    counts = running(observed.astype(np.float64))
    seen = counts > 0
    count = np.where(seen, counts, 1.0)
    mean = running(centred) / count
    variance = np.maximum(running(centred**2) / count - mean**2, 0.0)
    flat = variance < 1e-10 * np.nanmean(np.where(observed, centred**2, np.nan), 0)
    variance[flat] = 0.0
    variance = np.where(seen, variance, 0.0)
    n_seen = seen.sum(axis=0)
    return np.sqrt(variance.sum(axis=0) / np.maximum(n_seen, 1))


def normalizing_spread(spread: np.ndarray, typical: np.ndarray) -> np.ndarray:
    """The spread that residuals are divided by and offsets multiplied by.

    Parameters
    ----------
    spread : ndarray of shape (n, 1, n_channels)
        Spreads of ``n`` windows.
    typical : ndarray of shape (n, n_channels)
        Typical window spread of each window's series (:func:`typical_spreads`).

    Returns
    -------
    ndarray of shape (n, 1, n_channels)
        ``spread``, except that flat windows, below :data:`FLAT_SPREAD_SHARE` of
        their series' typical spread, take the typical spread. A window's spread is
        informative about the size of its forecast errors only when the window
        moves; on flat ones the errors come from the jumps the series makes
        elsewhere, whose size the typical spread measures. Dividing by a flat
        window's own spread (next to zero) and multiplying by a moving window's
        would otherwise inflate intervals by orders of magnitude.
    """
    typical = np.asarray(typical)[:, None, :]
    return np.where(spread < FLAT_SPREAD_SHARE * typical, typical, spread)


def calibration_windows(
    lengths: list[int], window: int, head: int, horizon: int, size
) -> np.ndarray:
    """Windows held out for calibration in each series.

    Parameters
    ----------
    lengths : list of int
        Series lengths.
    window, head : int
        Input length and training head of the network.
    horizon : int
        Steps each calibration window is forecast over.
    size : int or "auto"
        Windows per series; ``"auto"`` aims at :data:`AUTO_RESIDUALS` in total,
        at most a quarter of each series' windows.

    Returns
    -------
    ndarray of int
        Windows per series; the training part of series ``i`` then ends
        ``horizon + n_i - 1`` values before its end.
    """
    lengths = np.asarray(lengths)
    available = lengths - window - horizon + 1
    # training keeps at least one window of its own
    available = np.minimum(available, lengths - window - head - horizon + 1)
    available = np.maximum(available, 0)
    if size == "auto":
        wanted = math.ceil(AUTO_RESIDUALS / len(lengths))
        share = np.floor(MAX_CALIBRATION_SHARE * (lengths - window - head + 1))
        return np.minimum(np.minimum(wanted, np.maximum(share, 1)), available).astype(
            int
        )
    return np.minimum(int(size), available).astype(int)


def unresolved_coverages(n: int, alpha) -> list[float]:
    """The coverages ``|2a - 1|`` of the levels ``alpha`` that ``n`` residuals
    cannot resolve: those above ``n / (n + 1)``."""
    short = []
    for a in alpha:
        coverage = abs(2 * a - 1)
        if math.ceil((n + 1) * coverage - 1e-9) > n:
            short.append(coverage)
    return short


def _caller_level() -> int:
    """The ``stacklevel`` that names the first caller outside this package and
    sktime (the user's ``predict_interval`` call) for a warning raised by the
    function that calls this one."""
    frame, level = sys._getframe(2), 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] not in ("gatedforecast", "sktime"):
            return level
        frame, level = frame.f_back, level + 1
    return level


def warn_unresolved(n: int, coverages: list[float], stacklevel: int | None = None):
    """Warn that ``n`` residuals per step are too few for ``coverages``;
    ``stacklevel`` (as for ``warnings.warn``, counted from the caller) defaults to
    the first caller outside this package and sktime."""
    stacklevel = _caller_level() if stacklevel is None else stacklevel
    need = max(math.ceil(c / (1 - c)) for c in coverages)
    warnings.warn(
        f"Only {n} calibration residual(s) per step: too few for coverage "
        f"{sorted(set(round(c, 6) for c in coverages))}, which needs at least "
        f"{need}. Those intervals extend the largest residual (the quantile at "
        f"coverage {n}/{n + 1}) with a normal tail, so a wider coverage always "
        "gives a wider interval. Hold out more calibration windows "
        "(calibration_size) for exact conformal intervals.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def conformal_quantiles(residuals: np.ndarray, alpha, warn: bool = True) -> np.ndarray:
    """Offsets from the point forecast at the quantile levels ``alpha``, per step.

    Parameters
    ----------
    residuals : ndarray of shape (n, steps, channels)
        Calibration residuals (scaled).
    alpha : sequence of float in (0, 1)
    warn : bool, default=True
        Warn when ``n`` is too small for a level.

    Returns
    -------
    ndarray of shape (len(alpha), steps, channels)

    Notes
    -----
    Intervals are symmetric around the point forecast: level ``a`` is the point
    forecast plus (above one half) or minus (below) the split-conformal quantile of
    the absolute residuals at coverage ``c = |2a - 1|``, the
    ``ceil((n + 1) c)``-th smallest, which covers with probability at least ``c``
    on exchangeable data. The largest coverage ``n`` residuals resolve is
    ``r = n / (n + 1)``, whose quantile is the largest absolute residual ``m``.
    Beyond it (``(n + 1) c > n``, i.e. fewer than 19 residuals for a 95 %
    interval) the quantile follows a normal tail from there,
    ``m * z((1 + c) / 2) / z((1 + r) / 2)`` with ``z`` the standard normal
    quantile, so a wider coverage always gives a strictly wider interval (unless
    every residual is zero); ``warn`` then raises a warning.
    """
    if np.isnan(residuals).any():
        return _conformal_observed(residuals, alpha, warn)
    n = residuals.shape[0]
    ordered = np.sort(np.abs(residuals), axis=0)
    z = NormalDist().inv_cdf
    resolved = z((1 + n / (n + 1)) / 2)
    out = np.empty((len(alpha), *residuals.shape[1:]))
    for i, a in enumerate(alpha):
        coverage = abs(2 * a - 1)
        rank = math.ceil((n + 1) * coverage - 1e-9)
        if rank == 0:
            width = np.zeros(residuals.shape[1:])
        elif rank <= n:
            width = ordered[rank - 1]
        else:
            width = ordered[-1] * (z((1 + coverage) / 2) / resolved)
        out[i] = width if a >= 0.5 else -width
    short = unresolved_coverages(n, alpha)
    if warn and short:
        warn_unresolved(n, short, stacklevel=2)
    return out


def _conformal_observed(residuals: np.ndarray, alpha, warn: bool) -> np.ndarray:
    """:func:`conformal_quantiles` of residuals some of which are missing (NaN:
    a missing true value), step by step and channel by channel on the others;
    NaN where a step and channel has none."""
    out = np.full((len(alpha), *residuals.shape[1:]), np.nan)
    fewest = residuals.shape[0]
    for cell in np.ndindex(*residuals.shape[1:]):
        values = residuals[(slice(None), *cell)]
        values = values[~np.isnan(values)]
        fewest = min(fewest, len(values))
        if len(values):
            column = conformal_quantiles(values.reshape(-1, 1), alpha, warn=False)
            out[(slice(None), *cell)] = column[:, 0]
    short = unresolved_coverages(fewest, alpha)
    if warn and short:
        warn_unresolved(fewest, short, stacklevel=3)
    return out


def extend_to_steps(values: np.ndarray, n_steps: int) -> np.ndarray:
    """Offsets or residual paths of shape ``(..., steps, channels)`` for
    ``n_steps``; steps beyond the calibrated ones take the last calibrated step's
    values grown by ``sqrt(step / calibrated_steps)``."""
    calibrated = values.shape[-2]
    if n_steps <= calibrated:
        return values[..., :n_steps, :]
    steps = np.arange(calibrated + 1, n_steps + 1)
    growth = np.sqrt(steps / calibrated)[:, None]
    return np.concatenate([values, values[..., -1:, :] * growth], axis=-2)


def interpolate_levels(values: np.ndarray, levels, alpha) -> np.ndarray:
    """Quantiles at the levels ``alpha`` from quantiles at the trained ``levels``.

    Parameters
    ----------
    values : ndarray of shape (..., n_levels)
        Sorted quantiles at ``levels`` (which include 0.5).
    levels : sequence of float, increasing
    alpha : sequence of float in (0, 1)

    Returns
    -------
    ndarray of shape (len(alpha), ...)

    Notes
    -----
    Between trained levels the quantile is interpolated linearly. Beyond the
    outermost level ``t`` it follows a normal tail fitted to the distance between
    the median ``m`` and that level: ``q(a) = m + (q(t) - m) * z(a) / z(t)``, with
    ``z`` the standard normal quantile, so tails widen like a normal distribution's
    with the spread the head learned.
    """
    levels = np.asarray(levels, dtype=float)
    median = values[..., list(levels).index(0.5)]
    z = NormalDist().inv_cdf
    out = []
    for a in alpha:
        if a < levels[0]:
            q = median + (values[..., 0] - median) * z(a) / z(levels[0])
        elif a > levels[-1]:
            q = median + (values[..., -1] - median) * z(a) / z(levels[-1])
        else:
            upper = int(np.searchsorted(levels, a))
            if levels[upper] == a:
                q = values[..., upper]
            else:
                lower = upper - 1
                weight = (a - levels[lower]) / (levels[upper] - levels[lower])
                q = (1 - weight) * values[..., lower] + weight * values[..., upper]
        out.append(q)
    return np.stack(out)
