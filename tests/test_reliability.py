"""Reliability: every bad input refused clearly, and faults survived.

``BAD_INPUTS`` is one table of bad data and calls to the forecasters and the
regressors (bad parameters are tried in test_bad_input.py, generated from the
parameter table; the command's bad files in test_cli.py). Each must end in an error
of the listed type whose message names the problem and the fix (ours are
``ValueError``/``TypeError``; where sktime or scikit-learn validate first, their own
type and message), leave the inputs as they were, and never leave a half-fitted
estimator behind.

The fault tests: predictions from 8 threads at once, a model unpickled in another
process, and models "trained on CUDA" loaded where CUDA is hidden, by every load path.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import pickle
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from sktime.base import load

from gatedforecast import (
    GRUForecaster,
    GRURegressor,
    LSTMForecaster,
    LSTMRegressor,
    ModelFileError,
    load_model,
    make_windows,
)

FORECASTERS = (GRUForecaster, LSTMForecaster)
REGRESSORS = (GRURegressor, LSTMRegressor)
F_PARAMS = {**FAST, "window_length": 6, "random_state": 0}
R_PARAMS = {"hidden_sizes": 4, "max_epochs": 2, "batch_size": 16, "device": "cpu"}
R_PARAMS["random_state"] = 0
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------------- data
def _monthly(n=48, level=10.0):
    index = pd.period_range("2000-01", periods=n, freq="M")
    t = np.arange(n)
    return pd.Series(level + np.sin(2 * np.pi * t / 12), index=index, name="y")


def _daily(n=48):
    index = pd.date_range("2001-01-01", periods=n, freq="D")
    return pd.Series(np.sin(np.arange(n) / 3) + 5, index=index, name="y")


def _panel(lengths=(30, 30), time=None):
    frames = []
    for i, n in enumerate(lengths):
        times = pd.RangeIndex(n) if time is None else time(i, n)
        index = pd.MultiIndex.from_arrays([[f"s{i}"] * n, times], names=["id", "t"])
        values = np.sin(np.arange(n) / 2) + i + 2
        frames.append(pd.DataFrame({"v": values}, index=index))
    return pd.concat(frames)


def _exogenous(n=48):
    index = pd.date_range("2001-01-01", periods=n, freq="D")
    X = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.cos(np.arange(n))})
    X.index = index
    y = pd.Series(np.sin(np.arange(n) / 3) + 5 + 0.01 * X["a"].to_numpy(), index=index)
    return y, X


def _with(series: pd.Series, position: int, value) -> pd.Series:
    out = series.copy()
    out.iloc[position] = value
    return out


def _index_swapped(series: pd.Series, i: int, j: int) -> pd.Series:
    index = list(series.index)
    index[i], index[j] = index[j], index[i]
    return pd.Series(series.to_numpy(), index=pd.DatetimeIndex(index))


def _windows(n=40, width=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, width)), rng.normal(size=n)


@functools.cache
def _fitted_forecaster(cls, with_x=False, panel=False):
    """Fitted once per worker; tests work on deep copies."""
    if with_x:
        y, X = _exogenous()
        return cls(**F_PARAMS).fit(y.iloc[:40], X=X.iloc[:40], fh=[1, 2])
    if panel:
        return cls(**F_PARAMS).fit(_panel(), fh=[1, 2])
    return cls(**F_PARAMS).fit(_monthly(), fh=[1, 2])


@functools.cache
def _fitted_regressor(cls):
    return cls(**R_PARAMS).fit(*_windows())


# ---------------------------------------------------------------------- the table
@dataclass
class Bad:
    """One bad input: ``call(cls)`` gives ``(estimator, method, kwargs)``."""

    family: str  # "forecaster" or "regressor"
    what: str
    call: object
    error: type | tuple
    match: str


def _fit(**kwargs):
    """A fit of a fresh forecaster with fast settings plus ``params``."""
    params = kwargs.pop("params", {})
    kwargs.setdefault("fh", [1, 2])
    return lambda cls: (cls(**{**F_PARAMS, **params}), "fit", kwargs)


def _on_fitted(method, with_x=False, panel=False, **kwargs):
    """``method`` of a fitted forecaster (a copy); ``call.future_X`` is the X its
    forecasts need."""

    def call(cls):
        fitted = copy.deepcopy(_fitted_forecaster(cls, with_x, panel))
        return fitted, method, kwargs

    call.future_X = _exogenous()[1].iloc[40:] if with_x else None
    return call


def _with_category(X, missing=None):
    """``X`` with the category column ``k`` (levels u, v; NaN at ``missing``)."""
    k = pd.Categorical(["u", "v"] * (len(X) // 2))
    if missing is not None:
        k[missing] = np.nan
    return X.assign(k=k)


def _category_predict(k):
    """``predict`` of a forecaster fitted with the category column ``k`` of X,
    whose X for the forecast steps holds ``k`` (text)."""
    good = _with_category(_exogenous()[1]).iloc[40:]

    def call(cls):
        y, X = _exogenous()
        X = _with_category(X)
        fitted = cls(**F_PARAMS).fit(y.iloc[:40], X=X.iloc[:40], fh=[1, 2])
        return fitted, "predict", {"X": good.assign(k=k), "fh": [1, 2]}

    call.future_X = good
    return call


def _rfit(X, y, **params):
    return lambda cls: (cls(**{**R_PARAMS, **params}), "fit", {"X": X, "y": y})


def _rpredict(X, **params):
    """``predict`` of a fitted regressor (a copy), after ``set_params(**params)``."""

    def call(cls):
        fitted = copy.deepcopy(_fitted_regressor(cls)).set_params(**params)
        return fitted, "predict", {"X": X}

    return call


SKTIME_CATEGORICAL = r"do not support categorical features"
SKTIME_INSAMPLE = r"can not perform in-sample prediction"
SKLEARN_NAN = r"Input X contains NaN"

# fmt: off
FORECASTER_DATA = [
    Bad("forecaster", "empty series", _fit(y=_monthly(0)), ValueError,
        r"y is empty; pass a series with observations"),
    Bad("forecaster", "all-NaN", _fit(y=_monthly() * np.nan), ValueError,
        r"y has no observed value in column\(s\) \['y'\].*Drop that series"),
    Bad("forecaster", "all-NaN series of a panel",
        _fit(y=_panel().assign(v=lambda d: d["v"].where(
            d.index.get_level_values("id") != "s1")).astype(float)),
        ValueError, r"y\['s1'\] has no observed value in column\(s\) \['v'\]"),
    Bad("forecaster", "NaN over the last window",
        _fit(y=_monthly().where(lambda s: np.arange(48) < 40)),
        ValueError, r"y has no observed value of 'y' in its last 6 time points "
        r"\(window_length=6\).*more recent observations.*longer window_length"),
    Bad("forecaster", "too few observed values to train on",
        _fit(y=_monthly().where(lambda s: np.arange(48) % 8 == 7),
             params={"window_length": 2}),
        ValueError, r"No training window has an observed value of every target"),
    Bad("forecaster", "inf inside", _fit(y=_with(_monthly(), 20, np.inf)),
        ValueError, r"y has 1 infinite value.*2001-09.*Replace or drop them"),
    Bad("forecaster", "-inf inside", _fit(y=_with(_monthly(), 3, -np.inf)),
        ValueError, r"infinite value.*Replace or drop them"),
    Bad("forecaster", "inf in a panel series",
        _fit(y=_panel().assign(v=lambda d: d["v"].where(d["v"] < 3.5, np.inf))),
        ValueError, r"y\['s1'\] has \d+ infinite value"),
    Bad("forecaster", "object dtype", _fit(y=_monthly().astype(object)), TypeError,
        SKTIME_CATEGORICAL),
    Bad("forecaster", "bool data", _fit(y=(_monthly() > 10).rename("up").to_frame()),
        TypeError, r"'up': bool.*pd.to_numeric\(\.\.\.\) or astype\(float\)"),
    Bad("forecaster", "string data", _fit(y=_monthly().astype(str)), TypeError,
        SKTIME_CATEGORICAL),
    Bad("forecaster", "a string column",
        _fit(y=_monthly().to_frame().assign(note="x")), TypeError, SKTIME_CATEGORICAL),
    Bad("forecaster", "duplicate timestamps",
        _fit(y=pd.Series(np.arange(40.0), index=_daily(39).index.insert(9, "2001-01-10"))),
        ValueError,
        r"y has repeated time points, first \[Timestamp\('2001-01-10.*"
        r"y\[~y.index.duplicated\(\)\]"),
    Bad("forecaster", "duplicate integer times",
        _fit(y=pd.Series(np.arange(40.0), index=[0, *range(39)])),
        ValueError, r"repeated time points, first \[0\]"),
    Bad("forecaster", "duplicate times in a panel series",
        _fit(y=_panel(time=lambda i, n: [0, *range(n - 1)] if i else range(n))),
        ValueError, r"y\['s1'\] has repeated time points"),
    Bad("forecaster", "unsorted timestamps", _fit(y=_index_swapped(_daily(), 10, 11)),
        TypeError, r"must be sorted monotonically increasing"),
    Bad("forecaster", "irregular datetime index",
        _fit(y=_daily().drop(_daily().index[[5, 17]])), ValueError,
        r"y has an irregular DatetimeIndex.*1 days.*2 days.*asfreq\('D'\)"),
    Bad("forecaster", "irregular series in a panel",
        _fit(y=_panel(time=lambda i, n: pd.date_range("2001-01-01", periods=n)
                      .insert(n, pd.Timestamp("2001-03-01"))[i : n + i])),
        ValueError, r"y\['s1'\] has an irregular DatetimeIndex"),
    Bad("forecaster", "panel series of different frequencies",
        _fit(y=_panel(time=lambda i, n: pd.date_range(
            "2001-01-01", periods=n, freq="D" if i == 0 else "W"))),
        ValueError, r"different frequencies.*resample them to one"),
    Bad("forecaster", "series shorter than needed", _fit(y=_monthly(7)), ValueError,
        r"y has 7 observations.*need at least 8 \(window_length \+ 2\).*smaller "
        r"window_length"),
    Bad("forecaster", "a single observation", _fit(y=_monthly(1)), ValueError,
        r"y has 1 observations.*at least 8"),
    Bad("forecaster", "a panel series too short", _fit(y=_panel(lengths=(30, 5))),
        ValueError, r"y\['s1'\] has 5 observations.*at least 8"),
    Bad("forecaster", "intervals at fh=0", _on_fitted("predict_interval", fh=[0]),
        NotImplementedError, SKTIME_INSAMPLE),
    Bad("forecaster", "quantiles at a negative fh",
        _on_fitted("predict_quantiles", fh=[-2, 1]), NotImplementedError,
        SKTIME_INSAMPLE),
    Bad("forecaster", "intervals at an in-sample absolute fh",
        _on_fitted("predict_interval", fh=pd.PeriodIndex(["2002-06"], freq="M")),
        NotImplementedError, SKTIME_INSAMPLE),
    Bad("forecaster", "empty fh", _fit(y=_monthly(), fh=[]), ValueError,
        r"`fh` must not be empty"),
    Bad("forecaster", "fractional fh", _fit(y=_monthly(), fh=[1.5]), TypeError,
        r"Invalid `fh`.*not supported"),
    Bad("forecaster", "coverage 1.5", _on_fitted("predict_interval", coverage=1.5),
        ValueError, r"coverage must lie in the open interval \(0, 1\)"),
    Bad("forecaster", "quantile level 0", _on_fitted("predict_quantiles", alpha=[0.0]),
        ValueError, r"alpha must lie in the open interval \(0, 1\)"),
    Bad("forecaster", "X of strings in fit",
        _fit(y=_exogenous()[0], X=_exogenous()[1].assign(a="x")), TypeError,
        r"X must hold numbers.*'a'.*pd.to_numeric"),
    Bad("forecaster", "X with NaN in fit",
        _fit(y=_exogenous()[0], X=_exogenous()[1].assign(a=np.nan)), ValueError,
        r"X has 48 missing \(NaN\) value\(s\).*allowed in y, not in the "
        r"covariates.*Imputer in a ForecastingPipeline"),
    Bad("forecaster", "X missing rows in fit",
        _fit(y=_exogenous()[0], X=_exogenous()[1].iloc[:30]), ValueError,
        r"indices .* are not contained in index"),
    Bad("forecaster", "X with repeated rows in fit",
        _fit(y=_exogenous()[0],
             X=pd.concat([_exogenous()[1], _exogenous()[1].iloc[[3]]]).sort_index()),
        ValueError, r"X has repeated time points.*X\[~X.index.duplicated\(\)\]"),
    Bad("forecaster", "past_covariates naming a column X lacks",
        _fit(y=_exogenous()[0], X=_exogenous()[1], params={"past_covariates": ["c"]}),
        ValueError,
        r"past_covariates names \['c'\], which X lacks; X has the columns \['a', 'b'\]"),
    Bad("forecaster", "past_covariates without X",
        _fit(y=_monthly(), params={"past_covariates": ["a"]}), ValueError,
        r"past_covariates=\['a'\] names columns of X, but fit got no X\. Pass X"),
    Bad("forecaster", "static_covariates naming a column that varies",
        _fit(y=_exogenous()[0], X=_exogenous()[1], params={"static_covariates": ["a"]}),
        ValueError, r"static covariate 'a' varies within series y \(values 0\.0, "
        r"1\.0, 2\.0, \.\.\.\): a static covariate is one value per series"),
    Bad("forecaster", "static_covariates naming a column of text",
        _fit(y=_exogenous()[0], X=_exogenous()[1].assign(k="u"),
             params={"static_covariates": ["k"]}),
        TypeError, r"static covariate 'k' holds text.*X\['k'\]\.astype\('category'\)"),
    Bad("forecaster", "a text column of X",
        _fit(y=_exogenous()[0], X=_exogenous()[1].assign(k=["u", "v"] * 24)),
        TypeError, r"column 'k' holds text.*X\['k'\]\.astype\('category'\): each "
        r"level then gets an indicator channel"),
    Bad("forecaster", "a missing value in a category column of X",
        _fit(y=_exogenous()[0], X=_with_category(_exogenous()[1], missing=3)),
        ValueError, r"X\['k'\] has 1 missing \(NaN\) value\(s\) at time points of "
        r"y, first at Timestamp\('2001-01-04 00:00:00'\)\. A category column needs "
        r"a level at every time point of y"),
    Bad("forecaster", "a category level unknown at predict",
        _category_predict(["u", "w"] * 4),
        ValueError, r"X\['k'\] has the level\(s\) \['w'\], which the network was "
        r"not trained on; its levels are \['u', 'v'\]\. Map them to a known level"),
    Bad("forecaster", "a count distribution with a negative value",
        _fit(y=_with(_monthly().round(), 5, -1.0),
             params={"distribution": "negative_binomial"}),
        ValueError, r"distribution='negative_binomial' describes counts, but series 0 "
        r"of y has the value -1\.0, not a non-negative integer\. Use "
        r"distribution='normal' or 'student_t'"),
    Bad("forecaster", "a count distribution with a fraction",
        _fit(y=_monthly() + 0.5, params={"distribution": "negative_binomial"}),
        ValueError, r"has the value 10\.5, not a non-negative integer.*pass counts"),
    Bad("forecaster", "X missing at predict", _on_fitted("predict", with_x=True),
        ValueError, r"fitted with exogenous X, so predict needs X.*\['a', 'b'\]"),
    Bad("forecaster", "X missing a column at predict",
        _on_fitted("predict", with_x=True, X=_exogenous()[1].iloc[40:][["a"]]),
        ValueError, r"X lacks the column\(s\) \['b'\].*pass X with the columns"),
    Bad("forecaster", "X missing rows at predict",
        _on_fitted("predict", with_x=True, X=_exogenous()[1].iloc[40:41]),
        ValueError, r"X does not cover the forecast horizon.*2001-02-11.*a row"),
    Bad("forecaster", "X with NaN at predict",
        _on_fitted("predict", with_x=True, X=_exogenous()[1].iloc[40:].assign(a=np.nan)),
        ValueError, r"X does not cover the forecast horizon.*without missing values"),
    Bad("forecaster", "X with inf at predict",
        _on_fitted("predict", with_x=True, X=_exogenous()[1].iloc[40:].assign(a=np.inf)),
        ValueError, r"X has 2 infinite value.*Replace or drop"),
    Bad("forecaster", "update with another column count",
        _on_fitted("update", y=_monthly(52).iloc[48:].to_frame().assign(z=1.0),
                   update_params=False),
        ValueError, r"update got y with 2 column\(s\).*fitted on 1.*same columns"),
    Bad("forecaster", "update on another kind of index",
        _on_fitted("update", y=_daily(4), update_params=False), ValueError,
        r"update got y on a DatetimeIndex that cannot follow.*indexed like the data"),
    Bad("forecaster", "update with NaN, fitted on complete series",
        _on_fitted("update", y=_with(_monthly(52).iloc[48:], 1, np.nan),
                   update_params=False),
        ValueError, r"y has missing \(NaN\) values, but the network was trained on "
        r"series without any.*Fit again on the series with their missing values"),
    Bad("forecaster", "update with inf",
        _on_fitted("update", y=_with(_monthly(52).iloc[48:], 1, np.inf),
                   update_params=False),
        ValueError, r"infinite value.*Replace or drop"),
    Bad("forecaster", "update with a new series",
        _on_fitted("update", panel=True, update_params=False,
                   y=_panel(lengths=(33,) * 3).loc[["s2"]]),
        ValueError, r"update got series \[\('s2',\)\] that were not seen in fit"),
]

REGRESSOR_DATA = [
    Bad("regressor", "empty", _rfit(np.empty((0, 6)), np.empty(0)), ValueError,
        r"Found array with 0 sample\(s\).*minimum of 1"),
    Bad("regressor", "no features", _rfit(np.empty((40, 0)), _windows()[1]),
        ValueError, r"0 feature\(s\).*minimum of 1"),
    Bad("regressor", "all-NaN X", _rfit(np.full((40, 6), np.nan), _windows()[1]),
        ValueError, SKLEARN_NAN),
    Bad("regressor", "NaN inside X",
        _rfit(np.where(np.eye(40, 6) > 0, np.nan, _windows()[0]), _windows()[1]),
        ValueError, SKLEARN_NAN + r".*imput"),
    Bad("regressor", "inf inside X",
        _rfit(np.where(np.eye(40, 6) > 0, np.inf, _windows()[0]), _windows()[1]),
        ValueError, r"Input X contains infinity"),
    Bad("regressor", "NaN inside y",
        _rfit(_windows()[0], _with(pd.Series(_windows()[1]), 3, np.nan).to_numpy()),
        ValueError, r"Input y contains NaN"),
    Bad("regressor", "inf inside y",
        _rfit(_windows()[0], _with(pd.Series(_windows()[1]), 3, np.inf).to_numpy()),
        ValueError, r"Input y contains infinity"),
    Bad("regressor", "string X", _rfit(np.full((40, 6), "a"), _windows()[1]),
        ValueError, r"could not convert string to float: .*'a'"),
    Bad("regressor", "string y", _rfit(_windows()[0], np.array(["a"] * 40)),
        ValueError, r"could not convert string to float"),
    Bad("regressor", "1-D X", _rfit(_windows()[1], _windows()[1]), ValueError,
        r"Expected 2D array, got 1D array instead.*Reshape your data"),
    Bad("regressor", "4-D X", _rfit(_windows()[0].reshape(40, 3, 2, 1), _windows()[1]),
        ValueError, r"X must be 2-D \(n_samples, n_columns\) or 3-D.*got 4-D"),
    Bad("regressor", "3-D X without steps", _rfit(np.empty((40, 0, 2)), _windows()[1]),
        ValueError, r"holds no values per sample|0 feature"),
    Bad("regressor", "X and y of different lengths",
        _rfit(_windows()[0], _windows()[1][:30]), ValueError,
        r"inconsistent numbers of samples: \[40, 30\]"),
    Bad("regressor", "fewer samples than validation_size",
        _rfit(*_windows(3), validation_size=5), ValueError,
        r"validation_size=5 leaves no training sample out of 3.*smaller"),
    Bad("regressor", "NaN X at predict", _rpredict(np.full((5, 6), np.nan)),
        ValueError, SKLEARN_NAN),
    Bad("regressor", "X missing columns at predict", _rpredict(_windows()[0][:, :5]),
        ValueError, r"X has 5 features, but \w+ is expecting 6 features"),
    Bad("regressor", "3-D X at predict after 2-D fit",
        _rpredict(_windows()[0].reshape(40, 6, 1)), ValueError,
        r"X is 3-D, but the regressor was fitted on 2-D X of 6 columns.*same form"),
    Bad("regressor", "string X at predict", _rpredict(np.full((5, 6), "b")),
        ValueError, r"could not convert string to float"),
    Bad("regressor", "n_threads=0 set after fit, at predict",
        _rpredict(_windows()[0], n_threads=0), ValueError,
        r"n_threads must be an int >= 1, got 0"),
]
# fmt: on


BAD_INPUTS = [
    *FORECASTER_DATA,
    *REGRESSOR_DATA,
]


def _rows():
    for case in BAD_INPUTS:
        classes = FORECASTERS if case.family == "forecaster" else REGRESSORS
        for cls in classes:
            yield pytest.param(case, cls, id=f"{cls.__name__}-{case.what}")


def _snapshot(value):
    return copy.deepcopy(value)


def _assert_unchanged(before, after):
    if isinstance(before, dict):
        assert before.keys() == after.keys()
        for key in before:
            _assert_unchanged(before[key], after[key])
    elif isinstance(before, pd.Series):
        pd.testing.assert_series_equal(after, before)
    elif isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(after, before)
    elif isinstance(before, np.ndarray):
        np.testing.assert_array_equal(after, before)
        assert after.dtype == before.dtype
    elif isinstance(before, pd.Index):
        pd.testing.assert_index_equal(after, before)
    elif isinstance(before, float) and np.isnan(before):
        assert np.isnan(after)
    else:
        assert after == before


def _assert_clear(error: BaseException, match: str):
    message = str(error)
    assert re.search(match, message, re.DOTALL), message
    assert message.strip(), "an error without a message"
    assert "Traceback" not in message
    # our errors and sktime's/sklearn's own: never a bare torch or numpy failure
    assert "size mismatch" not in message
    assert "all the input array dimensions" not in message


def _forecast_state(forecaster, X):
    """What a fitted forecaster predicts, to compare after a refused call. The
    horizon is explicit: sktime's predict stores a refused ``fh`` before it checks
    it, so a later ``predict()`` without ``fh`` would reuse the refused one."""
    return forecaster.predict(fh=[1, 2], X=X)


def _run_estimator(case, cls):
    estimator, method, kwargs = case.call(cls)
    original = _snapshot(kwargs)
    fitted_before = (
        getattr(estimator, "is_fitted", False)
        if case.family == "forecaster"
        else hasattr(estimator, "network_")
    )
    future_X = getattr(case.call, "future_X", None)
    if case.family == "forecaster" and fitted_before:
        prediction = _forecast_state(estimator, future_X)
    with pytest.raises(case.error) as info:
        getattr(estimator, method)(**kwargs)
    _assert_clear(info.value, case.match)
    _assert_unchanged(original, kwargs)
    if case.family == "forecaster":
        if method == "fit":
            assert not estimator.is_fitted
        elif method.startswith("predict"):
            pd.testing.assert_series_equal(
                pd.Series(_forecast_state(estimator, future_X).to_numpy().ravel()),
                pd.Series(prediction.to_numpy().ravel()),
            )
        return
    if method != "fit":
        return
    # a refused fit leaves a fresh regressor unfitted ...
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    # ... and a fitted one with its previous fit
    fitted = copy.deepcopy(_fitted_regressor(cls))
    expected = fitted.predict(_windows()[0])
    fitted.set_params(**estimator.get_params())
    with pytest.raises(case.error) as info:
        fitted.fit(**kwargs)
    _assert_clear(info.value, case.match)
    fitted.set_params(**_fitted_regressor(cls).get_params())
    np.testing.assert_array_equal(fitted.predict(_windows()[0]), expected)
    _assert_unchanged(original, kwargs)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("case", "cls"), list(_rows()))
def test_bad_input_is_refused_clearly(case, cls):
    _run_estimator(case, cls)


# ---------------------------------------------------------------------- not errors
@pytest.mark.parametrize("cls", FORECASTERS)
@pytest.mark.parametrize("level", [5.0, -3.0, 1e9, 1e-9, 0.0])
def test_constant_huge_and_tiny_series_forecast_the_constant(cls, level):
    y = pd.Series(level, index=pd.period_range("2000-01", periods=40, freq="M"))
    panel = _panel(lengths=(30, 36)).assign(v=level)
    for data in (y, panel):
        forecast = cls(**F_PARAMS).fit(data, fh=[1, 2, 5]).predict()
        assert np.isfinite(forecast.to_numpy()).all()
        atol = 1e-6 if level == 0 else 0
        np.testing.assert_allclose(forecast.to_numpy(), level, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("cls", REGRESSORS)
@pytest.mark.parametrize("level", [5.0, 1e9, 1e-9])
def test_constant_huge_and_tiny_targets_are_learned(cls, level):
    X, y = make_windows(np.full(60, level), 8)
    regressor = cls(**{**R_PARAMS, "max_epochs": 20, "learning_rate": 1e-2})
    predicted = regressor.fit(X, y).predict(X[:3])
    np.testing.assert_allclose(predicted, level, rtol=2e-2)


# ---------------------------------------------------------------------- faults
def _concurrently(function, n_threads=8, repeats=4):
    """Run ``function(i)`` from ``n_threads`` threads released at once."""
    barrier = threading.Barrier(n_threads)

    def work(i):
        barrier.wait()
        return [function(i) for _ in range(repeats)]

    with ThreadPoolExecutor(n_threads) as pool:
        return [r for results in pool.map(work, range(n_threads)) for r in results]


@pytest.mark.parametrize("cls", FORECASTERS)
@pytest.mark.parametrize("interval_method", ["conformal", "mc_dropout"])
def test_eight_threads_predict_identically_on_one_forecaster(cls, interval_method):
    """One horizon for all threads: sktime keeps the last ``fh`` passed to predict in
    the forecaster (``_check_fh`` writes it, then returns it), so threads that pass
    different horizons to one forecaster at once can get each other's; give each
    thread its own copy for that."""
    params = {**F_PARAMS, "interval_method": interval_method, "dropout": 0.1}
    forecaster = cls(**params, n_samples=10).fit(_monthly(60), fh=[1, 2, 3])
    expected = (
        forecaster.predict(),
        forecaster.predict_interval(coverage=[0.5, 0.9]),
        forecaster.predict(fh=[1, 2, 3]),
    )

    def predict(i):
        return (
            forecaster.predict(),
            forecaster.predict_interval(coverage=[0.5, 0.9]),
            forecaster.predict(fh=[1, 2, 3]),
        )

    results = _concurrently(predict)
    assert len(results) == 32
    for point, interval, explicit in results:
        pd.testing.assert_series_equal(point, expected[0])
        pd.testing.assert_frame_equal(interval, expected[1])
        pd.testing.assert_series_equal(explicit, expected[2])


@pytest.mark.parametrize("cls", REGRESSORS)
def test_eight_threads_predict_identically_on_one_regressor(cls):
    X, y = _windows(200)
    regressor = cls(**R_PARAMS).fit(X, y)
    expected = regressor.predict(X)
    results = _concurrently(lambda i: regressor.predict(X))
    assert len(results) == 32
    for result in results:
        np.testing.assert_array_equal(result, expected)


def _on_cuda(estimator):
    """What a model trained on a GPU carries: ``device_`` says cuda (the network
    itself is kept on the CPU by fit)."""
    estimator.device_ = torch.device("cuda")
    estimator.device = "cuda"
    return estimator


def _load_paths(estimator, tmp_path):
    """The estimator after each way of saving and loading it."""
    yield "pickle", pickle.loads(pickle.dumps(estimator))
    joblib.dump(estimator, tmp_path / "model.joblib")
    yield "joblib", joblib.load(tmp_path / "model.joblib")
    yield "copy.deepcopy", copy.deepcopy(estimator)
    if hasattr(estimator, "save") and hasattr(estimator, "is_fitted"):
        yield "sktime save in memory", load(estimator.save())
        estimator.save(tmp_path / "sktime_model")
        yield "sktime save to a file", load(str(tmp_path / "sktime_model"))
    estimator.save_model(tmp_path / "model.gfm")
    yield "save_model", load_model(tmp_path / "model.gfm")


def _forecaster_and_regressor():
    forecaster = _on_cuda(GRUForecaster(**F_PARAMS).fit(_monthly(), fh=[1, 2]))
    regressor = _on_cuda(LSTMRegressor(**R_PARAMS).fit(*_windows()))
    return forecaster, regressor


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_every_load_path_maps_a_cuda_model_to_the_cpu(tmp_path):
    forecaster, regressor = _forecaster_and_regressor()
    # fit keeps the network on the CPU; without CUDA, predict falls back to it
    expected_forecast = forecaster.predict_interval()
    expected_regression = regressor.predict(_windows()[0])
    for estimator, check in (
        (
            forecaster,
            lambda e: pd.testing.assert_frame_equal(
                e.predict_interval(), expected_forecast
            ),
        ),
        (
            regressor,
            lambda e: np.testing.assert_array_equal(
                e.predict(_windows()[0]), expected_regression
            ),
        ),
    ):
        paths = list(_load_paths(estimator, tmp_path))
        assert len(paths) == (6 if estimator is forecaster else 4)
        for how, loaded in paths:
            assert loaded.device_ == torch.device("cuda"), how
            tensors = loaded.network_.state_dict().values()
            assert {t.device.type for t in tensors} == {"cpu"}, how
            check(loaded)


_CHILD = """
import json, pickle, sys
import joblib, torch
torch.set_num_threads(1)
from sktime.base import load
from gatedforecast import load_model
assert not torch.cuda.is_available()
directory, X_path = sys.argv[1], sys.argv[2]
import numpy as np
X = np.load(X_path)
out = {}
for how, model in [
    ("pickle", pickle.load(open(directory + "/f.pkl", "rb"))),
    ("sktime", load(directory + "/f_sktime")),
    ("save_model", load_model(directory + "/f.gfm")),
]:
    devices = {p.device.type for p in model.network_.parameters()}
    out[how] = [str(model.device_), sorted(devices),
                model.predict_interval().to_numpy().tolist()]
