"""Reading and checking the command line's input: a CSV or Parquet file, or airline.

Everything a user can get wrong in a file ends in :class:`CLIError` with one line
that names the file, the column and, where it helps, the first offending row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..panels import split_series
from .columns import check_columns, check_values
from .errors import CLIError, first_line
from .options import option_message
from .static import covariate_kinds, static_columns

__all__ = [
    "CLIError",
    "Dataset",
    "check_enough_data",
    "load_dataset",
    "min_window",
    "season_for",
]

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class Dataset:
    """The target series, ready for sktime.

    ``y`` is a DataFrame with one column per target. A single series has a
    ``PeriodIndex``, ``DatetimeIndex`` (with ``freq`` set) or integer index; many
    series have a two-level ``MultiIndex`` ``(id, time)`` (sktime's ``pd-multiindex``).
    """

    y: pd.DataFrame
    source: str
    time_col: str
    targets: list[str]
    id_col: str | None = None
    freq: str | None = None
    lengths: dict = field(default_factory=dict)
    #: "start"/"end": the file had timestamps, held here as periods (see as_periods);
    #: "period": the file had periods (such as 1959Q1), written back as periods
    time_how: str | None = None
    #: the zone (or UTC offset) the file's timestamps were in: the times are held in
    #: UTC, without a zone, and written back in this zone; None for naive times
    tz: object = None
    #: the covariates (``--covariates``, then ``--past-covariates``), indexed like
    #: ``y``; None without covariates
    X: pd.DataFrame | None = None
    #: the columns of ``X`` known only up to the end of the data
    past_covariates: list = field(default_factory=list)
    #: the columns of ``X`` with one value per series (categories for text)
    static_covariates: list = field(default_factory=list)

    @property
    def future_covariates(self) -> list:
        """The columns of ``X`` known ahead: their values at the forecast steps
        come from ``--future``."""
        if self.X is None:
            return []
        other = {*self.past_covariates, *self.static_covariates}
        return [c for c in self.X.columns if c not in other]

    @property
    def n_series(self) -> int:
        return len(self.lengths)

    @property
    def is_panel(self) -> bool:
        return self.id_col is not None

    def series(self):
        """``(key, frame)`` per series; ``key`` is ``None`` for a single series."""
        keys, frames = split_series(self.y)
        for key, frame in zip(keys, frames):
            yield (None if key is None else key[0]), frame

    def output_times(self, index: pd.Index) -> pd.Index:
        """Times as the file wrote them: timestamps where it had timestamps,
        periods where it had periods, in the file's zone where it had one."""
        times = to_timestamps(index, self.time_how)
        if self.tz is not None and isinstance(times, pd.DatetimeIndex):
            times = times.tz_localize("UTC").tz_convert(self.tz)
        return times

    def describe(self) -> str:
        shortest, longest = min(self.lengths.values()), max(self.lengths.values())
        size = (
            f"{shortest} observations"
            if not self.is_panel
            else f"{self.n_series} series of {shortest} to {longest} observations"
        )
        freq = f"frequency {self.freq}" if self.freq else "integer time steps"
        targets = ", ".join(self.targets)
        return f"{self.source}: {size}, {freq}, target {targets}"


# ---------------------------------------------------------------------- airline
def airline() -> Dataset:
    """sktime's bundled monthly airline passengers, 1949 to 1960."""
    from sktime.datasets import load_airline

    y = load_airline().rename("passengers").to_frame()
    y.index.name = "period"
    return Dataset(
        y=y,
        source="airline (sktime.datasets.load_airline)",
        time_col="period",
        targets=["passengers"],
        freq="M",
        lengths={None: len(y)},
    )


# ---------------------------------------------------------------------- files
def read_table(path: str, id_col: str | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, or a :class:`CLIError`.

    The ids of a CSV (``id_col``) are read as the text they are written as, so
    that ``00123`` stays ``00123`` and ``7`` and ``007`` stay two series.
    """
    file = Path(path)
    if not file.exists():
        raise CLIError(f"{path}: no such file")
    if file.is_dir():
        raise CLIError(f"{path}: is a directory, not a CSV or Parquet file")
    if file.suffix.lower() in PARQUET_SUFFIXES:
        try:
            frame = pd.read_parquet(file)
        except ImportError as error:
            raise CLIError(
                f"{path}: reading Parquet needs pyarrow; install it with "
                "`pip install pyarrow` or `pip install 'gatedforecast[cli]'`"
            ) from error
        except Exception as error:
            raise CLIError(
                f"{path}: cannot read as Parquet ({first_line(error)})"
            ) from error
    else:
        try:
            frame = pd.read_csv(file, dtype=None if id_col is None else {id_col: str})
        except pd.errors.EmptyDataError as error:
            raise CLIError(f"{path}: the file is empty") from error
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise CLIError(
                f"{path}: cannot read as CSV ({first_line(error)})"
            ) from error
    if frame.empty:
        raise CLIError(f"{path}: the file has a header but no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


#: quarters written as text: 1959Q1, 1959-Q1, 1959 Q1
_QUARTER_TEXT = r"\d{4}\s*-?\s*[Qq][1-4]"
#: a UTC offset (or Z) after the time of day at the end of a timestamp as text
_OFFSET_TEXT = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _parse_time(column: pd.Series, path: str, name: str):
    """``(times, how, tz)``: integer steps or timestamps, and how to write them back.

    Timestamps with a zone or UTC offset are converted to UTC and held without a
    zone, so that a series across a change of daylight saving time is regular;
    ``tz`` is the zone to write them back in: the column's zone, the one UTC
    offset of the text, or UTC when the text has several offsets. ``how`` is
    ``"period"`` when the file holds periods (a Parquet period column, or quarters
    such as ``1959Q1``), else ``None``. Anything else is a :class:`CLIError`.
    """
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise CLIError(f"{path}: time column {name!r} is empty in data row {row + 1}")
    if pd.api.types.is_bool_dtype(column):
        raise CLIError(
            f"{path}: time column {name!r} holds booleans, not dates or steps"
        )
    if pd.api.types.is_integer_dtype(column):
        return column.astype(np.int64), None, None
    if pd.api.types.is_float_dtype(column):
        if (column == np.round(column)).all():
            return column.astype(np.int64), None, None
        raise CLIError(
            f"{path}: time column {name!r} holds fractional numbers; use dates or "
            "integer time steps"
        )
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC").dt.tz_localize(None), None, column.dt.tz
    if pd.api.types.is_datetime64_any_dtype(column):
        return column, None, None
    if isinstance(column.dtype, pd.PeriodDtype):
        return column.dt.to_timestamp(), "period", None
    text = column.astype(str).str.strip()
    if text.str.fullmatch(_QUARTER_TEXT).all():
        quarters = text.str.replace(r"[\s-]", "", regex=True).str.upper()
        periods = pd.PeriodIndex(quarters.to_numpy(), freq="Q")
        return pd.Series(periods.to_timestamp(), index=column.index), "period", None
    offsets = text.str.extract(_OFFSET_TEXT, expand=False)
    zoned = offsets.notna()
    if zoned.any() and not zoned.all():
        row = int(np.flatnonzero((zoned != zoned.iloc[0]).to_numpy())[0])
        raise CLIError(
            f"{path}: time column {name!r} mixes times with and without a UTC offset "
            f"({column.iloc[0]!r} in data row 1, {column.iloc[row]!r} in data row "
            f"{row + 1}); give every time an offset, or none"
        )
    parsed = pd.to_datetime(
        text, errors="coerce", format="mixed", utc=bool(zoned.all())
    )
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CLIError(
            f"{path}: time column {name!r} has a value that is not a date: "
            f"{column.iloc[row]!r} in data row {row + 1}"
        )
    if not zoned.all():
        return parsed, None, None
    # one offset throughout: written back with it; several (daylight saving time):
    # written back in UTC, the only zone the text determines
    tz = "UTC"
    if offsets.nunique() == 1:
        tz = pd.Timestamp(text.iloc[0]).tz
    return parsed.dt.tz_localize(None), None, tz


def _regular_index(times: pd.Series, path: str, name: str, which: str):
    """The sorted times of one series as an index with a known frequency."""
    if times.duplicated().any():
        first = times[times.duplicated()].iloc[0]
        raise CLIError(
            f"{path}: {which}time {first} appears more than once in {name!r}"
        )
    times = times.sort_values()
    if pd.api.types.is_integer_dtype(times):
        steps = np.diff(times.to_numpy())
        if len(steps) and (steps != 1).any():
            at = int(np.flatnonzero(steps != 1)[0])
            raise CLIError(
                f"{path}: {which}integer time steps in {name!r} are not consecutive: "
                f"{times.iloc[at]} is followed by {times.iloc[at + 1]}"
            )
        return pd.Index(times.to_numpy(), name=name), None
    index = pd.DatetimeIndex(times.to_numpy(), name=name)
    if len(index) < 3:
        raise CLIError(
            f"{path}: {which}{len(index)} timestamp(s) in {name!r}; at least 3 are "
            "needed to tell the frequency"
        )
    freq = pd.infer_freq(index)
    if freq is None:
        steps = np.diff(index.asi8)
        usual = pd.Series(steps).mode().iloc[0]
        at = int(np.flatnonzero(steps != usual)[0]) if (steps != usual).any() else 0
        raise CLIError(
            f"{path}: {which}timestamps in {name!r} are irregular (no single frequency "
            f"fits; e.g. {index[at].date()} to {index[at + 1].date()}): resample to a "
            "regular frequency or fill the gaps first"
        )
    return pd.DatetimeIndex(index, freq=freq), freq


def as_periods(index: pd.DatetimeIndex):
    """``(PeriodIndex, how)`` where the timestamps are the starts (or the ends) of
    periods, else ``(index, None)``.

    sktime's seasonal tools turn timestamps into periods and fail on month-start
    and similar frequencies, which have no period equivalent; periods avoid that.
    ``how`` maps the forecasts back to the user's kind of timestamp.
    """
    if not isinstance(index, pd.DatetimeIndex):
        return index, None
    try:
        periods = index.to_period()
    except (ValueError, TypeError, AttributeError):
        return index, None
    if periods.to_timestamp(how="start").equals(index):
        return periods, "start"
    if periods.to_timestamp(how="end").normalize().equals(index):
        return periods, "end"
    return index, None


def to_timestamps(index: pd.Index, how: str | None) -> pd.Index:
    """Undo :func:`as_periods` (periods the file gave, ``how="period"``, stay)."""
    if how not in ("start", "end") or not isinstance(index, pd.PeriodIndex):
        return index
    stamps = index.to_timestamp(how=how)
    return stamps.normalize() if how == "end" else stamps


def load_dataset(
    path: str,
    time_col: str | None = None,
    targets: list[str] | None = None,
    id_col: str | None = None,
    covariates: list[str] | None = None,
    past_covariates: list[str] | None = None,
    allow_missing: bool = False,
    static_covariates: list[str] | None = None,
) -> Dataset:
    """Read ``path`` and turn it into a checked :class:`Dataset`; ``covariates``
    (known ahead) and ``past_covariates`` (known up to the end of the data) are
    held as the dataset's ``X``. With ``allow_missing``, target values may be
    missing (empty), but not a whole column."""
    frame = read_table(path, id_col)
    known, past, static = covariate_kinds(
        path, covariates, past_covariates, static_covariates
    )
    covariates = known + past + static
    time_col, targets = check_columns(
        frame, path, time_col, targets, id_col, covariates
    )
    check_values(frame, path, targets, allow_missing=allow_missing)
    check_values(frame, path, known + past, kind="covariate", categories=True)
    static_columns(frame, path, static, id_col)
    times, given_as, tz = _parse_time(frame[time_col], path, time_col)
    columns = targets + covariates

    def split(values):
        X = values[covariates] if covariates else None
        return values[targets], X

    if id_col is None:
        index, freq = _regular_index(times, path, time_col, "")
        index, how = as_periods(index)
        order = np.argsort(times.to_numpy(), kind="stable")
        y, X = split(frame[columns].iloc[order].set_axis(index, axis=0))
        how = given_as or how
        lengths = {None: len(y)}
        return Dataset(
            y, path, time_col, targets, None, freq, lengths, how, tz, X, past, static
        )

    if frame[id_col].isna().any():
        row = int(np.flatnonzero(frame[id_col].isna().to_numpy())[0])
        raise CLIError(f"{path}: id column {id_col!r} is empty in data row {row + 1}")
    ids = frame[id_col].astype(str)
    frames, lengths, freqs, hows = [], {}, set(), set()
    for key in pd.unique(ids):
        rows = ids == key
        index, freq = _regular_index(
            times[rows], path, time_col, f"series {key!r} ({id_col}): "
        )
        index, how = as_periods(index)
        hows.add(how)
        order = np.argsort(times[rows].to_numpy(), kind="stable")
        part = frame.loc[rows, columns].iloc[order]
        part.index = pd.MultiIndex.from_arrays(
            [np.full(len(part), key, dtype=object), index], names=[id_col, time_col]
        )
        frames.append(part)
        lengths[key] = len(part)
        freqs.add(freq)
    if len(freqs) > 1:
        raise CLIError(
            f"{path}: the series have different frequencies "
            f"({', '.join(sorted(str(f) for f in freqs))}); a global model needs one"
        )
    if len(hows) > 1:
        raise CLIError(
            f"{path}: the series' timestamps are anchored differently (some at the "
            "start, some at the end of their periods); a global model needs one kind"
        )
    y, X = split(pd.concat(frames))
    how = given_as or hows.pop()
    freq = freqs.pop()
    return Dataset(
        y, path, time_col, targets, id_col, freq, lengths, how, tz, X, past, static
    )


# ---------------------------------------------------------------------- seasons
_SEASONS = {
    "M": 12,
    "MS": 12,
    "ME": 12,
    "Q": 4,
    "QS": 4,
    "QE": 4,
    "W": 52,
    "D": 7,
    "B": 5,
    "h": 24,
    "H": 24,
}


def season_for(freq: str | None) -> int:
    """The usual season length of a frequency: 12 for monthly data, 1 when unknown."""
    match = re.fullmatch(r"(\d*)([A-Za-z]+)(-.*)?", freq or "")
    if match is None or match.group(1) not in ("", "1"):
        return 1
    return _SEASONS.get(match.group(2), 1)


def check_finite(forecasts: pd.DataFrame, who: str, data: Dataset) -> None:
    """Refuse, in one line, forecasts that are not finite numbers."""
    values = forecasts.to_numpy(dtype=np.float64)
    if np.isfinite(values).all():
        return
    largest = float(np.nanmax(np.abs(data.y.to_numpy(dtype=np.float64))))
    advice = (
        "values this large overflow the computation: rescale the target (for "
        "example to thousands or millions) first"
        if largest > 1e100
        else "try fewer --epochs, --baseline last or a shorter --window-length"
    )
    raise CLIError(
        f"{who} forecast values that are not finite numbers (inf or NaN); the data's "
        f"largest absolute value is {largest:.3g}: {advice}"
    )


def min_window(options, season: int) -> int:
    """The shortest input window the networks will use with these options."""
    from ..seasonality import check_window_reaches_season

    seasonal = options.baseline == "seasonal"
    if options.window_length is None:
        return season if seasonal else 1
    try:
        check_window_reaches_season(options.window_length, season if seasonal else None)
    except ValueError as error:
        raise CLIError(option_message(error)) from error
    return options.window_length


def check_enough_data(data: Dataset, options, season: int, folds=None) -> None:
    """Refuse, in one line, data too short for a window and the horizon: to fit
    on (``folds`` None), or to train the first of ``folds`` folds of the horizon
    at the end of each series."""
    horizon = options.horizon
    shortest = min(data.lengths.values())
    window = min_window(options, season)
    which = "the shortest series has" if data.is_panel else "the series has"
    if folds is None:
        needed = window + horizon
        if shortest < needed:
            raise CLIError(
                f"{data.source}: {which} {shortest} observations; a window of "
                f"{window} and horizon {horizon} need at least {needed}. Use a "
                "shorter --horizon or --window-length."
            )
        return
    first_train = shortest - folds * horizon
    needed = max(window + horizon, season + 1, 3)
    if first_train < needed:
        why = f"a window of {window} + the horizon of {horizon}"
        if season + 1 > window + horizon:
            why = f"more than a season of {season}"
        raise CLIError(
            f"{data.source}: {which} {shortest} observations, too few for {folds} "
            f"fold(s) of horizon {horizon}: the first fold would train on "
            f"{max(first_train, 0)}, but needs at least {needed} ({why}), so at least "
            f"{needed + folds * horizon} observations. Use fewer --folds, a shorter "
            "--horizon or --window-length."
        )
