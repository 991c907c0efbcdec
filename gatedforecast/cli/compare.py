"""``gatedforecast compare``: GRU, LSTM and naive baselines on the same folds."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..metrics import interval_coverage as coverage_of
from ..metrics import mase, mase_scale, smape
from ..panels import split_series
from .data import CLIError, Dataset, check_enough_data, check_finite
from .errors import first_sentence, one_line
from .forecast import check_counts
from .options import network_params
from .report import Comparison, ModelResult, rank_models

__all__ = ["run_compare", "score_fold"]


# ---------------------------------------------------------------------- models
def build_models(options, season: int, positive: bool = True) -> list:
    """``(name, forecaster)`` pairs, the networks first; ``positive``: all values
    of the data are above 0."""
    from sktime.forecasting.naive import NaiveForecaster

    from ..forecasting import GRUForecaster, LSTMForecaster

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


# ---------------------------------------------------------------------- scoring
def score_fold(y_train, y_test, y_pred, season: int, horizon: int):
    """sMAPE, MASE (means over series and targets), absolute errors by step, and
    scaled absolute errors by step (each over its series' MASE scale, so that
    series of different scales weigh alike)."""
    train = dict(zip(*split_series(y_train)))
    pred = dict(zip(*split_series(y_pred)))
    smapes, mases = [], []
    by_step, count = np.zeros(horizon), np.zeros(horizon)
    scaled, scaled_count = np.zeros(horizon), np.zeros(horizon)
    for key, actual in zip(*split_series(y_test)):
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


def _intervals(forecaster, horizon: int, coverage: float, X=None):
    """``(intervals, reason)``: the prediction intervals of a fitted forecaster, or
    ``None`` where it has none (sktime's ``capability:pred_int`` tag) or cannot
    give them (then ``reason`` says why, e.g. no window could be held out to
    calibrate them on a short training part)."""
    if not forecaster.get_tag("capability:pred_int", False):
        return None, None
    try:
        fh = np.arange(1, horizon + 1)
        return forecaster.predict_interval(fh=fh, X=X, coverage=coverage), None
    except (ValueError, TypeError, ArithmeticError) as error:
        # also a third-party forecaster whose intervals fail (statsmodels' ETS
        # simulation with some sktime versions): its point forecasts still count
        return None, first_sentence(error)


def _rows(X, y_test: pd.DataFrame):
    """The covariates at the times of a fold's test part (None without any)."""
    return None if X is None else X.loc[y_test.index]


def interval_coverage(interval: pd.DataFrame, y_test: pd.DataFrame) -> float:
    """Share of the actual values inside the intervals, over series, targets, steps."""
    actual, lower, upper = [], [], []
    for column in y_test.columns:
        bounds = interval[column].droplevel(0, axis=1)
        lower.append(bounds["lower"].reindex(y_test.index).to_numpy(float))
        upper.append(bounds["upper"].reindex(y_test.index).to_numpy(float))
        actual.append(y_test[column].to_numpy(float))
    return coverage_of(*map(np.concatenate, (actual, lower, upper)))


# ---------------------------------------------------------------------- run
def warm_up(models, data: Dataset, splitter, log) -> None:
    """One short untimed fit of each network, so that torch's one-off start-up
    costs do not land in the first fold of the first model."""
    train, _ = next(iter(splitter.split(data.y)))
    y_first = data.y.iloc[train]
    X_first = None if data.X is None else data.X.iloc[train]
    log("warming up torch ...")
    for _, forecaster in models:
        if (
            not hasattr(forecaster, "network_")
            and "max_epochs" in forecaster.get_params()
        ):
            probe = forecaster.clone().set_params(
                max_epochs=1, steps_per_epoch=1, verbose=0
            )
            probe.fit(y_first, X=X_first, fh=np.arange(1, 2))


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
    check_enough_data(data, options, season, folds)
    check_counts(data, options)
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
                X=data.X,
                scoring=MeanAbsolutePercentageError(symmetric=True),
                return_data=True,
                return_model=True,
                error_score="raise",
            )
        except (ValueError, TypeError) as error:
            raise CLIError(f"{name} could not be fitted: {one_line(error)}") from error
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
                _intervals(model, horizon, options.coverage, _rows(data.X, row.y_test))
                for model, row in zip(frame["fitted_forecaster"], frame.itertuples())
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
        "ensemble_size": options.ensemble_size,
        "epochs": options.epochs,
        "batch_size": options.batch_size,
        "steps_per_epoch": options.steps_per_epoch,
        "baseline": options.baseline,
        "device": options.device,
        "seed": options.seed,
        "threads": options.threads,
        "coverage": options.coverage,
        "splitter": type(splitter).__name__,
        "covariates": [] if data.X is None else list(data.X.columns),
    }
    return Comparison(data, settings, fold_info, results, last_train, last_test)


#: the score the models are ranked by (sMAPE where MASE is undefined for all)
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
