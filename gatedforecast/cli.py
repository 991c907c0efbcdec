"""The ``gatedforecast`` command: ``compare`` GRU, LSTM and naive baselines on the
same folds, or ``forecast`` the next steps of a file.

Run ``gatedforecast compare`` (or ``python -m gatedforecast compare``) with no file
to compare the models on sktime's airline data. sktime, torch and matplotlib are
imported inside the commands, after the options are read.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

__all__ = ["build_parser", "main"]

DEFAULT_OUTPUT = "gatedforecast-output"

_EPILOG_COMPARE = """\
examples:
  gatedforecast compare                       # airline, horizon 12, 3 folds
  gatedforecast compare sales.csv --time-col date --target units --horizon 8
  gatedforecast compare stores.parquet --id-col store --target sales --folds 2

writes compare.csv, compare.json and compare.png into --output-dir.
sMAPE and MASE follow the M4 competition (MASE with seasonal period --season);
fit s is the mean fit time per fold; sMAPE and MASE show mean ± standard
deviation over the folds; rank is by MASE, and "within noise" marks a model whose
difference to the best is within the fold-to-fold spread.
"""

_EPILOG_FORECAST = """\
examples:
  gatedforecast forecast sales.csv --time-col date --target units --horizon 8
  gatedforecast forecast stores.csv --id-col store --model lstm

