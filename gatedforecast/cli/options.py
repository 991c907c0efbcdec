"""The command line's options: the argparse parser of ``compare`` and ``forecast``,
and how the options become the forecasters' parameters.

The choices of ``--baseline``, ``--interval-method``, ``--distribution`` and
``--model`` are the library's own (:func:`library_choices`); the library's messages about a
parameter are shown with the option that sets it (:data:`OPTION_OF`).

Reading the options loads neither torch nor sktime, so that ``--help`` is quick.
"""

from __future__ import annotations

import argparse
import re

from .errors import one_line

__all__ = [
    "OPTION_OF",
    "build_parser",
    "library_choices",
    "library_value",
    "network_params",
    "option_message",
]

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
  gatedforecast forecast sales.csv --target units --covariates price \
      --future next_weeks.csv --horizon 4

writes forecast.csv (and forecast.png) into --output-dir.
"""


#: the library's choices of the options that pick one of its named kinds, as the
#: library writes them (None: the option's "none"). Written here rather than
#: imported, so that reading the options loads neither torch nor sktime;
#: tests/test_cli.py checks that they are the library's: scaling.BASELINES with
#: "auto", forecasting.INTERVAL_METHODS, and the cells of networks.CELLS.
_LIBRARY_CHOICES = {
    "baseline": ("auto", "last", "seasonal", None),
    "interval_method": ("conformal", "mc_dropout", "quantile", "distribution", None),
    "distribution": ("normal", "student_t", "negative_binomial", None),
    "model": ("gru", "lstm"),
}


def library_choices() -> dict[str, list[str]]:
    """The choices of ``--baseline``, ``--interval-method``, ``--distribution``
    and ``--model``: the
    library's values, with None as ``"none"`` (see :func:`library_value`)."""
    return {
        name: ["none" if value is None else value for value in values]
        for name, values in _LIBRARY_CHOICES.items()
    }


def library_value(choice: str):
    """The library's value of an option's choice: ``"none"`` is None."""
    return None if choice == "none" else choice


#: the forecasters' parameter each option sets, by the parameter's name
OPTION_OF = {
    "window_length": "--window-length",
    "hidden_sizes": "--hidden-sizes",
    "dropout": "--dropout",
    "ensemble_size": "--ensemble-size",
    "max_epochs": "--epochs",
    "batch_size": "--batch-size",
    "steps_per_epoch": "--steps-per-epoch",
    "device": "--device",
    "random_state": "--seed",
    "seasonal_period": "--season",
    "baseline": "--baseline",
    "interval_method": "--interval-method",
    "distribution": "--distribution",
}

_NAMES = "|".join(sorted(OPTION_OF, key=len, reverse=True))
#: a parameter with its value, as the library's messages write it: ``name='value'``
#: or ``name=value``
_WITH_VALUE = re.compile(rf"""\b({_NAMES})=(?:(["'])(.*?)\2|([^\s,;)]+))""")
#: a parameter's bare name: one with an underscore, or one compared (``dropout > 0``)
_BARE = re.compile(rf"\b({_NAMES})\b")


def option_message(error: Exception) -> str:
    """The library's message about its parameters (``dropout=0.1``), on one line
    and in the options that set them (``--dropout 0.1``)."""

    def with_value(match: re.Match) -> str:
        value = match[3] if match[2] else match[4]
        return f"{OPTION_OF[match[1]]} {'none' if value == 'None' else value}"

    def bare(match: re.Match) -> str:
        name = match[1]
        compared = re.match(r"\s[<>]=?\s", match.string[match.end() :])
        if name in OPTION_OF and ("_" in name or compared):
            return OPTION_OF[name]
        return name

    text = _WITH_VALUE.sub(with_value, one_line(error))
    return _BARE.sub(bare, text)


def network_params(options, season: int) -> dict:
    """The parameters the command gives GRUForecaster and LSTMForecaster."""
    params = {
        "window_length": options.window_length,
        "hidden_sizes": options.hidden_sizes,
        "dropout": options.dropout,
        "ensemble_size": options.ensemble_size,
        "max_epochs": options.epochs,
        "batch_size": options.batch_size,
        "steps_per_epoch": options.steps_per_epoch,
        "device": options.device,
        "random_state": options.seed,
        "verbose": 1 if options.verbose else 0,
    }
    # the command settles the season and the baseline itself (--season, --baseline)
    params.update(seasonal_period=season if season > 1 else None)
    params.update(baseline=library_value(options.baseline))
    params.update(interval_method=library_value(options.interval_method))
    params.update(distribution=library_value(options.distribution))
    past = getattr(options, "past_covariates", None)
    params.update(past_covariates=list(dict.fromkeys(past)) if past else None)
    static = getattr(options, "static_covariates", None)
    params.update(static_covariates=list(dict.fromkeys(static)) if static else None)
    return params


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


def _ensemble_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected auto or a whole number >= 1, got {text!r}"
        ) from None


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
        "--covariates",
        metavar="COL",
        nargs="+",
        action="extend",
        help="numeric column(s) known ahead (prices, holidays, calendar): the "
        "networks read them beside the target; forecast needs their values for the "
        "forecast steps (--future)",
    )
    data.add_argument(
        "--past-covariates",
        metavar="COL",
        nargs="+",
        action="extend",
        help="numeric column(s) known only up to the last time of the data (a "
        "sensor, yesterday's traffic): the networks read them in the input window "
        "only, and the forecast needs no future values of them",
    )
    data.add_argument(
        "--static-covariates",
        metavar="COL",
        nargs="+",
        action="extend",
        help="column(s) with one value per series (store size, region): the "
        "networks read them once per window, text as categories with a learned "
        "embedding; the forecast needs no future values of them",
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
        choices=library_choices()["baseline"],
        default="auto",
        help="the naive forecast the networks learn to correct: the last value, the "
        "value one season back, or none (default: auto, seasonal when the season "
        "is longer than 1, else last)",
    )
    model.add_argument(
        "--ensemble-size",
        type=_ensemble_size,
        default="auto",
        metavar="N",
        help="networks trained together from different initial weights and "
        "combined by their median (default: auto, 5 on small data, else 1)",
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
        choices=library_choices()["interval_method"],
        default="conformal",
        help="how the networks predict intervals: split-conformal on held-out "
        "windows, Monte Carlo dropout (needs --dropout), a quantile head trained "
        "with the pinball loss, the --distribution, or none (default: conformal, "
        "read as distribution when --distribution is set)",
    )
    model.add_argument(
        "--distribution",
        choices=library_choices()["distribution"],
        default="none",
        help="train a likelihood head by negative log-likelihood and take the "
        "intervals from its distribution: negative_binomial for counts "
        "(non-negative integers), normal or student_t for real values "
        "(default: none, a point forecast with conformal intervals)",
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
    from .. import __version__

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
        "--future",
        metavar="FILE",
        help="CSV or Parquet file with the --covariates of the forecast steps: the "
        "time column (and --id-col) and one row per series and step",
    )
    forecast.add_argument(
        "--model",
        choices=library_choices()["model"],
        default="gru",
        help="(default: gru)",
    )
    return parser
