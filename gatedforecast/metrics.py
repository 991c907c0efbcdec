"""Forecast accuracy as the M4 competition scores it: sMAPE, MASE, MSIS, coverage.

One series is a 1-D array of its horizon's values; several series are a 2-D array
of shape ``(n_series, horizon)``, and their score is the mean of the per-series
scores (the M4 way). The training part a score is scaled by (``insample``) is one
1-D array for one series, or a sequence of 1-D arrays, one per series, which may
differ in length.

The ``gatedforecast compare`` command and the benchmarks in ``benchmarks/`` score
with these functions. Only numpy is needed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["interval_coverage", "mase", "mase_scale", "msis", "smape"]


def _series(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(
            "expected one series (a 1-D array) or several (a 2-D array of shape "
            f"(n_series, horizon)); got an array of {values.ndim} dimension(s)."
        )
    return values


def _histories(insample, n_series: int | None) -> list[np.ndarray]:
    """The training parts, one per series (``n_series`` None: one series)."""
    if n_series is None:
        return [np.asarray(insample, dtype=np.float64)]
    histories = [np.asarray(history, dtype=np.float64) for history in insample]
    if len(histories) != n_series:
        raise ValueError(
            f"insample holds {len(histories)} training series, but the forecasts "
            f"have {n_series}; pass one training array per series."
        )
    return histories


def smape(actual, forecast) -> float:
    """Symmetric mean absolute percentage error in percent, as in M4.

    ``200 / h * sum(|actual - forecast| / (|actual| + |forecast|))`` per series,
    averaged over the series; a step where actual and forecast are both 0 counts
    as 0.

    Parameters
    ----------
    actual, forecast : array-like of shape (horizon,) or (n_series, horizon)
        The actual values and their forecasts.

    Returns
    -------
    float
        sMAPE between 0 and 200.

    Examples
    --------
    >>> from gatedforecast.metrics import smape
    >>> smape([100.0, 200.0], [110.0, 190.0])
    7.3260...
    >>> smape([[1.0, 1.0], [0.0, 2.0]], [[1.0, 1.0], [0.0, 2.0]])
    0.0
    """
    actual, forecast = _series(actual), _series(forecast)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    if ratio.ndim == 1:
        return float(200 * ratio.mean())
    return float(np.mean(200.0 * np.mean(ratio, axis=1)))


def mase_scale(insample, season: int = 1) -> float:
    """MASE's denominator: the mean absolute ``season``-step difference of a
    training series (the in-sample error of the seasonal naive forecast).

    Parameters
    ----------
    insample : array-like of shape (n_obs,)
        The training part of one series.
    season : int, default=1
        Season length in steps; 1 scales by the last-value naive forecast.

    Returns
    -------
    float
        The scale; NaN where it is undefined (no more than ``season``
        observations) or 0 (a series without change), as no error can be scaled
        by it.

    Examples
    --------
    >>> from gatedforecast.metrics import mase_scale
    >>> mase_scale([1.0, 2.0, 4.0])
    1.5
    >>> mase_scale([5.0, 5.0, 5.0])
    nan
    """
    insample = np.asarray(insample, dtype=np.float64)
    if len(insample) <= season:
        return float("nan")
    scale = float(np.mean(np.abs(insample[season:] - insample[:-season])))
    return scale if scale > 0 else float("nan")


def mase(actual, forecast, insample, season: int = 1) -> float:
    """Mean absolute scaled error, as in M4.

    The mean absolute error of each series over its :func:`mase_scale`,
    averaged over the series.

    Parameters
    ----------
    actual, forecast : array-like of shape (horizon,) or (n_series, horizon)
        The actual values and their forecasts.
    insample : array-like of shape (n_obs,), or a sequence of them
        The training part of the series (one array per series for 2-D
        ``actual``).
    season : int, default=1
        Season length in steps of the scale.

    Returns
    -------
    float
        MASE; NaN where a series' scale is undefined or 0.

    Examples
    --------
    >>> from gatedforecast.metrics import mase
    >>> mase([5.0, 6.0], [4.0, 6.0], insample=[1.0, 2.0, 4.0])
    0.3333...
    >>> mase([[5.0], [1.0]], [[4.0], [1.0]], insample=[[1.0, 2.0], [3.0, 1.0]])
    0.5
    """
    actual, forecast = _series(actual), _series(forecast)
    if actual.ndim == 1:
        scale = mase_scale(insample, season)
        return float(np.mean(np.abs(actual - forecast)) / scale)
    histories = _histories(insample, len(actual))
    scores = [
        np.mean(np.abs(actual[i] - forecast[i])) / mase_scale(history, season)
        for i, history in enumerate(histories)
    ]
    return float(np.mean(scores))


def msis(actual, lower, upper, insample, alpha: float = 0.05, season: int = 1):
    """Mean scaled interval score of ``1 - alpha`` prediction intervals, as in M4.

    Per step the interval's width, plus ``2 / alpha`` times the distance by which
    the actual value falls outside it; the mean over the horizon over the
    series' :func:`mase_scale`, averaged over the series. Lower is better.

    Parameters
    ----------
    actual, lower, upper : array-like of shape (horizon,) or (n_series, horizon)
        The actual values and the intervals' bounds.
    insample : array-like of shape (n_obs,), or a sequence of them
        The training part of the series (one array per series for 2-D
        ``actual``).
    alpha : float, default=0.05
        One minus the intervals' nominal coverage (0.05 for 95 % intervals).
    season : int, default=1
        Season length in steps of the scale.

    Returns
    -------
    float
        MSIS; NaN where a series' scale is undefined or 0.

    Examples
    --------
    >>> from gatedforecast.metrics import msis
    >>> msis([5.0, 6.0], [4.0, 6.5], [6.0, 7.5], insample=[1.0, 2.0, 4.0])
    7.666...
    """
    actual, lower, upper = _series(actual), _series(lower), _series(upper)
    one = actual.ndim == 1
    if one:
        actual, lower, upper = actual[None], lower[None], upper[None]
    histories = _histories(insample, None if one else len(actual))
    scores = []
    for i, history in enumerate(histories):
        width = upper[i] - lower[i]
        below = (2 / alpha) * (lower[i] - actual[i]) * (actual[i] < lower[i])
        above = (2 / alpha) * (actual[i] - upper[i]) * (actual[i] > upper[i])
        scores.append(np.mean(width + below + above) / mase_scale(history, season))
    return float(np.mean(scores))


def interval_coverage(actual, lower, upper) -> float:
    """Share of the actual values inside their intervals (bounds included).

    Parameters
    ----------
    actual, lower, upper : array-like of the same shape
        The actual values and the intervals' bounds; a NaN bound counts as a
        miss.

    Returns
    -------
    float
        The share, between 0 and 1.

    Examples
    --------
    >>> from gatedforecast.metrics import interval_coverage
    >>> interval_coverage([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 3.0], [2.0, 3.0, 4.0, 5.0])
    0.75
    """
    actual = np.asarray(actual, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    return float(np.mean((lower <= actual) & (actual <= upper)))
