"""The sktime forecasters' pandas bookkeeping: series in, arrays out, and back.

One job: everything that knows about pandas time indexes and series keys, so the
engine (:mod:`gatedforecast.engine`) sees only arrays. In ``fit``:
:meth:`SeriesBookkeeping._collect` splits ``y`` (and ``X``) into one float64 array
per series, after checking the time points (:func:`_check_time_points`) and the
values (:func:`check_series_values`). In ``predict``: the steps and time points
each series is forecast at (:meth:`~SeriesBookkeeping._forecast_index`; steps
at or before a series' end go to the engine's in-sample forecasts,
:meth:`~SeriesBookkeeping._in_sample`) and the scaled covariates of those steps
(:meth:`~SeriesBookkeeping._future_covariates`).
In ``update``: the checks that new data continue the series and the revision of
stored values (:meth:`~SeriesBookkeeping._revise`), and the cutoff.

The mixin reads the fitted attributes ``_keys``, ``_last_index``, ``_x_columns``,
``_time_freq`` and the engine's scaler (``_engine``) of the forecaster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .engine.calibration import pad_rows
from .missing import has_missing, unobserved_ends
from .panels import cutoff_like, split_series, steps_after, steps_until


def _frames_by_key(X: pd.DataFrame, keys: list) -> dict:
    """Exogenous frames per series key, refusing series of y that X lacks."""
    x_keys, x_frames = split_series(X, "X")
    for key, frame in zip(x_keys, x_frames):
        if not frame.index.is_unique:
            _check_time_points([key], [frame], "X")
    frames = dict(zip(x_keys, x_frames))
    if keys == [None] and None not in frames:
        raise ValueError("X must be indexed by time like y, not by series.")
    missing = [k for k in keys if k not in frames]
    if missing:
        raise ValueError(
            f"X has no rows for series {missing[:5]} of y; pass X for every series."
        )
    return frames


def _select_columns(frame: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """The fitted covariate columns of ``frame``, naming any that are absent."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"X lacks the column(s) {absent} it had in fit; pass X with the "
            f"columns {list(columns)}."
        )
    return frame[columns]


def _largest_step(fh, cutoff) -> int:
    """The largest step of ``fh`` after ``cutoff``, or 0 without ``fh``."""
    if fh is None:
        return 0
    return int(np.asarray(fh.to_relative(cutoff), dtype=np.int64).max())


def _series_name(key) -> str:
    """How error messages name a series: ``y`` alone, or ``y[key]`` in a panel."""
    if key is None:
        return "y"
    return f"y[{key[0]!r}]" if len(key) == 1 else f"y[{key!r}]"


def _check_integer_steps(index: pd.Index, where: str, name: str) -> None:
    """Refuse an integer time index that skips integers.

    sktime reads integer time as counted in ones (``fh=1`` is the next integer, and
    update continues with it), so an integer index must run without gaps: a gap
    would be read as consecutive steps, and a regular step of 2 would forecast
    time points that the data never has.
    """
    steps = np.diff(index.to_numpy())
    if len(steps) == 0 or (steps == 1).all():
        return
    at = int(np.flatnonzero(steps != 1)[0])
    raise ValueError(
        f"{where} has an integer time index with a gap: {index[at]} is followed by "
        f"{index[at + 1]}. Integer time points count steps one by one (fh=1 is the "
        "next integer), so they must be consecutive. Fill the missing steps (for "
        f"example {name}.reindex(range(first, last + 1)): the new rows are NaN, "
        "which y may hold and X may not); for a regular step k, number the steps "
        "instead "
        f"({name}.index // k); or use a DatetimeIndex or PeriodIndex with a "
        "frequency."
    )


