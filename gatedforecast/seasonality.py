"""The season length a forecaster reads from its data, and the window built on it.

Two steps, both on the training data only:

1. **Candidates.** The index frequency names the natural cycles in steps (see
   :func:`candidate_periods`): 12 for monthly data, 4 quarterly, 52 weekly, 7
   daily, 5 business-daily, 24 hourly (and 168, a week of hours), 48
   half-hourly, 60 minutely (the hour: a day of minutes is longer than
   :data:`MAX_SEASON`); yearly data has none. An integer index, or no
   frequency, offers the common cycles :data:`INTEGER_CANDIDATES` for the test
   alone to decide among.
2. **Test.** A candidate lag ``m`` is confirmed when the autocorrelation at lag
   ``m`` of the first-differenced series (differencing removes a trend, which
   otherwise correlates every lag) is positive and above the Bartlett bound
   ``z * sqrt((1 + 2 * sum_{k<m} r_k**2) / n)`` with ``z = 1.96``, as in the
   seasonality test of the M4 competition's Theta benchmark and sktime's
   ``SeasonalityACF``. A series needs at least :data:`MIN_SEASONS` seasons for
   the test; a shorter one keeps no season. Over a panel the autocorrelations
   are pooled: sums of lagged products and of squares over every series long
   enough for the lag, with ``n`` their total length.

Among the confirmed candidates the one with the largest autocorrelation wins,
except that a shorter candidate dividing it (24 within 168, 12 within 24) is
kept when its autocorrelation is at least :data:`DIVISOR_SHARE` of the winner's:
a daily cycle read a week back is still a daily cycle.

A season found is not always the better baseline: :func:`choose_baseline` keeps
the naive forecast (last value or one season back) that was the more accurate
over the forecast horizon on the training data itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "candidate_periods",
    "detect_season",
    "seasonal_autocorrelation",
    "auto_window_length",
    "check_window_reaches_season",
    "naive_errors",
    "choose_baseline",
]

#: a season is tested only on series at least this many seasons long (plus one
#: step lost to differencing)
MIN_SEASONS = 3
#: the normal quantile of the Bartlett bound (two-sided 5 %)
Z_CRITICAL = 1.96
#: the longest season considered: a week of hourly steps. Longer cycles would make
#: windows too long for a recurrent network to read at speed
MAX_SEASON = 168
#: lags tried on an integer index, or a DatetimeIndex without a frequency: the
#: common calendar cycles (quarter, business week, week, year of months, day of
#: hours, year of weeks)
INTEGER_CANDIDATES = (4, 5, 7, 12, 24, 52)
#: a confirmed shorter candidate dividing the winner is kept when its
#: autocorrelation is at least this share of the winner's
DIVISOR_SHARE = 0.9
#: windows span this many seasons when a season is found
WINDOW_SEASONS = 1
#: the shortest automatic window, and the horizons it covers
MIN_WINDOW = 12
HORIZON_FACTOR = 2

#: the per-series error ratios of :func:`choose_baseline` are clipped to
#: ``[1 / RATIO_CLIP, RATIO_CLIP]`` before their geometric mean
RATIO_CLIP = 100.0

_HOUR = pd.Timedelta(hours=1).value
_DAY = pd.Timedelta(days=1).value
_WEEK = 7 * _DAY


def _offset_code(offset) -> str:
    """The rule code of an offset without its anchor: "W" for "W-SUN", "QS" ..."""
    return offset.rule_code.split("-")[0].upper()


def _to_offset(freq):
    """A pandas offset from an offset or an alias of a timestamp or period
    frequency ("ME" and the period alias "M" alike)."""
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        return pd.PeriodDtype(freq).freq


def candidate_periods(freq, n_obs: int | None = None) -> tuple[int, ...]:
    """Season lengths suggested by an index frequency, shortest first.

    Parameters
    ----------
    freq : str, pandas offset or None
        The frequency of a ``DatetimeIndex`` or ``PeriodIndex`` (``"M"``, ``"h"``,
        ``"W-SUN"``, ``"30min"`` …). ``None`` (an integer index, or no frequency)
        gives :data:`INTEGER_CANDIDATES`.
    n_obs : int or None
        Observations of the series; candidates it cannot hold
        :data:`MIN_SEASONS` times are left out.

    Returns
    -------
    tuple of int
        Candidate season lengths in steps; empty for yearly data (and other
        frequencies without a cycle within :data:`MAX_SEASON` steps).

    Examples
    --------
    >>> from gatedforecast.seasonality import candidate_periods
    >>> candidate_periods("M"), candidate_periods("W-SUN"), candidate_periods("h")
    ((12,), (52,), (24, 168))
    >>> candidate_periods("Y")
    ()
    """
    if freq is None:
        candidates = INTEGER_CANDIDATES
    else:
        offset = _to_offset(freq)
        n = max(1, int(getattr(offset, "n", 1)))
        code = _offset_code(offset)
        if isinstance(offset, (pd.offsets.Tick, pd.offsets.Day)):
            # pandas 3 makes Day a calendar offset: n days of 24 hours here
            step = n * _DAY if isinstance(offset, pd.offsets.Day) else None
            step = step or pd.Timedelta(offset).value
            candidates = tuple(
                cycle // step
                for cycle in (_DAY, _WEEK)
                if cycle % step == 0 and cycle // step <= MAX_SEASON
            )
            if step < _HOUR and not candidates and _HOUR % step == 0:
                # minutes: a day is too long a season; the hour is the cycle
                candidates = (_HOUR // step,)
        elif code in ("B", "C"):
            candidates = (5 // n,) if 5 % n == 0 else ()
        elif code == "W":
            candidates = (52 // n,) if 52 % n == 0 else ()
        elif code.startswith(("M", "BM", "SM", "CBM")) or code in ("MS", "ME"):
            per_year = 24 if code.startswith("SM") else 12
            candidates = (per_year // n,) if per_year % n == 0 else ()
        elif code.startswith(("Q", "BQ")):
            candidates = (4 // n,) if 4 % n == 0 else ()
        else:  # yearly and longer, or an offset without a known cycle
            candidates = ()
    candidates = tuple(sorted({int(m) for m in candidates if 2 <= m <= MAX_SEASON}))
    if n_obs is not None:
        candidates = tuple(m for m in candidates if n_obs > MIN_SEASONS * m)
    return candidates


def seasonal_autocorrelation(series, lags) -> tuple[np.ndarray, np.ndarray]:
    """Pooled autocorrelations of the differenced series at ``lags``, and their
    Bartlett bounds.

    Parameters
    ----------
    series : list of 1-D arrays
        One array per series (a target channel).
    lags : sequence of int
        Lags to test.

    Returns
    -------
    acf, bound : numpy arrays of the shape of ``lags``
        ``acf`` is NaN for a lag that no series is long enough for.
    """
    lags = [int(m) for m in lags]
    acf = np.full(len(lags), np.nan)
    bound = np.full(len(lags), np.nan)
    if not lags:
        return acf, bound
    top = max(lags)
    series = [np.asarray(values, dtype=np.float64).ravel() for values in series]
    # one common scale for all series, so that neither the differences nor their
    # products overflow for values near the float limit; autocorrelations are
    # ratios, so it changes nothing else
    scale = max((float(np.max(np.abs(v))) for v in series if v.size), default=0.0)
    if not np.isfinite(scale) or scale == 0:
        scale = 1.0
    diffs = []
    for values in series:
        d = np.diff(values / scale)
        d = d - d.mean() if len(d) else d
        diffs.append(d)
    for j, m in enumerate(lags):
        usable = [d for d in diffs if len(d) + 1 > MIN_SEASONS * m]
        if not usable:
            continue
        squares = sum(float(d @ d) for d in usable)
        if squares <= 0:
            continue
        # autocorrelations up to m, pooled over the usable series
        r = np.array(
            [
                sum(float(d[k:] @ d[: len(d) - k]) for d in usable) / squares
                for k in range(1, min(m, top) + 1)
            ]
        )
        n = sum(len(d) for d in usable)
        acf[j] = r[m - 1]
        bound[j] = Z_CRITICAL * np.sqrt((1 + 2 * np.sum(r[: m - 1] ** 2)) / n)
    return acf, bound


def detect_season(series, freq=None) -> int | None:
    """The season length of ``series`` in steps, or None when none is confirmed.

    Parameters
    ----------
    series : list of arrays
        The training series (1-D, or 2-D with channels in columns: the first
        channel, the first target, is tested).
    freq : str, pandas offset or None
        The index frequency; ``None`` for an integer index.

    Returns
    -------
    int or None

    Examples
    --------
    >>> import numpy as np
    >>> from gatedforecast.seasonality import detect_season
    >>> t = np.arange(120)
    >>> seasonal = 10 + 0.1 * t + np.sin(2 * np.pi * t / 12)
    >>> detect_season([seasonal], "M")
    12
    >>> noise = np.random.default_rng(0).normal(size=120)
    >>> detect_season([noise], "M") is None
    True
    """
    columns = [
        np.asarray(s, dtype=np.float64).reshape(len(s), -1)[:, 0] for s in series
    ]
    longest = max((len(c) for c in columns), default=0)
    candidates = candidate_periods(freq, longest)
    if not candidates:
        return None
    acf, bound = seasonal_autocorrelation(columns, candidates)
    confirmed = [
        (m, a)
        for m, a, b in zip(candidates, acf, bound)
        if np.isfinite(a) and a > 0 and a > b
    ]
    if not confirmed:
        return None
    best, best_acf = max(confirmed, key=lambda c: c[1])
    for m, a in sorted(confirmed):
        if m < best and best % m == 0 and a >= DIVISOR_SHARE * best_acf:
            return m
    return best


def auto_window_length(n_obs: int, horizon: int, period: int | None) -> int:
    """The window the forecasters read when ``window_length="auto"``.

    ``max(2 * horizon, WINDOW_SEASONS * period, 12)``, capped at half of what the
    shortest series leaves after the horizon (so it keeps about as many training
    windows as the window has steps), but never below one season when the series
    can hold one: a window must reach a season back for a seasonal baseline.
    Without a season this is the rule of earlier versions, ``max(2 * horizon,
    12)`` capped the same way.

    Examples
    --------
    >>> from gatedforecast.seasonality import auto_window_length
    >>> auto_window_length(132, 12, 12)
    24
    >>> auto_window_length(1000, 13, 52)
    52
    >>> auto_window_length(30, 6, None)
    12
    """
    wanted = max(HORIZON_FACTOR * horizon, WINDOW_SEASONS * (period or 0), MIN_WINDOW)
    length = min(wanted, max(1, (n_obs - horizon) // 2))
    if period is not None and n_obs >= period + horizon:
        length = max(length, period)
    return length


def check_window_reaches_season(window_length: int, period: int | None) -> None:
    """Refuse a window shorter than the season that a seasonal baseline looks back.

    ``period`` is the season of a seasonal baseline, None for any other baseline
    (then every window will do). Raises ValueError naming both parameters.

    Examples
    --------
    >>> from gatedforecast.seasonality import check_window_reaches_season
    >>> check_window_reaches_season(12, 12)
    >>> check_window_reaches_season(6, 12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: baseline='seasonal' looks 12 steps back, ... got 6.
    """
    if period is not None and window_length < period:
        raise ValueError(
            f"baseline='seasonal' looks {period} steps back, so window_length "
            f"must be at least seasonal_period={period}; got {window_length}."
        )


def naive_errors(values, period: int, horizon: int) -> tuple[float, float]:
    """Mean absolute errors of the last-value and the seasonal naive forecasts.

    Every time point with a season of history before it is an origin; each
    forecasts steps ``1..horizon`` (those inside the series) the way the
    forecasters' baselines do: the last value, or the value one season before
    the step (``steps % period`` for steps beyond a season).

    Returns
    -------
    last, seasonal : float
        NaN when the series has no origin with a step after it.
    """
    y = np.asarray(values, dtype=np.float64).ravel()
    origins = np.arange(period - 1, len(y) - 1)
    last, seasonal = [], []
    for k in range(1, horizon + 1):
        t = origins[origins + k < len(y)]
        truth = y[t + k]
        last.append(np.abs(truth - y[t]))
        seasonal.append(np.abs(truth - y[t - period + 1 + (k - 1) % period]))
    last, seasonal = np.concatenate(last), np.concatenate(seasonal)
    if not len(last):
        return float("nan"), float("nan")
    return float(last.mean()), float(seasonal.mean())


def choose_baseline(series, period: int | None, horizon: int) -> str:
    """``"seasonal"`` when the seasonal naive forecast beat the last value on the
    training series, else ``"last"``.

    Each series scores the ratio of the two mean absolute errors over the
    horizon (:func:`naive_errors`); a panel takes the geometric mean of its
    series' ratios (each clipped to [0.01, 100]), so every series counts alike
    whatever its scale. Series with
    no usable origin, or two zero errors, are left out; none left means
    ``"last"``.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedforecast.seasonality import choose_baseline
    >>> t = np.arange(120)
    >>> choose_baseline([np.sin(2 * np.pi * t / 12)], 12, 6)
    'seasonal'
    >>> choose_baseline([np.cumsum(np.ones(120))], 12, 6)
    'last'
    """
    if period is None:
        return "last"
    ratios = []
    for values in series:
        columns = np.asarray(values, dtype=np.float64)
        last, seasonal = naive_errors(
            columns.reshape(len(columns), -1)[:, 0], period, horizon
        )
        if np.isfinite(last) and np.isfinite(seasonal) and last + seasonal > 0:
            ratios.append((seasonal + 1e-12) / (last + 1e-12))
    if not ratios:
        return "last"
    # a (nearly) perfect series must not outvote all the others
    ratios = np.clip(ratios, 1 / RATIO_CLIP, RATIO_CLIP)
    return "seasonal" if np.mean(np.log(ratios)) < 0 else "last"
