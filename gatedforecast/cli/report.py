"""The comparison's results and what ``compare`` writes: the table it prints,
``compare.csv``, ``compare.json`` and ``compare.png``."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..metrics import smape
from ..panels import split_series
from .data import Dataset

__all__ = [
    "Comparison",
    "ModelResult",
    "RANKED_BY",
    "plot_comparison",
    "print_table",
    "rank_models",
    "write_outputs",
]


# ---------------------------------------------------------------------- results
@dataclass
class ModelResult:
    name: str
    estimator: str
    smape: float
    mase: float
    fit_seconds: float
    n_parameters: int
    smape_by_fold: list = field(default_factory=list)
    mase_by_fold: list = field(default_factory=list)
    fit_seconds_by_fold: list = field(default_factory=list)
    mae_by_step: list = field(default_factory=list)
    #: absolute error of each step over its series' MASE scale, mean over folds,
    #: series and targets
    scaled_error_by_step: list = field(default_factory=list)
    #: share of actual values inside the --coverage intervals; NaN without intervals
    coverage: float = float("nan")
    coverage_by_fold: list = field(default_factory=list)
    rank: int = 0
    #: the best model, or one whose difference to the best is within the fold-to-
    #: fold noise (see rank_models); None with a single fold
    within_noise: bool | None = None
    # the last fold, for the plot: frames indexed like the data
    last_pred: pd.DataFrame | None = None
    last_interval: pd.DataFrame | None = None

    def row(self) -> dict:
        return {
            "model": self.name,
            "smape": _round(self.smape),
            "mase": _round(self.mase),
            "fit_seconds": round(self.fit_seconds, 3),
            "smape_std": _round(_std(self.smape_by_fold)),
            "mase_std": _round(_std(self.mase_by_fold)),
            "n_parameters": self.n_parameters,
            "coverage": _round(self.coverage),
            "rank": self.rank,
            "within_noise": self.within_noise,
        }


@dataclass
class Comparison:
    data: Dataset
    settings: dict
    folds: list
    results: list
    last_train: pd.DataFrame
    last_test: pd.DataFrame

    def table(self) -> pd.DataFrame:
        rows = sorted(
            (r.row() for r in self.results), key=lambda r: (r["rank"], r["model"])
        )
        columns = ["model", "smape", "smape_std", "mase", "mase_std", "fit_seconds",
                   "n_parameters", "coverage", "rank", "within_noise"]  # fmt: skip
        types = {
            c: float for c in ("smape", "smape_std", "mase", "mase_std", "coverage")
        }
        return pd.DataFrame(rows)[columns].astype(types)

    def to_json(self) -> dict:
        return {
            "command": "compare",
            "data": {
                "source": self.data.source,
                "time_col": self.data.time_col,
                "targets": self.data.targets,
                "id_col": self.data.id_col,
                "frequency": self.data.freq,
                "n_series": self.data.n_series,
                "n_observations": int(sum(self.data.lengths.values())),
                "shortest_series": int(min(self.data.lengths.values())),
            },
            "settings": self.settings,
            "metrics": {
                "smape": "M4 sMAPE in percent, mean over series, targets and folds",
                "mase": (
                    f"M4 MASE with seasonal period {self.settings['season']}, scaled on "
                    "each fold's training part; mean over series, targets and folds"
                ),
                "fit_seconds": "mean fit time per fold (sktime evaluate's fit_time)",
                "scaled_error_by_step": "absolute error of each horizon step over the "
                "MASE scale of its series and target, mean over folds, series and "
                "targets (the error by step of compare.png)",
                "mae_by_step": "mean absolute error of each horizon step, over folds, "
                "series and targets",
                "coverage": (
                    f"share of actual values inside the {self.settings['coverage']:.0%} "
                    "prediction intervals, over series, targets, steps and folds; "
                    "null for models without intervals"
                ),
                "smape_std": "standard deviation of sMAPE over the folds",
                "mase_std": "standard deviation of MASE over the folds",
                "rank": f"by {RANKED_BY}, 1 is best",
                "within_noise": (
                    "true for the best model and for each model whose mean difference "
                    f"in {RANKED_BY} to the best, fold by fold, is at most the standard "
                    "deviation of those differences over the folds; null with one fold"
                ),
            },
            "folds": self.folds,
            "results": [
                {
                    **r.row(),
                    "estimator": r.estimator,
                    "smape_by_fold": _rounded(r.smape_by_fold),
                    "mase_by_fold": _rounded(r.mase_by_fold),
                    "fit_seconds_by_fold": _rounded(r.fit_seconds_by_fold, 3),
                    "mae_by_step": _rounded(r.mae_by_step),
                    "scaled_error_by_step": _rounded(r.scaled_error_by_step),
                    "coverage_by_fold": _rounded(r.coverage_by_fold),
                }
                for r in sorted(self.results, key=lambda r: (r.rank, r.name))
            ],
        }


def _round(value, digits: int = 4):
    return None if not np.isfinite(value) else round(float(value), digits)


def _std(values) -> float:
    """Sample standard deviation over the folds; NaN with fewer than two."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def _rounded(values, digits: int = 4):
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