for how, model in [
    ("joblib", joblib.load(directory + "/r.joblib")),
    ("save_model-regressor", load_model(directory + "/r.gfm")),
]:
    out[how] = [str(model.device_), sorted({p.device.type for p in
                model.network_.parameters()}), model.predict(X).tolist()]
print(json.dumps(out))
"""


def _save_everywhere(forecaster, regressor, directory):
    (directory / "f.pkl").write_bytes(pickle.dumps(forecaster))
    forecaster.save(directory / "f_sktime")
    forecaster.save_model(directory / "f.gfm")
    joblib.dump(regressor, directory / "r.joblib")
    regressor.save_model(directory / "r.gfm")
    np.save(directory / "X.npy", _windows()[0])


def _predict_in_a_process_without_cuda(directory):
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(directory), str(directory / "X.npy")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_models_saved_here_predict_identically_in_another_process(tmp_path):
    """pickle, sktime save, joblib and save_model files written by this process,
    loaded by a fresh one where CUDA is hidden, with device_ saying cuda."""
    forecaster, regressor = _forecaster_and_regressor()
    _save_everywhere(forecaster, regressor, tmp_path)
    out = _predict_in_a_process_without_cuda(tmp_path)
    # what the CPU gives here: where CUDA is visible, device_ would send these
    # predictions to the GPU, which rounds differently
    forecaster, regressor = copy.deepcopy(forecaster), copy.deepcopy(regressor)
    forecaster.device_ = regressor.device_ = torch.device("cpu")
    interval = forecaster.predict_interval().to_numpy().tolist()
    regression = regressor.predict(_windows()[0]).tolist()
    for how in ("pickle", "sktime", "save_model"):
        assert out[how] == ["cuda", ["cpu"], interval], how
    for how in ("joblib", "save_model-regressor"):
        assert out[how] == ["cuda", ["cpu"], regression], how


def test_a_truncated_model_file_is_refused(tmp_path):
    forecaster = GRUForecaster(**F_PARAMS).fit(_monthly(), fh=[1])
    path = forecaster.save_model(tmp_path / "model.gfm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a gatedforecast model file"):
        load_model(path)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_trained_on_cuda_predicts_where_cuda_is_hidden(tmp_path):
    forecaster = GRUForecaster(**{**F_PARAMS, "device": "cuda"}).fit(
        _monthly(), fh=[1, 2]
    )
    regressor = LSTMRegressor(**{**R_PARAMS, "device": "cuda"}).fit(*_windows())
    assert forecaster.device_.type == regressor.device_.type == "cuda"
    # predictions here run on the GPU, there on the CPU: equal up to float32 rounding
    interval = forecaster.predict_interval().to_numpy()
    regression = regressor.predict(_windows()[0])
    _save_everywhere(forecaster, regressor, tmp_path)
    out = _predict_in_a_process_without_cuda(tmp_path)
    for how in ("pickle", "sktime", "save_model"):
        device, devices, values = out[how]
        assert device.startswith("cuda"), how
        assert devices == ["cpu"], how
        np.testing.assert_allclose(values, interval, rtol=1e-4, atol=1e-5)
    for how in ("joblib", "save_model-regressor"):
        device, devices, values = out[how]
        assert device.startswith("cuda"), how
        assert devices == ["cpu"], how
        np.testing.assert_allclose(values, regression, rtol=1e-4, atol=1e-5)
