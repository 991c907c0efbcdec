"""Scaling out on Dask: the same runs on a local cluster give the serial results.

A ``dask.distributed.LocalCluster`` (2 worker processes on the loopback interface) is
started inside the tests and closed after them. sktime's ``evaluate`` and
``ForecastingGridSearchCV`` run with ``backend="dask"``, scikit-learn's
``GridSearchCV`` under ``joblib.parallel_backend("dask")``; every estimator sets
``n_threads=1`` so the workers do not oversubscribe the cores. With the same seeds,
the scores and the chosen models equal those of the serial runs.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

pytestmark = pytest.mark.slow

from dask.distributed import get_task_stream  # noqa: E402
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit  # noqa: E402
from sktime.datasets import load_airline  # noqa: E402
from sktime.forecasting.model_evaluation import evaluate  # noqa: E402
from sktime.forecasting.model_selection import ForecastingGridSearchCV  # noqa: E402
from sktime.performance_metrics.forecasting import (  # noqa: E402
    MeanAbsolutePercentageError,
    MeanSquaredError,
)
from sktime.split import ExpandingWindowSplitter  # noqa: E402

from gatedforecast import (  # noqa: E402
    GRUForecaster,
    LSTMForecaster,
    LSTMRegressor,
    make_windows,
)

FORECASTER = {
    "window_length": 12,
    "hidden_sizes": 8,
    "max_epochs": 4,
    "batch_size": 16,
    "device": "cpu",
    "n_threads": 1,
    "random_state": 0,
}
#: sktime's evaluate returns these timing columns beside the scores
TIME_COLUMNS = ["fit_time", "pred_time"]


@pytest.fixture(scope="module")
def client():
    """A two-process cluster on this machine, warmed up with our imports."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    # import torch, sktime and the package once per worker, outside the timings
    client.run(lambda: __import__("gatedforecast") and None)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def airline():
    return load_airline()


def _splitter():
    return ExpandingWindowSplitter(initial_window=96, step_length=12, fh=[1, 2, 3])


def _report(name, timings, capsys):
    """Show the wall times of the serial and the Dask run (``pytest -s``)."""
    with capsys.disabled():
        print(
            f"\n{name}: serial {timings['serial']:.2f} s, dask {timings['dask']:.2f} s"
        )


def _scores_only(results: pd.DataFrame) -> pd.DataFrame:
    kept = results.drop(columns=[c for c in TIME_COLUMNS if c in results])
    return kept.reset_index(drop=True)


@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_evaluate_on_dask_equals_the_serial_run(client, airline, cls):
    scoring = [MeanAbsolutePercentageError(), MeanSquaredError()]
    kwargs = {"cv": _splitter(), "y": airline, "scoring": scoring}
    serial = evaluate(cls(**FORECASTER), **kwargs)
    with get_task_stream(client) as tasks:
        on_dask = evaluate(cls(**FORECASTER), backend="dask", **kwargs)
    assert len(serial) == len(on_dask) == 4
    pd.testing.assert_frame_equal(
        _scores_only(on_dask), _scores_only(serial), check_dtype=False
    )
    # the folds ran on the cluster's workers
    assert len(tasks.data) >= 4


@pytest.mark.filterwarnings("ignore:The default of config ``remember_data``")
def test_forecasting_grid_search_on_dask_equals_the_serial_run(client, airline, capsys):
    grid = {"hidden_sizes": [4, 8], "learning_rate": [1e-3, 1e-2]}

    def search(backend, timings):
        tuner = ForecastingGridSearchCV(
            GRUForecaster(**FORECASTER),
            cv=_splitter(),
            param_grid=grid,
            scoring=MeanAbsolutePercentageError(),
            backend=backend,
        )
        started = time.perf_counter()
        tuner.fit(airline, fh=[1, 2, 3])
        timings[backend or "serial"] = time.perf_counter() - started
        return tuner

    timings = {}
    serial = search(None, timings)
    with get_task_stream(client) as tasks:
        on_dask = search("dask", timings)
    assert len(tasks.data) >= 4  # one task per candidate, its folds inside
    _report("ForecastingGridSearchCV", timings, capsys)
    columns = ["params", "mean_test_MeanAbsolutePercentageError", "rank_test_Mean"]
    columns = [c for c in serial.cv_results_ if c.startswith(tuple(columns))]
    assert len(columns) == 3
    pd.testing.assert_frame_equal(
        on_dask.cv_results_[columns], serial.cv_results_[columns]
    )
    assert on_dask.best_params_ == serial.best_params_
    pd.testing.assert_series_equal(on_dask.predict(), serial.predict())


def test_sklearn_grid_search_under_joblib_dask_equals_the_serial_run(client, capsys):
    series = np.sin(np.arange(260) / 5) + np.arange(260) / 100
    X, y = make_windows(series, window_length=12)
    estimator = LSTMRegressor(
        hidden_sizes=8,
        max_epochs=4,
        batch_size=16,
        device="cpu",
        n_threads=1,
        random_state=0,
    )
    grid = {"hidden_sizes": [4, 8], "learning_rate": [1e-3, 1e-2]}

    def search(n_jobs, timings):
        tuner = GridSearchCV(
            estimator,
            grid,
            cv=TimeSeriesSplit(n_splits=3),
            scoring="neg_mean_absolute_error",
            n_jobs=n_jobs,
        )
        started = time.perf_counter()
        if n_jobs is None:
            tuner.fit(X, y)
        else:
            with joblib.parallel_backend("dask"):
                tuner.fit(X, y)
        timings["serial" if n_jobs is None else "dask"] = time.perf_counter() - started
        return tuner

    timings = {}
    serial = search(None, timings)
    with get_task_stream(client) as tasks:
        on_dask = search(-1, timings)
    # joblib batches the 12 fits (4 candidates x 3 folds) into as many tasks as it
    # sees fit, so only check that the work ran on the cluster's workers.
    assert tasks.data
    assert {task["worker"] for task in tasks.data} <= set(
        client.scheduler_info()["workers"]
    )
    _report("GridSearchCV", timings, capsys)
    for key in ("params", "mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], serial.cv_results_[key])
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_array_equal(on_dask.predict(X), serial.predict(X))
