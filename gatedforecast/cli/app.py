"""The ``gatedforecast`` command: ``compare`` GRU, LSTM and naive baselines on the
same folds, or ``forecast`` the next steps of a file.

Run ``gatedforecast compare`` (or ``python -m gatedforecast compare``) with no file
to compare the models on sktime's airline data. sktime, torch and matplotlib are
imported inside the commands, after the options are read.
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from pathlib import Path

from .errors import CLIError, one_line
from .options import build_parser, network_params, option_message

__all__ = ["main"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress_log(quiet: bool):
    """The log of the commands: every line, or with ``quiet`` only the notes,
    warnings and errors."""
    if not quiet:
        return _log

    def log(message: str) -> None:
        if message.startswith(("note:", "warning:", "error:")):
            _log(message)

    return log


def _load(options):
    from .data import airline, load_dataset, season_for

    if options.input and options.input_option:
        raise CLIError("give the file once: as FILE or as --input, not both")
    path = options.input or options.input_option
    if path is None:
        if options.command == "forecast":
            raise CLIError("forecast needs a file: gatedforecast forecast FILE ...")
        named = (options.id_col, options.target, options.time_col)
        kinds = (options.covariates, options.past_covariates, options.static_covariates)
        if any(named) or any(kinds):
            raise CLIError(
                "--time-col, --target, --id-col, --covariates, --past-covariates and "
                "--static-covariates need a FILE"
            )
        data = airline()
    else:
        data = load_dataset(
            path,
            options.time_col,
            options.target,
            options.id_col,
            options.covariates,
            options.past_covariates,
            # forecast trains on series with gaps; compare scores folds against
            # every actual value
            allow_missing=options.command == "forecast",
            static_covariates=options.static_covariates,
        )

    shortest = min(data.lengths.values())
    if options.season is not None and shortest <= options.season:
        raise CLIError(
            f"{data.source}: --season {options.season} needs more than {options.season} "
            f"observations per series; the shortest has {shortest}"
        )
    inferred = season_for(data.freq)
    if options.season is not None or inferred == 1:
        season = options.season or 1
        _settle(data, options, season)
        return data, season
    # a season from the frequency that the data cannot carry falls back to 1
    try:
        _settle(data, options, inferred)
    except CLIError:
        _settle(data, options, 1)
        _log(
            f"note: season {inferred} (from frequency {data.freq}) is too long for "
            "this data; using season 1 (pass --season to choose)"
        )
        return data, 1
    return data, inferred


def _settle(data, options, season: int) -> None:
    """Resolve ``--baseline auto`` for ``season`` and check the parameters and
    that the data suffice, raising :class:`CLIError` (options unchanged) when
    they do not."""
    from .data import check_enough_data

    trial = copy.copy(options)
    if trial.baseline == "auto":
        trial.baseline = "seasonal" if season > 1 else "last"
    _check_parameters(trial, season)
    folds = options.folds if options.command == "compare" else None
    check_enough_data(data, trial, season, folds)
    options.baseline = trial.baseline


def _check_parameters(options, season: int | None) -> None:
    """The forecasters' own check of the parameters that the options give them,
    before any data are read (``season`` None: not known yet) or any network is
    trained; its message in the words of the options."""
    from ..forecasting import GRUForecaster

    params = network_params(options, season or 1)
    if season is None:
        # the season comes from the data; the forecasters' "auto" stands for it
        params["seasonal_period"] = "auto"
    try:
        GRUForecaster(**params)._check_params()
    except (ValueError, TypeError) as error:
        raise CLIError(option_message(error)) from error


def _check_device(device: str) -> None:
    """Refuse a device this machine lacks before any work, naming the option."""
    from ..devices import resolve_device

    try:
        resolve_device(device)
    except (ValueError, TypeError) as error:
        raise CLIError(option_message(error)) from error


def _run(options) -> int:
    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    options.hidden_sizes = (
        options.hidden_sizes[0]
        if len(options.hidden_sizes) == 1
        else tuple(options.hidden_sizes)
    )
    _check_parameters(options, options.season)
    _check_device(options.device)
    if options.command == "compare" and options.baselines:
        from .compare import require_statsmodels

        require_statsmodels()
    data, season = _load(options)
    output = Path(options.output_dir)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CLIError(
            f"cannot create --output-dir {output}: {error.strerror}"
        ) from error
    started = time.perf_counter()
    log = _progress_log(options.quiet)

    if options.command == "compare":
        from .compare import run_compare
        from .report import print_table, write_outputs

        log(
            f"compare: {data.describe()}; horizon {options.horizon}, "
            f"{options.folds} fold(s), season {season}"
        )
        comparison = run_compare(data, options, season, log)
        title = (
            f"{data.source}: horizon {options.horizon}, {options.folds} fold(s), "
            f"season {season}; networks: {options.epochs} epochs, baseline "
            f"{options.baseline}"
        )
        print_table(comparison.table(), title, options.coverage)
        written = write_outputs(comparison, output, not options.no_plot, log)
    else:
        from . import forecast

        _, y_pred, intervals = forecast.run_forecast(data, options, season, log)
        table = forecast.forecast_table(data, y_pred, intervals, options.coverage)
        print(table.to_string(index=False, max_rows=30))
        written = forecast.write_forecast(
            data,
            table,
            (y_pred, intervals, options.coverage),
            output,
            not options.no_plot,
            log,
        )
    log(
        f"wrote {', '.join(str(p) for p in written)} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def _warning_lines(show):
    """Warnings (the library's and numpy's runtime warnings) as ``warning: ...``
    lines, each message once; sktime's notice about
    its ``remember_data`` default, which concerns none of this, not at all."""
    seen = set()

    def showwarning(message, category, *args, **kwargs):
        text = " ".join(str(message).split())
        if issubclass(category, FutureWarning) and "remember_data" in text:
            return
        if not issubclass(category, (UserWarning, RuntimeWarning)) or issubclass(
            category, (DeprecationWarning, FutureWarning)
        ):
            show(message, category, *args, **kwargs)
            return
        if text not in seen:
            seen.add(text)
            _log(f"warning: {text}")

    return showwarning


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gatedforecast`` console script; returns the exit code."""
    parser = build_parser()
    options = parser.parse_args(argv)

    with warnings.catch_warnings():
        # sktime 1.2 announces a change of a default that does not concern us, from
        # every NaiveForecaster it clones; a filter is not enough, as sktime's own
        # warning suppression re-enables FutureWarnings inside fit and predict.
        warnings.showwarning = _warning_lines(warnings.showwarning)
        try:
            return _run(options)
        except CLIError as error:
            if options.debug:
                raise
            _log(f"error: {error}")
            return error.exit_code
        except KeyboardInterrupt:
            _log("error: interrupted")
            return 130
        except Exception as error:
            from ..training import TrainingDivergedError

            if options.debug:
                raise
            if isinstance(error, TrainingDivergedError):
                _log(f"error: {one_line(error)}")
                return 1
            if isinstance(error, (ValueError, OverflowError)):
                # the library refuses what it cannot compute with a ValueError
                # that names the problem: one line, like every other error
                _log(f"error: {one_line(error)}")
                return 2
            raise
