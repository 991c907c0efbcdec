"""Between sktime's data containers and a list of series.

A single series is a ``pd.DataFrame`` with a time index; a panel or hierarchy is a
``pd.DataFrame`` whose index has one or more instance levels and the time last
(sktime's ``pd-multiindex`` and ``pd_multiindex_hier``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "split_series",
    "cutoff_like",
    "steps_after",
    "steps_until",
    "join_forecasts",
]


def split_series(y: pd.DataFrame, name: str = "y") -> tuple[list, list[pd.DataFrame]]:
    """Instance keys and one time-indexed frame per series, in the order of ``y``.

    A single series gives ``([None], [y])``. A missing (NaN) series id is refused:
    pandas would leave its series out of the groups without a word.
    """
    if not isinstance(y.index, pd.MultiIndex):
        return [None], [y]
    instance_levels = list(range(y.index.nlevels - 1))
    for level in instance_levels:
        # pandas codes a missing label as -1
        missing = y.index.codes[level] == -1
        if missing.any():
            label = y.index.names[level]
            which = f"level {level}" if label is None else f"level {label!r}"
            raise ValueError(
                f"{name} has {int(missing.sum())} row(s) whose series id in index "
                f"{which} is missing (NaN); every row needs the id of its series. "
                f"Fill the id (for example {name}.rename(index={{np.nan: "
                f"'unknown'}}, level={level})) or drop those rows."
            )
    keys, frames = [], []
    for key, frame in y.groupby(level=instance_levels, sort=False):
        keys.append(key if isinstance(key, tuple) else (key,))
        frames.append(frame.droplevel(instance_levels))
    return keys, frames


def cutoff_like(cutoff: pd.Index, value) -> pd.Index:
    """A one-element cutoff index holding ``value``, with ``cutoff``'s type and freq."""
    if isinstance(cutoff, pd.PeriodIndex):
        return pd.PeriodIndex([value], freq=cutoff.freq)
    if isinstance(cutoff, pd.DatetimeIndex):
        return pd.DatetimeIndex([value], freq=cutoff.freq)
    return pd.Index([value])


def steps_after(last, n: int, freq=None) -> pd.Index:
    """The ``n`` time points that follow ``last``: the next integers, the next
    periods of ``last``'s frequency, or the next timestamps ``freq`` apart.

    What sktime's ``ForecastingHorizon(1..n).to_absolute_index`` gives from a
    cutoff at ``last``, at a tenth of the cost, for loops over many series.
    """
    if isinstance(last, pd.Period):
        return pd.period_range(start=last + 1, periods=n, freq=last.freq)
    if isinstance(last, pd.Timestamp):
        return pd.date_range(start=last + freq, periods=n, freq=freq)
    return pd.Index(np.arange(last + 1, last + 1 + n))


def steps_until(last, n: int, freq=None) -> pd.Index:
    """The ``n`` time points that end at ``last`` (``last`` included): the mirror
    of :func:`steps_after`."""
    if isinstance(last, pd.Period):
        return pd.period_range(end=last, periods=n, freq=last.freq)
    if isinstance(last, pd.Timestamp):
        return pd.date_range(end=last, periods=n, freq=freq)
    return pd.Index(np.arange(last - n + 1, last + 1))


def join_forecasts(
    keys: list,
    names: list,
    time_indexes: list[pd.Index],
    values,
    columns: pd.Index,
) -> pd.DataFrame:
    """One frame of forecasts: a plain time index for a single series, else the
    instance levels of ``keys`` (named ``names``) followed by the time level.

    ``values`` holds one array of rows per series, or all rows in one array."""
    if keys == [None]:
        data = values if isinstance(values, np.ndarray) else values[0]
        return pd.DataFrame(data, index=time_indexes[0], columns=columns)
    counts = [len(index) for index in time_indexes]
    levels = [
        pd.Index([key[i] for key in keys]).repeat(counts) for i in range(len(keys[0]))
    ]
    first = time_indexes[0]
    if all(index is first for index in time_indexes):
        # series that end together: one time index, repeated for every series
        time = first.take(np.tile(np.arange(len(first)), len(time_indexes)))
    else:
        time = first.append(time_indexes[1:]) if len(time_indexes) > 1 else first
    index = pd.MultiIndex.from_arrays([*levels, time], names=names)
    data = values if isinstance(values, np.ndarray) else np.concatenate(values)
    return pd.DataFrame(data, index=index, columns=columns)
