"""Reliability of the numbers: no silent infinities, and divergence caught when
the loss stays finite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST

from gatedforecast import GRUForecaster, GRURegressor, TrainingDivergedError

MONTHS = pd.period_range("2000-01", periods=80, freq="M")


# ------------------------------------------------------------- huge values
def test_huge_series_give_finite_forecasts_and_intervals(airline):
    settings = dict(FAST, window_length=12, random_state=0)
    small = GRUForecaster(**settings).fit(airline, fh=[1, 2])
    huge = GRUForecaster(**settings).fit(airline * 1e160, fh=[1, 2])
    point, interval = huge.predict(), huge.predict_interval(coverage=0.9)
    assert np.isfinite(point.to_numpy()).all()
    assert np.isfinite(interval.to_numpy()).all()
    np.testing.assert_allclose(point / 1e160, small.predict(), rtol=1e-4)
    np.testing.assert_allclose(
        interval.to_numpy() / 1e160,
        small.predict_interval(coverage=0.9).to_numpy(),
        rtol=1e-4,
    )


def test_a_huge_exogenous_column_is_scaled_not_zeroed(airline):
    settings = dict(FAST, window_length=12, random_state=0)
    x = pd.DataFrame({"x": np.sin(np.arange(len(airline)))}, index=airline.index)
    y, fh = airline[:-2], [1, 2]
    plain = GRUForecaster(**settings).fit(y, X=x[:-2], fh=fh)
    huge = GRUForecaster(**settings).fit(y, X=x[:-2] * 1e300, fh=fh)
    # standardising makes the scale of X irrelevant; a zeroed column would not
    np.testing.assert_allclose(
        huge.predict(X=x * 1e300), plain.predict(X=x), rtol=1e-4
    )


def test_unscaled_values_beyond_float32_are_refused(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, scaler=None)
    with pytest.raises(ValueError, match="float32 range.*scaler='window'"):
        forecaster.fit(airline * 1e160, fh=[1])


def test_forecasts_beyond_float64_are_refused_not_infinite():
    y = pd.Series(np.linspace(0.5e308, 1.79e308, 60), MONTHS[:60])
    forecaster = GRUForecaster(**FAST, window_length=6, random_state=0)
    forecaster.fit(y, fh=[1, 2, 3])
    with pytest.raises(ValueError, match="float64 range.*Divide y"):
        forecaster.predict()
    with pytest.raises(ValueError, match="float64 range.*Divide y"):
        forecaster.predict_interval()


def test_regressor_predicts_huge_targets_finitely_and_refuses_huge_x():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4, 1))
    y = X.sum(axis=(1, 2))
    settings = dict(hidden_sizes=4, max_epochs=3, random_state=0)
    small = GRURegressor(**settings).fit(X, y).predict(X[:5])
    huge = GRURegressor(**settings).fit(X, y * 1e200).predict(X[:5])
    assert np.isfinite(huge).all()
    np.testing.assert_allclose(huge / 1e200, small, rtol=1e-4)
    with pytest.raises(ValueError, match="X reaches 1e\\+300.*float32.*Standardise"):
        GRURegressor(**settings).fit(X * 0 + 1e300, y)


# ------------------------------------------------------ finite divergence
def test_a_finite_explosion_of_the_forecaster_is_caught(airline):
    forecaster = GRUForecaster(
        hidden_sizes=4,
        max_epochs=5,
        learning_rate=1e12,
        optimizer="sgd",
        scaler=None,
        gradient_clip=None,
        interval_method=None,
        random_state=0,
    )
    # the loss grows ten-thousandfold and stays finite: weights ~1e12 before
    with pytest.raises(TrainingDivergedError, match="diverged at epoch 1.*learning"):
        forecaster.fit(airline * 1e6, fh=[1])
    assert not forecaster.is_fitted


def test_a_finite_explosion_of_the_regressor_is_caught():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5, 2))
    regressor = GRURegressor(
        hidden_sizes=4,
        max_epochs=5,
        learning_rate=1e12,
        optimizer="sgd",
        scale_target=False,
        gradient_clip=None,
        loss="mae",
        random_state=0,
    )
    with pytest.raises(TrainingDivergedError, match="diverged at epoch 1"):
        regressor.fit(X, X.sum(axis=(1, 2)) * 1e6)
    assert not hasattr(regressor, "network_")


def test_weights_that_stop_being_finite_are_caught(monkeypatch, airline):
    # a step that leaves an infinite weight but a finite loss: an infinite bias
    # of the recurrent cell saturates its gates, whose outputs stay finite
    step = torch.optim.Adam.step

    def poisoned(self, *args, **kwargs):
        out = step(self, *args, **kwargs)
        bias = next(p for p in self.param_groups[0]["params"] if p.ndim == 1)
        with torch.no_grad():
            bias[0] = float("inf")
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", poisoned)
    forecaster = GRUForecaster(**FAST, window_length=12, interval_method=None)
    with pytest.raises(TrainingDivergedError, match="weights stopped being finite"):
        forecaster.fit(airline, fh=[1])


@pytest.mark.parametrize("scaler", ["window", None])
def test_a_series_fitted_exactly_raises_no_false_divergence(scaler):
    # every target is zero (the loss of zero outputs is 0): the loss of the
    # network itself stays small and is no divergence
    y = pd.Series(7.0, index=MONTHS[:40])
    forecaster = GRUForecaster(
        **FAST, window_length=6, scaler=scaler, interval_method=None, random_state=0
    )
    forecaster.fit(y, fh=[1])
    assert np.allclose(forecaster.predict(), 7.0, atol=1.0)