def _check_time_points(keys: list, frames: list, name: str = "y"):
    """Refuse repeated time points, an integer index with gaps, a TimedeltaIndex
    and a DatetimeIndex without a regular frequency.

    Returns the frequency of a DatetimeIndex (the same for every series), else None.
    """
    freqs = set()
    for key, frame in zip(keys, frames):
        index, where = frame.index, name if key is None else _series_name(key)
        if not index.is_unique:
            repeated = list(index[index.duplicated()].unique()[:5])
            raise ValueError(
                f"{where} has repeated time points, first {repeated}: each time "
                "point must appear once per series. Aggregate the repeats (for "
                "example with groupby(level=...).mean()) or drop them with "
                f"{name}[~{name}.index.duplicated()]."
            )
        if isinstance(index, pd.TimedeltaIndex):
            raise ValueError(
                f"{where} has a TimedeltaIndex, which the forecasters cannot name "
                "forecast time points on. Pass a DatetimeIndex (for example "
                f"pd.Timestamp('2000-01-01') + {name}.index, with a frequency), a "
                "PeriodIndex, or an integer index counting the steps."
            )
        if pd.api.types.is_integer_dtype(index.dtype):
            _check_integer_steps(index, where, name)
            continue
        if not isinstance(index, pd.DatetimeIndex):
            continue
        freq = index.freq
        if freq is None and len(index) >= 3:
            freq = pd.infer_freq(index)
        if freq is None:
            steps = pd.Series(index[1:] - index[:-1]).value_counts().index[:3]
            raise ValueError(
                f"{where} has an irregular DatetimeIndex: no frequency fits its "
                f"time points (steps of {', '.join(str(s) for s in steps)}), so "
                "forecast time points cannot be named. Make it regular first, for "
                f"example {name}.asfreq('D') (gaps become NaN, which y may hold; "
                "fill them in X, e.g. with sktime's Imputer) or resample to a "
                "coarser frequency; or pass a "
                "PeriodIndex or integer index."
            )
        freqs.add(pd.tseries.frequencies.to_offset(freq))
    if len(freqs) > 1:
        raise ValueError(
            f"The series of {name} have different frequencies "
            f"{sorted(f.freqstr for f in freqs)}; resample them to one frequency."
        )
    return freqs.pop() if freqs else None


def check_series_values(
    y: pd.DataFrame, name: str = "y", missing_allowed: bool = False
) -> np.ndarray:
    """The values of ``y`` as a float64 array, refusing non-numeric or infinite
    data, and missing values (NaN) unless ``missing_allowed`` (covariates are
    checked with it off)."""
    bad = [
        c
        for c in y.columns
        if not pd.api.types.is_numeric_dtype(y[c].dtype)
        or pd.api.types.is_bool_dtype(y[c].dtype)
    ]
    if bad:
        dtypes = ", ".join(f"{c!r}: {y[c].dtype}" for c in bad)
        raise TypeError(
            f"{name} must hold numbers, but column(s) {dtypes} do not. Convert them "
            "with pd.to_numeric(...) or astype(float), or drop them."
        )
    values = y.to_numpy(dtype=np.float64, copy=True)
    if values.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass a series with observations.")
    missing = np.isnan(values)
    if missing.any() and not missing_allowed:
        where = list(y.index[missing.any(axis=1)][:5])
        raise ValueError(
            f"{name} has {int(missing.sum())} missing (NaN) value(s), first at {where}. "
            "Missing values are allowed in y, not in the covariates: fill them "
            "first, e.g. with sktime's Imputer in a ForecastingPipeline (which "
            "transforms X)."
        )
    infinite = np.isinf(values)
    if infinite.any():
        where = list(y.index[infinite.any(axis=1)][:5])
        raise ValueError(
            f"{name} has {int(infinite.sum())} infinite value(s), first at {where}. "
            "Replace or drop them before fitting."
        )
    return values


