"""Reliability of the numbers: divergence is caught when the loss stays finite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST

from gatedforecast import GRUForecaster, GRURegressor, TrainingDivergedError

MONTHS = pd.period_range("2000-01", periods=80, freq="M")


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
