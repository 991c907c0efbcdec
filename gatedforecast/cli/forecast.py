"""``gatedforecast forecast``: fit on all the data, forecast the next steps."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..panels import split_series
from .data import CLIError, Dataset, check_enough_data, check_finite
from .errors import first_sentence, one_line
from .options import network_params

__all__ = ["check_counts", "forecast_table", "run_forecast", "write_forecast"]


def check_counts(data: Dataset, options) -> None:
    """Refuse a target that is not counts when ``--distribution`` is a count
    distribution, naming the column and the value."""
    if getattr(options, "distribution", "none") != "negative_binomial":
        return
    for column in data.y.columns:
        values = data.y[column].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        bad = (values < 0) | (values != np.round(values))
        if bad.any():
            raise CLIError(
                "--distribution negative_binomial describes counts, but target "
                f"{column!r} has the value {values[bad][0]:g}, not a non-negative "
                "integer. Use --distribution normal or student_t for real values, "
                "or round the column."
            )


def build_forecaster(options, season: int):
    from ..forecasting import GRUForecaster, LSTMForecaster

    cls = GRUForecaster if options.model == "gru" else LSTMForecaster
    params = network_params(options, season)
    return cls(**params)


def _epochs(forecaster) -> str:
    """The epochs of a fitted forecaster's training, in words: the default
    conformal fit trains twice when it holds out many windows (once without
    them, to calibrate; once on all of them)."""
    first, second = forecaster.calibration_epochs_, forecaster.n_epochs_
    if first is not None:
        return (
            f"{first + second} epochs in two trainings ({first} with the last windows "
            f"held out to calibrate the intervals, then {second} on all windows)"
        )
    return f"{second} epochs"


def run_forecast(data: Dataset, options, season: int, log):
    """The fitted forecaster, its point forecasts and its intervals (or ``None``)."""
    from .future import load_future

    check_enough_data(data, options, season)
    check_counts(data, options)
    X_future = load_future(getattr(options, "future", None), data, options.horizon)
    forecaster = build_forecaster(options, season)
    name = type(forecaster).__name__
    log(f"fitting {name} on {data.describe()} ...")
    started = time.perf_counter()
    fh = np.arange(1, options.horizon + 1)
    try:
        forecaster.fit(data.y, X=data.X, fh=fh)
    except (ValueError, TypeError) as error:
        raise CLIError(f"{name} could not be fitted: {one_line(error)}") from error
    log(
        f"fitted in {time.perf_counter() - started:.1f} s: {_epochs(forecaster)}, "
        f"{forecaster.n_parameters_:,} parameters"
    )
    try:
        y_pred = forecaster.predict(X=X_future)
    except (ValueError, TypeError) as error:
        raise CLIError(f"{name} could not forecast: {one_line(error)}") from error
    check_finite(y_pred, name, data)
    intervals = None
    # intervals where the forecaster predicts them (sktime's capability:pred_int)
    if forecaster.get_tag("capability:pred_int", False):
        try:
            intervals = forecaster.predict_interval(
                X=X_future, coverage=options.coverage
            )
            check_finite(intervals, f"{name}'s intervals", data)
        except ValueError as error:
            log(
                f"note: {name} has no prediction intervals here "
                f"({first_sentence(error)}); forecast.csv holds point forecasts only. "
                "Longer data or a shorter --horizon or --window-length give intervals."
            )
    else:
        log(
            f"note: {name} does not predict intervals here (capability:pred_int is "
            "False, e.g. with --interval-method none); forecast.csv holds point "
            "forecasts only"
        )
    return forecaster, y_pred, intervals


def forecast_table(
    data: Dataset, y_pred: pd.DataFrame, intervals, coverage
) -> pd.DataFrame:
    """One row per series and step: id, time, the forecast of each target, and
    ``<target>_lower``/``<target>_upper`` where intervals exist."""
    table = y_pred.copy()
    table.columns = [str(c) for c in table.columns]
    if intervals is not None:
        for target in data.targets:
            for bound in ("lower", "upper"):
                column = intervals[(target, coverage, bound)]
                table[f"{target}_{bound}"] = column.reindex(table.index).to_numpy()
    times = data.output_times(table.index.get_level_values(-1))
    table.index = (
        pd.MultiIndex.from_arrays([table.index.get_level_values(0), times])
        if data.is_panel
        else times
    )
    table = table.reset_index()
    names = [data.id_col, data.time_col] if data.is_panel else [data.time_col]
    table.columns = names + list(table.columns[len(names) :])
    time = table[data.time_col]
    if isinstance(time.dtype, pd.PeriodDtype):
        table[data.time_col] = time.astype(str)
    return table


#: significant digits of forecast.csv, relative to the largest value of the data
SIGNIFICANT_DIGITS = 7


def float_format(y: pd.DataFrame) -> str:
    """A ``printf`` format with :data:`SIGNIFICANT_DIGITS` significant digits at
    the data's scale: the same decimals for every value (``%.4f`` for data in the
    hundreds), or ``%.7g`` for data whose scale no fixed decimals suit."""
    values = np.abs(y.to_numpy(dtype=np.float64))
    largest = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    if not 1e-6 <= largest < 1e15:
        return f"%.{SIGNIFICANT_DIGITS}g"
    decimals = SIGNIFICANT_DIGITS - 1 - int(np.floor(np.log10(largest)))
    return f"%.{max(decimals, 0)}f"


def write_forecast(data, table, history_plot, directory, plot: bool, log=None) -> list:
    """``forecast.csv`` and (with ``plot``, where matplotlib is installed)
    ``forecast.png`` in ``directory``; the paths written."""
    from .plot import draw

    directory.mkdir(parents=True, exist_ok=True)
    csv = directory / "forecast.csv"
    table.to_csv(csv, index=False, float_format=float_format(data.y))
    written = [csv]
    if plot:
        written += draw(
            plot_forecast, directory / "forecast.png", log, data, history_plot
        )
    return written


def plot_forecast(data: Dataset, y_pred_and_intervals, path, max_series: int = 4):
    """History and forecast of the first ``max_series`` series, one panel each."""
    from .plot import pyplot, x_values

    plt = pyplot()
    y_pred, intervals, coverage = y_pred_and_intervals
    series = list(data.series())[:max_series]
    keys, frames = split_series(y_pred)
    predicted = {None if k is None else k[0]: f for k, f in zip(keys, frames)}
    fig, axes = plt.subplots(
        len(series),
        1,
        figsize=(9, 3.2 * len(series)),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, (key, history) in zip(axes[:, 0], series):
        pred = predicted[key]
        tail = history.iloc[-max(4 * len(pred), 48) :]
        for target in data.targets:
            (line,) = ax.plot(
                x_values(tail.index), tail[target].to_numpy(), label=target
            )
            ax.plot(
                x_values(pred.index),
                pred[target].to_numpy(),
                color=line.get_color(),
                ls="--",
                marker="o",
                ms=3,
                label=f"{target} forecast",
            )
            if intervals is not None:
                bounds = intervals if key is None else intervals.xs(key, level=0)
                ax.fill_between(
                    x_values(pred.index),
                    bounds[(target, coverage, "lower")].to_numpy(),
                    bounds[(target, coverage, "upper")].to_numpy(),
                    color=line.get_color(),
                    alpha=0.15,
                    label=f"{target} {coverage:.0%} interval",
                )
        targets = ", ".join(data.targets)
        ax.set_title(
            targets if key is None else f"{targets}: {data.id_col} = {key}",
            fontsize=10,
        )
        ax.set_xlabel(data.time_col)
        ax.set_ylabel(targets)
        ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110)
    plt.close(fig)