writes forecast.csv (and forecast.png) into --output-dir.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _coverage(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a coverage in (0, 1), got {value}")
    return value


def _dropout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a dropout in [0, 1), got {value}")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "input",
        nargs="?",
        metavar="FILE",
        help="CSV or Parquet file, one row per time step (and series)",
    )
    data.add_argument(
        "--input", dest="input_option", metavar="FILE", help="same as FILE"
    )
    data.add_argument(
        "--time-col",
        metavar="COL",
        help="column with the dates or integer time steps (default: the first column "
        "that is not the id or a target)",
    )
    data.add_argument(
        "--target",
        metavar="COL",
        nargs="+",
        action="extend",
        help="column(s) to forecast; several are forecast jointly (default: the one "
        "column left)",
    )
    data.add_argument(
        "--id-col",
        metavar="COL",
        help="column naming the series: many series, one global model",
    )
    data.add_argument(
        "--season",
        type=_positive_int,
        metavar="N",
        help="season length in steps (default: from the frequency, e.g. 12 for "
        "monthly data, 1 when unknown)",
    )

    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--horizon",
        type=_positive_int,
        default=12,
        metavar="H",
        help="steps to forecast (default: 12)",
    )
    model.add_argument(
        "--window-length",
        type=_positive_int,
        metavar="N",
        help="past values the networks read (default: the forecasters' own rule)",
    )
    model.add_argument(
        "--hidden-sizes",
        type=_positive_int,
        nargs="+",
        default=[64],
        metavar="N",
        help="units of each recurrent layer, bottom to top (default: 64)",
    )
    model.add_argument(
        "--baseline",
        choices=["auto", "last", "seasonal", "none"],
        default="auto",
        help="the naive forecast the networks learn to correct: the last value, the "
        "value one season back, or none (default: auto, seasonal when the season "
        "is longer than 1, else last)",
    )
    model.add_argument(
        "--epochs", type=_positive_int, default=50, metavar="N", help="(default: 50)"
    )
    model.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        metavar="N",
        help="(default: 32)",
    )
    model.add_argument(
        "--steps-per-epoch",
        type=_positive_int,
        metavar="N",
        help="bound each epoch to N batches drawn at random (for long series and "
        "many series; default: one pass over all windows)",
    )
    model.add_argument(
        "--dropout",
        type=_dropout,
        default=0.0,
        metavar="P",
        help="dropout on each recurrent layer's output in training (default: 0)",
    )
    model.add_argument(
        "--interval-method",
        choices=["conformal", "mc_dropout", "quantile", "none"],
        default="conformal",
        help="how the networks predict intervals: split-conformal on held-out "
        "windows, Monte Carlo dropout (needs --dropout), a quantile head trained "
        "with the pinball loss, or none (default: conformal)",
    )
    model.add_argument(
        "--coverage",
        type=_coverage,
        default=0.9,
        metavar="P",
        help="coverage of prediction intervals, for models that predict them "
        "(default: 0.9)",
    )

    run = parser.add_argument_group("running")
    run.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda, cuda:N or mps (default: auto)",
    )
    run.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        metavar="N",
        help="torch CPU threads (default: 1, so that runs side by side do not "
        "compete for cores; raise it for wide networks)",
    )
    run.add_argument(
        "--output-dir",
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help=f"where the files go (default: ./{DEFAULT_OUTPUT})",
    )
    run.add_argument("--no-plot", action="store_true", help="write no PNG")
    run.add_argument(
        "-v", "--verbose", action="store_true", help="a progress bar per network fit"
    )
    run.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress lines; notes, warnings and errors still show",
    )
    run.add_argument(
        "--debug", action="store_true", help="show the full traceback of errors"
    )


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one ``error:`` line, like every other error."""

    def error(self, message):
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="gatedforecast",
        description="GRU or LSTM for your series? Compare them with naive baselines on "
        "the same rolling-origin folds, or forecast with one.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    compare = commands.add_parser(
        "compare",
        help="rolling-origin comparison of GRU, LSTM, naive and seasonal naive",
        description="Rolling-origin evaluation (sktime evaluate, expanding window) of "
        "GRUForecaster, LSTMForecaster, NaiveForecaster and seasonal NaiveForecaster "
        "on the same folds at the end of the data. Without FILE: sktime's airline data.",
        epilog=_EPILOG_COMPARE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(compare)
    evaluation = compare.add_argument_group("evaluation")
    evaluation.add_argument(
        "--folds",
        type=_positive_int,
        default=3,
        metavar="K",
        help="folds of --horizon steps at the end of each series (default: 3)",
    )
    evaluation.add_argument(
        "--baselines",
        action="store_true",
        help="also compare the classical ETS (sktime's AutoETS) and Theta "
        "(ThetaForecaster) forecasts, with the season; needs statsmodels",
    )
    forecast = commands.add_parser(
        "forecast",
        help="fit a GRU or LSTM on a file and forecast the next steps",
        description="Fit GRUForecaster (or LSTMForecaster) on all the data and write "
        "the forecasts of the next --horizon steps.",
        epilog=_EPILOG_FORECAST,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(forecast)
    forecast.add_argument(
        "--model", choices=["gru", "lstm"], default="gru", help="(default: gru)"
    )
    return parser


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
    from ._cli_data import CLIError, airline, load_dataset, season_for

    if options.input and options.input_option:
        raise CLIError("give the file once: as FILE or as --input, not both")
    path = options.input or options.input_option
    if path is None:
        if options.command == "forecast":
            raise CLIError("forecast needs a file: gatedforecast forecast FILE ...")
        if options.id_col or options.target or options.time_col:
            raise CLIError("--time-col, --target and --id-col need a FILE")
        data = airline()
    else:
        data = load_dataset(path, options.time_col, options.target, options.id_col)

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
    """Resolve ``--baseline auto`` for ``season`` and check that the data suffice,
    raising :class:`CLIError` (options unchanged) when they do not."""
    trial = copy.copy(options)
    if trial.baseline == "auto":
        trial.baseline = "seasonal" if season > 1 else "last"
    if options.command == "compare":
        from ._cli_compare import check_enough_data
    else:
        from ._cli_forecast import check_enough_data
    check_enough_data(data, trial, season)
    options.baseline = trial.baseline


def _check_device(device: str) -> None:
    """Refuse a device this machine lacks before any work, naming the option."""
    import re

    from ._cli_data import CLIError
    from .devices import resolve_device

    try:
        resolve_device(device)
    except (ValueError, TypeError) as error:
        # the library speaks of device="cpu"; here the option is --device cpu
        text = " ".join(str(error).split())
        text = re.sub(r"""device=(["'])(.*?)\1""", r"--device \2", text)
        raise CLIError(text) from error


def _run(options) -> int:
    from ._cli_data import CLIError

    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    options.hidden_sizes = (
        options.hidden_sizes[0]
        if len(options.hidden_sizes) == 1
        else tuple(options.hidden_sizes)
    )
    if options.interval_method == "mc_dropout" and not options.dropout:
        raise CLIError(
            "--interval-method mc_dropout samples dropout masks: set --dropout"
        )
    _check_device(options.device)
    if options.command == "compare" and options.baselines:
        from ._cli_compare import require_statsmodels

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
        from ._cli_compare import print_table, run_compare, write_outputs

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
        from ._cli_forecast import forecast_table, run_forecast, write_forecast

        _, y_pred, intervals = run_forecast(data, options, season, log)
        table = forecast_table(data, y_pred, intervals, options.coverage)
        print(table.to_string(index=False, max_rows=30))
        written = write_forecast(
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
    from ._cli_data import CLIError

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
            from .training import TrainingDivergedError

            if options.debug:
                raise
            if isinstance(error, TrainingDivergedError):
                _log(f"error: {' '.join(str(error).split())}")
                return 1
            if isinstance(error, (ValueError, OverflowError)):
                # the library refuses what it cannot compute with a ValueError
                # that names the problem: one line, like every other error
                _log(f"error: {' '.join(str(error).split()) or type(error).__name__}")
                return 2
            raise


if __name__ == "__main__":
    sys.exit(main())