class SeriesBookkeeping:
    """Pandas in and out of a fitted forecaster; see the module docstring."""

    def _collect(self, y: pd.DataFrame, X, order=None):
        """Series keys, time frames and float64 arrays of y beside X (its
        columns in the ``order`` given, else as they are), per series."""
        keys, frames = split_series(y)
        self._time_freq = _check_time_points(keys, frames)
        values = [
            check_series_values(f, _series_name(k), missing_allowed=True)
            for k, f in zip(keys, frames)
        ]
        for key, v in zip(keys, values):
            empty = np.isnan(v).all(axis=0)
            if empty.any():
                raise ValueError(
                    f"{_series_name(key)} has no observed value in column(s) "
                    f"{list(y.columns[empty])}: every value is missing (NaN). Drop "
                    "that series (or column), or pass observations of it."
                )
        x_columns = None if X is None or X.shape[1] == 0 else X.columns
        if x_columns is not None:
            x_frames = _frames_by_key(X, keys)
            if order is not None:
                x_columns = order
                x_frames = {k: frame[order] for k, frame in x_frames.items()}
            # X may reach beyond y (sktime asks only that it cover y): y's rows
            values = [
                np.hstack([v, check_series_values(x_frames[k].reindex(f.index), "X")])
                for v, k, f in zip(values, keys, frames)
            ]
        return keys, frames, values, x_columns

    def _index_freq(self, y: pd.DataFrame):
        """The frequency of y's time index (a PeriodIndex's, or the one of a
        DatetimeIndex found by ``_collect``); None for an integer index."""
        time = y.index.get_level_values(-1)
        if isinstance(time, pd.PeriodIndex):
            return time.freq
        return getattr(self, "_time_freq", None)

    def _name_cutoff_freq(self) -> None:
        """Give a DatetimeIndex cutoff the series' frequency: sktime leaves it out for
        panels whose series differ in length, and then cannot name forecast times."""
        cutoff, freq = self._cutoff, getattr(self, "_time_freq", None)
        if isinstance(cutoff, pd.DatetimeIndex) and cutoff.freq is None and freq:
            self._cutoff = pd.DatetimeIndex(cutoff, freq=freq)

    def _freq(self):
        """The frequency of a DatetimeIndex the forecaster was fitted on, else None."""
        return getattr(self, "_time_freq", None) or getattr(self.cutoff, "freq", None)

    def _check_continues(self, key, last, index: pd.Index) -> None:
        """Refuse new observations that leave a gap after the last one known."""
        expected = steps_after(last, len(index), self._freq())
        if len(index) == len(expected) and (index == expected).all():
            return
        missing = expected.difference(index)[:5]
        where = "y" if key is None else _series_name(key)
        raise ValueError(
            f"update got {where} with a gap after the last known time point "
            f"{last}: no values at {[str(m) for m in missing]}. The new observations must "
            "continue the series step by step; fill the gap (for example with "
            "sktime's Imputer) or fit again on the whole series."
        )

    def _forecast_index(self, fh):
        """Per series: the steps of ``fh`` counted from its own end (1 is the
        next time point, 0 its last one, negative steps earlier ones), and
        their index."""
        # series that end together share their steps and forecast index; a
        # relative fh gives every series the same steps
        relative = None
        if fh.is_relative:
            relative = np.asarray(fh.to_pandas(), dtype=np.int64)
        per_end = {}
        for last in set(self._last_index):
            if relative is not None and isinstance(last, (int, np.integer)):
                # integer time: the forecast times are plain sums
                per_end[last] = (relative, pd.Index(last + relative))
                continue
            cutoff = cutoff_like(self.cutoff, last)
            steps = relative
            if steps is None:
                steps = np.asarray(fh.to_relative(cutoff), dtype=np.int64)
            per_end[last] = (steps, fh.to_absolute_index(cutoff))
        steps = [per_end[last][0] for last in self._last_index]
        indexes = [per_end[last][1] for last in self._last_index]
        return steps, indexes

    def _in_sample(self, steps: list[np.ndarray], runtime) -> list[np.ndarray]:
        """Per series: scaled one-step forecasts of the time points its steps
        name at or before its end, ``(len(steps[i]), n_targets)``; NaN rows for
        steps after the end and for points with no full window before them."""
        engine = self._engine
        if engine.series is None:
            raise ValueError(
                "fh includes time points at or before the cutoff (in-sample "
                "steps), but this forecaster was loaded from a model file, which "
                "keeps only the last window of each series. Fit it again to "
                "forecast in-sample, or ask for time points after the cutoff."
            )
        positions = [len(v) - 1 + s for v, s in zip(engine.series, steps)]
        return engine.in_sample(positions, runtime)

    def _expanded(self, X, observed=None, read=None):
        """``X`` with its category columns read through time expanded into the
        indicator columns of the fitted levels (:mod:`gatedforecast.categories`);
        a missing level at the time points ``observed`` (y's index) is refused,
        and with ``read``, only the columns read are expanded."""
        categories = self._engine.setup.categories
        if categories is None or X is None:
            return X
        return categories.expand(X, observed, read)

    def _future_covariates(self, X, n_steps: int) -> np.ndarray | None:
        """Scaled future-known covariates of the next steps of every series, from
        predict's X (past-only columns are not read: None when every covariate is
        past-only).

        Shape ``(n_series, n, n_future)`` with ``n`` the steps rounded up to a
        multiple of the head (the extra rows repeat the last one; their forecasts
        are discarded).
        """
        setup = self._engine.setup
        if self._x_columns is None or not setup.n_future:
            return None
        # the future-known columns come first (past-only ones follow them)
        columns = self._x_columns[: setup.n_future]
        X = self._expanded(X, read=columns)
        past = "" if not setup.n_past else " (the past-only columns are not needed)"
        if X is None:
            raise ValueError(
                f"This forecaster was fitted with exogenous X, so predict needs X "
                f"with a row for each of the {n_steps} step(s) after the cutoff "
                f"(columns {list(columns)}){past}."
            )
        frames = _frames_by_key(X, self._keys)
        n_rows = -(-n_steps // setup.horizon) * setup.horizon
        future = np.empty((len(self._keys), n_rows, len(columns)))
        for i, (key, last) in enumerate(zip(self._keys, self._last_index)):
            expected = steps_after(last, n_steps, self._freq())
            rows = _select_columns(frames[key], columns).reindex(expected)
            absent = rows.isna().any(axis=1).to_numpy()
            if absent.any():
                where = "" if key is None else f" of series {key!r}"
                raise ValueError(
                    f"X does not cover the forecast horizon{where}: no values, or "
                    f"missing (NaN) ones, at {list(expected[absent][:5])}. X must "
                    "have a row, without "
                    f"missing values, for every step from the cutoff up to the "
                    f"largest step of fh ({n_steps})."
                )
            future[i] = pad_rows(
                self._engine.scaler.transform(
                    check_series_values(rows, "X"), i, setup.future_channels
                ),
                setup.horizon,
            )
        return future

    def _update_y_X(self, y, X=None, enforce_index_type=None):
        """Set the cutoff from newly seen data, but never move it back.

        sktime sets the cutoff to the end of the data passed; data that end
        earlier (a series of a panel that lags the others, or revised values of
        time points already seen) leave it where it is.
        """
        previous = self._cutoff if getattr(self, "_state", None) == "fitted" else None
        super()._update_y_X(y, X, enforce_index_type)
        if previous is None or self._cutoff is None or not len(self._cutoff):
            return
        try:
            earlier = bool(self._cutoff[0] < previous[0])
        except TypeError:
            # another kind of time index: _update refuses it and restores the cutoff
            return
        if earlier:
            self._cutoff = previous

    def _revise(self, key, i: int, tail, last, revised, x_frame) -> np.ndarray:
        """The stored values of series ``i`` with those of ``revised`` (time points
        at or before its last one, ``last``) written over them.

        ``tail`` holds the last ``len(tail)`` values of the series (all of them
        unless the forecaster was restored from a model file); revised values
        before them change nothing it keeps. ``X`` rows given for the revised
        time points replace the stored covariates too.
        """
        where = _series_name(key)
        values = check_series_values(revised, where, missing_allowed=True)
        stored = steps_until(last, len(tail), self._freq())
        positions = stored.get_indexer(revised.index)
        kept = positions >= 0
        strays = revised.index[~kept]
        strays = strays[strays >= stored[0]]
        if len(strays):
            raise ValueError(
                f"update got {where} at {[str(t) for t in strays[:5]]}, which are "
                f"not time points of the series (the last ones known are "
                f"{[str(t) for t in stored[-3:]]}). Pass values at the series' own "
                "time points."
            )
        if not kept.any():
            return tail
        tail, rows = tail.copy(), positions[kept]
        n_targets = self._engine.setup.n_targets
        tail[rows, :n_targets] = self._engine.scaler.transform(
            values[kept], i, slice(0, n_targets)
        )
        if x_frame is not None:
            given = _select_columns(x_frame, self._x_columns).reindex(
                revised.index[kept]
            )
            complete = given.notna().all(axis=1).to_numpy()
            if complete.any():
                channels = slice(n_targets, n_targets + len(self._x_columns))
                tail[rows[complete], channels] = self._engine.scaler.transform(
                    check_series_values(given[complete], "X"), i, channels
                )
        return tail

    def _check_missing(self, keys, values, setup) -> None:
        """Refuse missing target values a network without a mask channel would
        read, and a series whose last window misses every value of a target
        (nothing to forecast it from)."""
        n_targets, window = setup.n_targets, setup.window_length
        if not setup.masked and has_missing(values, n_targets):
            where = next(
                _series_name(k)
                for k, v in zip(keys, values)
                if np.isnan(v[:, :n_targets]).any()
            )
            raise ValueError(
                f"{where} has missing (NaN) values, but the network was trained on "
                "series without any, so it has no input channel that marks them. "
                "Fit again on the series with their missing values (the network "
                "then learns where values are missing), or fill them first, e.g. "
                "with sktime's Imputer."
            )
        for i, j in unobserved_ends(values, n_targets, window):
            raise ValueError(
                f"{_series_name(keys[i])} has no observed value of "
                f"{setup.columns[j]!r} in its last {window} time points "
                f"(window_length={window}), so there is nothing to forecast it "
                "from. Pass more recent observations, fill the gap (e.g. with "
                "sktime's Imputer), or fit with a longer window_length."
            )

    def _fitted_cutoff(self) -> pd.Index:
        """The cutoff of the data seen so far: the latest end of any series."""
        last = max(self._last_index)
        if isinstance(last, pd.Period):
            return pd.PeriodIndex([last], freq=last.freq)
        if isinstance(last, pd.Timestamp):
            return pd.DatetimeIndex([last], freq=getattr(self, "_time_freq", None))
        return pd.Index([last])

    def _extended_series(self, y: pd.DataFrame, X) -> tuple[list, list]:
        """The scaled stored values of every series (all values seen, or only
        the tails of an engine restored from a model file) with ``y`` (and
        ``X``) added: new time points appended, earlier ones revised; and the
        new last time point of each series."""
        keys, frames = split_series(y)
        if y.shape[1] != len(self._columns):
            raise ValueError(
                f"update got y with {y.shape[1]} column(s) {list(y.columns)}, but "
                f"the forecaster was fitted on {len(self._columns)} "
                f"{list(self._columns)}. Pass the same columns in the same order."
            )
        position = {key: i for i, key in enumerate(self._keys)}
        unknown = [k for k in keys if k not in position]
        if unknown:
            raise ValueError(
                f"update got series {unknown[:5]} that were not seen in fit; a "
                "fitted forecaster updates the series it was fitted on. Fit again "
                "to forecast new series."
            )
        if self._x_columns is not None and X is None:
            raise ValueError(
                "This forecaster was fitted with exogenous X, so update needs X "
                "for the new observations too."
            )
        X = self._expanded(X, observed=y.index)
        x_frames = None if self._x_columns is None else _frames_by_key(X, keys)
        engine = self._engine
        stored = engine.tails if engine.series is None else engine.series
        buffers, ends = list(stored), list(self._last_index)
        for key, frame in zip(keys, frames):
            i = position[key]
            if not frame.index.is_unique:
                _check_time_points([key], [frame])
            try:
                later = np.asarray(frame.index > ends[i])
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"update got {_series_name(key)} on a {type(frame.index).__name__}"
                    f" that cannot follow the fitted time points (the last is "
                    f"{ends[i]!r}): pass new data indexed like the data in fit."
                ) from error
            if not later.all():
                # values at time points already seen replace the stored ones
                x_frame = None if x_frames is None else x_frames[key]
                revised = frame.loc[~later]
                buffers[i] = self._revise(key, i, buffers[i], ends[i], revised, x_frame)
            new = frame.loc[later]
            if len(new) == 0:
                continue
            self._check_continues(key, ends[i], new.index)
            values = check_series_values(new, _series_name(key), missing_allowed=True)
            if x_frames is not None:
                rows = _select_columns(x_frames[key], self._x_columns)
                values = np.hstack(
                    [values, check_series_values(rows.reindex(new.index), "X")]
                )
            # static covariates: the series' values from fit, as stored
            static = buffers[i][-1:, engine.setup.static_channels]
            values = np.hstack([values, np.repeat(static, len(values), axis=0)])
            buffers[i] = np.concatenate(
                [buffers[i], engine.scaler.transform(values, i)]
            )
            ends[i] = new.index[-1]
        return buffers, ends