RANKED_BY = "MASE"


def rank_models(results) -> None:
    """Set ``rank`` (by MASE; by sMAPE where no model has a finite MASE, as on a
    training part without change; NaN last) and ``within_noise`` of each result.

    A model is within noise of the best when the mean of its fold-by-fold
    differences to the best is at most their standard deviation over the folds:
    the folds do not tell the two apart.
    """
    by = "mase" if any(np.isfinite(r.mase) for r in results) else "smape"
    means = pd.Series([getattr(r, by) for r in results], dtype=float)
    order = means.rank(method="min", na_option="bottom").astype(int)
    for result, rank in zip(results, order):
        result.rank = int(rank)
    best = results[int(np.argmin(order.to_numpy()))]
    for result in results:
        differences = np.asarray(getattr(result, f"{by}_by_fold"), float) - np.asarray(
            getattr(best, f"{by}_by_fold"), float
        )
        if result is best:
            result.within_noise = True if len(differences) > 1 else None
        elif len(differences) < 2 or not np.isfinite(differences).all():
            result.within_noise = None
        else:
            spread = float(np.std(differences, ddof=1))
            result.within_noise = bool(differences.mean() <= spread)


# ---------------------------------------------------------------------- output
def write_outputs(
    comparison: Comparison, directory, plot: bool = True, log=None
) -> list:
    """``compare.csv``, ``compare.json`` and (with ``plot``, where matplotlib is
    installed) ``compare.png`` in ``directory``; the paths written."""
    from .plot import draw

    directory.mkdir(parents=True, exist_ok=True)
    csv = directory / "compare.csv"
    comparison.table().to_csv(csv, index=False)
    js = directory / "compare.json"
    js.write_text(json.dumps(comparison.to_json(), indent=2, default=str) + "\n")
    if not plot:
        return [csv, js]
    return [csv, js, *draw(plot_comparison, directory / "compare.png", log, comparison)]


def model_colours(comparison: Comparison) -> dict:
    """A fixed colour per model, by its place in the comparison (GRU, LSTM, naive,
    seasonal naive, ETS, Theta), so that a model keeps its colour from run to run
    whatever its rank."""
    return {r.name: f"C{i % 10}" for i, r in enumerate(comparison.results)}


