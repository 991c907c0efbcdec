"""``gatedforecast compare``: GRU, LSTM and naive baselines on the same folds."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._cli_data import CLIError, Dataset, check_finite, min_window, network_params

__all__ = ["Comparison", "ModelResult", "run_compare", "smape", "mase"]


# ---------------------------------------------------------------------- metrics
def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sMAPE in percent as the M4 competition defines it (``0/0`` counts as 0)."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return float(200 * ratio.mean())


def mase(actual, forecast, insample, season: int = 1) -> float:
    """MASE as the M4 competition defines it: the mean absolute error over the mean
    absolute ``season``-step difference of the training part (NaN when that is 0)."""
    insample = np.asarray(insample, float)
    if len(insample) <= season:
        return float("nan")
    scale = np.mean(np.abs(insample[season:] - insample[:-season]))
    if scale == 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual, float) - forecast)) / scale)


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


# ---------------------------------------------------------------------- models
def build_models(options, season: int, positive: bool = True) -> list:
    """``(name, forecaster)`` pairs, the networks first; ``positive``: all values
    of the data are above 0."""
    from sktime.forecasting.naive import NaiveForecaster

    from .forecasting import GRUForecaster, LSTMForecaster

    network = network_params(options, season)
    models = [
        ("GRU", GRUForecaster(**network)),
        ("LSTM", LSTMForecaster(**network)),
        ("naive", NaiveForecaster(strategy="last")),
    ]
    if season > 1:
        models.append(
            (
                f"seasonal naive (sp={season})",
                NaiveForecaster(strategy="last", sp=season),
            )
        )
    if getattr(options, "baselines", False):
        models += classical_baselines(season, positive)
    return models


def require_statsmodels() -> None:
    """A :class:`CLIError` for ``--baselines`` without statsmodels."""
    try:
        import statsmodels  # noqa: F401
    except ImportError as error:
        raise CLIError(
            "--baselines needs statsmodels for sktime's AutoETS and ThetaForecaster; "
            "install it with `pip install statsmodels`, or leave out --baselines"
        ) from error


def classical_baselines(season: int, positive: bool) -> list:
    """sktime's ``AutoETS`` (the error, trend and season chosen by AIC) and
    ``ThetaForecaster`` (deseasonalised with the season where the data are
    positive, as its multiplicative decomposition needs), or a :class:`CLIError`
    without statsmodels."""
    require_statsmodels()
    from sktime.forecasting.ets import AutoETS
    from sktime.forecasting.theta import ThetaForecaster

    seasonal = season > 1
    return [
        ("ETS", AutoETS(auto=True, sp=season, n_jobs=1)),
        (
            "Theta",
            ThetaForecaster(sp=season, deseasonalize=seasonal and positive),
        ),
    ]


def make_splitter(data: Dataset, horizon: int, folds: int):
    """``folds`` expanding-window folds of ``horizon`` steps at the end of the data.

    One series: sktime's ``ExpandingWindowSplitter`` with the first training window
    ending ``folds * horizon`` steps before the end. A panel: sktime's
    ``ExpandingGreedySplitter``, which puts the folds at the end of *each* series
    (``ExpandingWindowSplitter`` counts from each series' start, so on series of
    different lengths its folds would not be the latest ones).
    """
    from sktime.split import ExpandingGreedySplitter, ExpandingWindowSplitter

    fh = np.arange(1, horizon + 1)
    if data.is_panel:
        return ExpandingGreedySplitter(
            test_size=horizon, folds=folds, step_length=horizon
        )
    n = min(data.lengths.values())
    return ExpandingWindowSplitter(
        fh=fh, initial_window=n - folds * horizon, step_length=horizon
    )


def check_enough_data(data: Dataset, options, season: int) -> None:
    """Refuse, in one line, data too short for the folds asked."""
    horizon, folds = options.horizon, options.folds
    shortest = min(data.lengths.values())
    first_train = shortest - folds * horizon
    window = min_window(options, season)
    needed = max(window + horizon, season + 1, 3)
    if first_train < needed:
        which = "the shortest series has" if data.is_panel else "the series has"
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


# ---------------------------------------------------------------------- scoring
def _per_series(frame: pd.DataFrame):
    if isinstance(frame.index, pd.MultiIndex):
        for key, part in frame.groupby(
            level=list(range(frame.index.nlevels - 1)), sort=False
        ):
            yield key, part.droplevel(list(range(frame.index.nlevels - 1)))
    else:
        yield None, frame


def mase_scale(insample, season: int = 1) -> float:
    """MASE's denominator: the mean absolute ``season``-step difference of the
    training part; NaN where it is undefined or 0."""
    insample = np.asarray(insample, float)
    if len(insample) <= season:
        return float("nan")
    scale = float(np.mean(np.abs(insample[season:] - insample[:-season])))
    return scale if scale > 0 else float("nan")


def score_fold(y_train, y_test, y_pred, season: int, horizon: int):
    """sMAPE, MASE (means over series and targets), absolute errors by step, and
    scaled absolute errors by step (each over its series' MASE scale, so that
    series of different scales weigh alike)."""
    train = dict(_per_series(y_train))
    pred = dict(_per_series(y_pred))
    smapes, mases = [], []
    by_step, count = np.zeros(horizon), np.zeros(horizon)
    scaled, scaled_count = np.zeros(horizon), np.zeros(horizon)
    for key, actual in _per_series(y_test):
        forecast = pred[key].reindex(actual.index)
        for column in actual.columns:
            a = actual[column].to_numpy(float)
            f = forecast[column].to_numpy(float)
            insample = train[key][column].to_numpy(float)
            smapes.append(smape(a, f))
            mases.append(mase(a, f, insample, season))
            errors = np.abs(a - f)[:horizon]
            by_step[: len(errors)] += errors
            count[: len(errors)] += 1
            scale = mase_scale(insample, season)
            if np.isfinite(scale):
                scaled[: len(errors)] += errors / scale
                scaled_count[: len(errors)] += 1
    mase_value = float(np.nanmean(mases)) if np.isfinite(mases).any() else float("nan")
    scaled_by_step = np.where(
        scaled_count > 0, scaled / np.maximum(scaled_count, 1), np.nan
    )
    return (
        float(np.mean(smapes)),
        mase_value,
        by_step / np.maximum(count, 1),
        scaled_by_step,
    )


def _intervals(forecaster, horizon: int, coverage: float):
    """``(intervals, reason)``: the prediction intervals of a fitted forecaster, or
    ``None`` where it has none (sktime's ``capability:pred_int`` tag) or cannot
    give them (then ``reason`` says why, e.g. no window could be held out to
    calibrate them on a short training part)."""
    if not forecaster.get_tag("capability:pred_int", False):
        return None, None
    try:
        fh = np.arange(1, horizon + 1)
        return forecaster.predict_interval(fh=fh, coverage=coverage), None
    except (ValueError, TypeError, ArithmeticError) as error:
        # also a third-party forecaster whose intervals fail (statsmodels' ETS
        # simulation with some sktime versions): its point forecasts still count
        return None, first_sentence(error)


def first_sentence(error: Exception) -> str:
    """The first sentence of an error's message, on one line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text.split(". ")[0].rstrip(".")


def interval_coverage(interval: pd.DataFrame, y_test: pd.DataFrame) -> float:
    """Share of the actual values inside the intervals, over series, targets, steps."""
    inside = []
    for column in y_test.columns:
        bounds = interval[column].droplevel(0, axis=1)
        lower = bounds["lower"].reindex(y_test.index).to_numpy(float)
        upper = bounds["upper"].reindex(y_test.index).to_numpy(float)
        actual = y_test[column].to_numpy(float)
        inside.append((lower <= actual) & (actual <= upper))
    return float(np.mean(np.concatenate(inside)))


# ---------------------------------------------------------------------- run
def warm_up(models, data: Dataset, splitter, log) -> None:
    """One short untimed fit of each network, so that torch's one-off start-up
    costs do not land in the first fold of the first model."""
    train, _ = next(iter(splitter.split(data.y)))
    y_first = data.y.iloc[train]
    log("warming up torch ...")
    for _, forecaster in models:
        if (
            not hasattr(forecaster, "network_")
            and "max_epochs" in forecaster.get_params()
        ):
            probe = forecaster.clone().set_params(
                max_epochs=1, steps_per_epoch=1, verbose=0
            )
            probe.fit(y_first, fh=np.arange(1, 2))


def _is_network(forecaster) -> bool:
    return "max_epochs" in forecaster.get_params()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    """One line per fold and model: its time, the time so far, and an estimate of
    the time left.

    The estimate takes the mean fold time of each model for its own remaining
    folds, and for a model not started yet the mean fold time of the models of its
    kind so far (the networks, or the classical forecasts; none yet counts 0).
    """

    def __init__(self, models, folds: int, log):
        self.kinds = [_is_network(f) for _, f in models]
        self.names = [name for name, _ in models]
        self.folds = folds
        self.log = log
        self.seconds = [[] for _ in models]
        self.started = time.perf_counter()

    def splitter(self, splitter, model: int):
        """A copy of ``splitter`` that reports each fold of ``model`` once sktime's
        ``evaluate`` (which runs the folds in turn) has finished it."""
        copy = splitter.clone()
        folds = copy.split_series

        def split_series(y):
            began = time.perf_counter()
            for fold in folds(y):
                yield fold
                self.done(model, time.perf_counter() - began)
                began = time.perf_counter()

        copy.split_series = split_series
        return copy

    def done(self, model: int, seconds: float) -> None:
        self.seconds[model].append(seconds)
        elapsed = time.perf_counter() - self.started
        self.log(
            f"  {self.names[model]} fold {len(self.seconds[model])}/{self.folds}: "
            f"{seconds:.1f} s ({_duration(elapsed)} elapsed, about "
            f"{_duration(self.left())} left)"
        )

    def left(self) -> float:
        """Seconds the remaining folds should take."""
        total = 0.0
        for model, times in enumerate(self.seconds):
            remaining = self.folds - len(times)
            if remaining and not times:
                times = [
                    t
                    for other, seconds in enumerate(self.seconds)
                    if self.kinds[other] == self.kinds[model]
                    for t in seconds
                ]
            if remaining and times:
                total += float(np.mean(times)) * remaining
        return total


def run_compare(data: Dataset, options, season: int, log) -> Comparison:
    from sktime.forecasting.model_evaluation import evaluate
    from sktime.performance_metrics.forecasting import MeanAbsolutePercentageError

    horizon, folds = options.horizon, options.folds
    check_enough_data(data, options, season)
    splitter = make_splitter(data, horizon, folds)
    positive = bool((data.y.to_numpy(dtype=np.float64) > 0).all())
    models = build_models(options, season, positive)
    warm_up(models, data, splitter, log)
    results = []
    fold_info = None
    last_train = last_test = None
    progress = Progress(models, folds, log)
    for number, (name, forecaster) in enumerate(models, start=1):
        log(f"[{number}/{len(models)}] {name}: {folds} fold(s) ...")
        started = time.perf_counter()
        try:
            frame = evaluate(
                forecaster,
                progress.splitter(splitter, number - 1),
                data.y,
                scoring=MeanAbsolutePercentageError(symmetric=True),
                return_data=True,
                return_model=True,
                error_score="raise",
            )
        except (ValueError, TypeError) as error:
            raise CLIError(f"{name} could not be fitted: {_one_line(error)}") from error
        seconds = time.perf_counter() - started
        for fold, y_pred in enumerate(frame["y_pred"], start=1):
            check_finite(y_pred, f"{name} (fold {fold})", data)
        scores = [
            score_fold(row.y_train, row.y_test, row.y_pred, season, horizon)
            for row in frame.itertuples()
        ]
        fitted = frame["fitted_forecaster"].iloc[-1]
        intervals, reasons = zip(
            *(
                _intervals(model, horizon, options.coverage)
                for model in frame["fitted_forecaster"]
            )
        )
        coverages = [
            float("nan") if bounds is None else interval_coverage(bounds, row.y_test)
            for bounds, row in zip(intervals, frame.itertuples())
        ]
        missing = [i + 1 for i, reason in enumerate(reasons) if reason is not None]
        if missing:
            advice = (
                " Longer data, fewer --folds or a shorter --horizon or "
                "--window-length give it intervals."
                if _is_network(forecaster)
                else ""
            )
            log(
                f"note: {name} has no prediction intervals on fold(s) "
                f"{', '.join(map(str, missing))} of {len(reasons)} "
                f"({reasons[missing[0] - 1]}); its point forecasts count, its "
                f"coverage is left out.{advice}"
            )
            coverages_all = float("nan")
        else:
            coverages_all = _nanmean(coverages)
        result = ModelResult(
            name=name,
            estimator=repr(forecaster),
            smape=float(np.mean([s[0] for s in scores])),
            mase=_nanmean([s[1] for s in scores]),
            fit_seconds=float(frame["fit_time"].mean()),
            n_parameters=int(getattr(fitted, "n_parameters_", 0)),
            smape_by_fold=[s[0] for s in scores],
            mase_by_fold=[s[1] for s in scores],
            fit_seconds_by_fold=frame["fit_time"].astype(float).tolist(),
            mae_by_step=np.mean([s[2] for s in scores], axis=0).tolist(),
            scaled_error_by_step=_nanmean_steps([s[3] for s in scores]),
            last_pred=frame["y_pred"].iloc[-1],
            last_interval=intervals[-1],
            coverage=coverages_all,
            coverage_by_fold=coverages,
        )
        results.append(result)
        log(
            f"[{number}/{len(models)}] {name}: done in {seconds:.1f} s, "
            f"sMAPE {result.smape:.3f}"
        )
        if fold_info is None:
            fold_info = [
                {
                    "fold": i + 1,
                    "cutoff": str(_cutoff_value(data, row.cutoff)),
                    "train_size": int(row.len_train_window),
                    "test_rows": int(len(row.y_test)),
                }
                for i, row in enumerate(frame.itertuples())
            ]
            last_train, last_test = frame["y_train"].iloc[-1], frame["y_test"].iloc[-1]

    rank_models(results)
    settings = {
        "horizon": horizon,
        "folds": folds,
        "season": season,
        "window_length": options.window_length,
        "hidden_sizes": list(options.hidden_sizes)
        if isinstance(options.hidden_sizes, tuple)
        else options.hidden_sizes,
        "epochs": options.epochs,
        "batch_size": options.batch_size,
        "steps_per_epoch": options.steps_per_epoch,
        "baseline": options.baseline,
        "device": options.device,
        "seed": options.seed,
        "threads": options.threads,
        "coverage": options.coverage,
        "splitter": type(splitter).__name__,
    }
    return Comparison(data, settings, fold_info, results, last_train, last_test)


#: the score the models are ranked by (sMAPE where MASE is undefined for all)
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


def _cutoff_value(data: Dataset, cutoff):
    """A fold's cutoff as the file wrote its times (zone and all)."""
    if isinstance(cutoff, pd.Index):
        if not len(cutoff):
            return ""
        cutoff = cutoff[0]
    if isinstance(cutoff, (pd.Timestamp, pd.Period)):
        return data.output_times(pd.Index([cutoff]))[0]
    return cutoff


def _nanmean_steps(values) -> list:
    values = np.asarray(values, float)
    seen = np.isfinite(values).any(axis=0)
    sums = np.nansum(values, axis=0)
    counts = np.maximum(np.isfinite(values).sum(axis=0), 1)
    return np.where(seen, sums / counts, np.nan).tolist()


def _nanmean(values) -> float:
    values = np.asarray(values, float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# ---------------------------------------------------------------------- output
def write_outputs(
    comparison: Comparison, directory, plot: bool = True, log=None
) -> list:
    """``compare.csv``, ``compare.json`` and (with ``plot``, where matplotlib is
    installed) ``compare.png`` in ``directory``; the paths written."""
    from ._cli_plot import draw

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
    from ._cli_plot import pyplot, x_values

    plt = pyplot()
    data = comparison.data
    target = data.targets[0]
    key, train = next(_per_series(comparison.last_train))
    test = dict(_per_series(comparison.last_test))[key]
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
        pred = dict(_per_series(result.last_pred))[key][target].reindex(test.index)
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
            bounds = dict(_per_series(result.last_interval))[key]
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
