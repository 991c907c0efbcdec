"""The covariates of the forecast steps: ``gatedforecast forecast --future FILE``.

A model fitted with covariates known ahead (``--covariates``) needs their values
at every step it forecasts. They come from a second file with the same time
column (and ``--id-col``) as the data, one row per series and forecast step.
Rows for other times are ignored; a missing step is a :class:`CLIError` that
names the series and the time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import as_categories, check_values
from .data import Dataset, _parse_time, read_table
from .errors import CLIError

__all__ = ["forecast_times", "load_future"]


def forecast_times(index: pd.Index, horizon: int) -> pd.Index:
    """The ``horizon`` time points after the last of ``index`` (one series)."""
    last = index[-1]
    steps = np.arange(1, horizon + 1)
    if isinstance(index, pd.PeriodIndex):
        return pd.PeriodIndex([last + int(k) for k in steps], freq=index.freq)
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(last, periods=horizon + 1, freq=index.freq)[1:]
    return pd.Index(int(last) + steps)


def _as_data_times(times: pd.Series, data: Dataset) -> pd.Index:
    """The future file's parsed times in the kind of index the data has."""
    index = data.y.index.get_level_values(-1)
    if isinstance(index, pd.PeriodIndex):
        return pd.PeriodIndex(pd.DatetimeIndex(times.to_numpy()), freq=index.freq)
    if isinstance(index, pd.DatetimeIndex):
        return pd.DatetimeIndex(times.to_numpy())
    return pd.Index(times.to_numpy(np.int64))


def load_future(path: str | None, data: Dataset, horizon: int) -> pd.DataFrame | None:
    """The covariates of the next ``horizon`` steps of every series, indexed as
    the forecasts are (None when the data have no covariates)."""
    covariates = data.future_covariates
    if not covariates:
        if path is not None:
            raise CLIError(
                f"{path}: --future gives the covariates of the forecast steps, but "
                "no --covariates (known ahead) were named; name them or leave out "
                "--future"
            )
        return None
    if path is None:
        raise CLIError(
            f"covariates {', '.join(map(repr, covariates))} are known ahead, so the "
            "forecast needs their values for the forecast steps: give them in a "
            f"file with --future (the time column {data.time_col!r}"
            + (f", the id column {data.id_col!r}" if data.is_panel else "")
            + f" and {horizon} row(s) per series)"
        )
    frame = read_table(path, data.id_col)
    needed = [data.time_col, *([data.id_col] if data.is_panel else []), *covariates]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise CLIError(
            f"{path}: no column {absent[0]!r}; the --future file needs the columns "
            f"{', '.join(map(repr, needed))}"
        )
    # a column read as categories in the data is read by level here
    text = [c for c in covariates if isinstance(data.X[c].dtype, pd.CategoricalDtype)]
    numbers = [c for c in covariates if c not in text]
    check_values(frame, path, numbers, kind="covariate")
    for column in text:
        as_categories(frame, path, column)
    times, _, _ = _parse_time(frame[data.time_col], path, data.time_col)
    times = _as_data_times(times, data)
    ids = frame[data.id_col].astype(str) if data.is_panel else None
    parts = []
    for key, history in data.series():
        rows = np.ones(len(frame), bool) if key is None else (ids == key).to_numpy()
        # numbers as float64; text covariates stay categories, read by value
        given = frame.loc[rows, covariates].set_axis(times[rows], axis=0)
        if given.index.duplicated().any():
            first = given.index[given.index.duplicated()][0]
            raise CLIError(
                f"{path}: time {_time_text(data, first)} appears "
                f"more than once{_of(key, data)}"
            )
        wanted = forecast_times(history.index, horizon)
        missing = wanted.difference(given.index)
        if len(missing):
            step = int(wanted.get_loc(missing[0])) + 1
            raise CLIError(
                f"{path}: no row{_of(key, data)} at time "
                f"{_time_text(data, missing[0])} (forecast step {step} of "
                f"{horizon}); the --future file needs the covariates of every "
                "forecast step"
            )
        part = given.loc[wanted]
        if key is not None:
            part.index = pd.MultiIndex.from_arrays(
                [np.full(horizon, key, dtype=object), wanted],
                names=data.y.index.names,
            )
        else:
            part.index.name = data.y.index.name
        parts.append(part)
    return pd.concat(parts)


def _of(key, data: Dataset) -> str:
    return "" if key is None else f" for series {key!r} ({data.id_col})"


def _time_text(data: Dataset, time) -> str:
    """A time point as the file wrote it; a date alone where it is midnight."""
    value = data.output_times(pd.Index([time]))[0]
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date()) if value.tz is None else str(value)
    return str(value)