def plot_comparison(comparison: Comparison, path) -> None:
    """Last fold's forecasts of each model against the actual values (first series,
    first target), with the fold's sMAPE of that series in the legend, and the
    scaled absolute error by horizon step over all folds and series."""
    from .plot import pyplot, x_values

    plt = pyplot()
    data = comparison.data
    target = data.targets[0]
    keys, trains = split_series(comparison.last_train)
    key, train = keys[0], trains[0]
    test = dict(zip(*split_series(comparison.last_test)))[key]
    history = train[target].iloc[-max(4 * comparison.settings["horizon"], 36) :]
    colours = model_colours(comparison)
    ranked = sorted(comparison.results, key=lambda r: (r.rank, r.name))

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7.5), constrained_layout=True)
    top.plot(x_values(history.index), history.to_numpy(), color="0.35", label="history")
    actual = test[target].to_numpy(float)
    top.plot(x_values(test.index), actual, color="black", lw=2, label="actual")
    # the y range follows the data and the forecasts; wide bands are cut off
    shown = [history.to_numpy(float), actual]
    for result in ranked:
        pred = dict(zip(*split_series(result.last_pred)))[key][target]
        pred = pred.reindex(test.index)
        forecast = pred.to_numpy(float)
        shown.append(forecast)
        top.plot(
            x_values(test.index),
            forecast,
            color=colours[result.name],
            marker="o",
            ms=3,
            label=f"{result.name}: sMAPE {smape(actual, forecast):.2f}",
        )
        if result.last_interval is not None:
            bounds = dict(zip(*split_series(result.last_interval)))[key]
            lower = bounds.xs("lower", axis=1, level=-1).iloc[:, 0].reindex(test.index)
            upper = bounds.xs("upper", axis=1, level=-1).iloc[:, 0].reindex(test.index)
            top.fill_between(
                x_values(test.index),
                lower.to_numpy(),
                upper.to_numpy(),
                color=colours[result.name],
                alpha=0.12,
            )
    values = np.concatenate(shown)
    values = values[np.isfinite(values)]
    if len(values):
        low, high = float(values.min()), float(values.max())
        pad = 0.08 * (high - low) or 0.08 * max(abs(high), 1.0)
        top.set_ylim(low - pad, high + pad)
    where = (
        ""
        if key is None
        else f", series {key if not isinstance(key, tuple) else key[0]}"
    )
    coverage = comparison.settings.get("coverage")
    note = (
        f"; shaded: {coverage:.0%} intervals where the model has them"
        if coverage
        else ""
    )
    top.set_title(f"Last fold: {target}{where}; sMAPE of this fold{note}", fontsize=10)
    top.set_xlabel(data.time_col)
    top.set_ylabel(target)
    top.legend(fontsize=8, loc="upper left")

    steps = np.arange(1, comparison.settings["horizon"] + 1)
    for result in ranked:
        bottom.plot(
            steps,
            result.scaled_error_by_step,
            color=colours[result.name],
            marker="o",
            ms=3,
            label=result.name,
        )
    bottom.set_xlabel("horizon step")
    bottom.set_ylabel("absolute error / MASE scale")
    bottom.set_title(
        f"Scaled error by horizon step, mean over {len(comparison.folds)} fold(s)"
        + (" and all series" if data.is_panel else ""),
        fontsize=10,
    )
    bottom.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(table: pd.DataFrame, title: str, level: float, stream=None) -> None:
    """The comparison table with rich when it is installed, else as aligned text.

    ``level`` is the nominal coverage of the intervals, for the coverage header.
    """
    stream = stream or sys.stdout
    try:
        plus_minus = "±".encode(getattr(stream, "encoding", None) or "utf-8") and "±"
    except (UnicodeEncodeError, LookupError):
        plus_minus = "+/-"

    def spread(mean, std, digits):
        if not np.isfinite(mean):
            return "nan"
        text = f"{mean:.{digits}f}"
        return text if not np.isfinite(std) else f"{text} {plus_minus} {std:.{digits}f}"

    def versus(row):
        if row.within_noise is None or pd.isna(row.within_noise):
            return "-"
        if row.rank == 1:
            return "best"
        return "within noise" if row.within_noise else ""

    headers = [
        "model",
        "sMAPE",
        "MASE",
        "fit s",
        "parameters",
        f"{level:.0%} cover",
        f"rank ({RANKED_BY})",
        "vs best",
    ]
    rows = [
        [
            r.model,
            spread(r.smape, r.smape_std, 2),
            spread(r.mase, r.mase_std, 3),
            f"{r.fit_seconds:.2f}",
            f"{r.n_parameters:,}",
            "-" if not np.isfinite(r.coverage) else f"{r.coverage:.0%}",
            str(r.rank),
            versus(r),
        ]
        for r in table.itertuples()
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title, file=stream)
        print(plain_table(headers, rows), file=stream)
        return
    grid = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        grid.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        grid.add_row(*row)
    # piped output gets a width that fits the table instead of rich's 80 columns
    width = None if stream.isatty() else 120
    Console(file=stream, soft_wrap=True, width=width).print(grid)


def plain_table(headers, rows) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells):
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
