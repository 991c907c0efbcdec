"""Reliability of the numbers: intervals on the scale of the data, no silent
infinities, divergence caught when the loss stays finite, and interval warnings
and levels that make sense on short series."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST

from gatedforecast import GRUForecaster, GRURegressor, TrainingDivergedError
from gatedforecast.intervals import (
    FLAT_SPREAD_SHARE,
    conformal_quantiles,
    typical_spreads,
)

MONTHS = pd.period_range("2000-01", periods=80, freq="M")


def _intermittent() -> pd.Series:
    rng = np.random.default_rng(0)
    values = np.where(rng.random(80) < 0.15, rng.integers(1, 4, 80), 0.0)
    y = pd.Series(values, index=MONTHS)
    y.iloc[-2] = 2
    return y


def _spike() -> pd.Series:
    y = pd.Series(5.0, index=MONTHS)
    y.iloc[-3] = 1000
    return y


def _piecewise() -> pd.Series:
    # the last level starts two steps before the end, inside the last window
    return pd.Series(np.r_[[10.0] * 30, [50.0] * 25, [20.0] * 23, [35.0] * 2], MONTHS)


# ------------------------------------------------ conformal intervals on flat data
@pytest.mark.parametrize("make", [_intermittent, _spike, _piecewise])
def test_conformal_intervals_stay_on_the_scale_of_series_with_flat_stretches(make):
    y = make()
    forecaster = GRUForecaster(
        hidden_sizes=8, max_epochs=20, window_length=6, random_state=0
    )
    forecaster.fit(y, fh=[1, 2, 3])
    interval = forecaster.predict_interval(coverage=0.9).to_numpy()
    point = forecaster.predict().to_numpy()
    largest = np.abs(y).max()
    assert np.isfinite(interval).all()
    # before: +-540,821 (intermittent), +-2.9e9 (spike), +-3.5e6 (piecewise)
    assert np.abs(interval).max() < 10 * largest
    assert np.abs(interval - point[:, None]).max() < 10 * largest
    assert (interval[:, 0] <= point).all()
    assert (point <= interval[:, 1]).all()


def test_windows_of_ordinary_series_keep_their_own_spread(airline):
    # the flat-window rule leaves ordinary series alone: no window of airline
    # (standardised, window 12) comes near the flat share of the typical spread
    values = airline.to_numpy()[:, None]
    scaled = (values - values.mean()) / values.std()
    typical = typical_spreads([scaled], 12)[0, 0]
    windows = np.lib.stride_tricks.sliding_window_view(scaled[:, 0], 12)
    assert windows.std(axis=1).min() > 4 * FLAT_SPREAD_SHARE * typical


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
    np.testing.assert_allclose(huge.predict(X=x * 1e300), plain.predict(X=x), rtol=1e-4)


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
    forecaster = GRUForecaster(
        **FAST, window_length=12, interval_method=None, ensemble_size=1
    )
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


# --------------------------------------------- short series: warnings and levels
def _short_fit(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    return forecaster.fit(airline[:40], fh=[1, 2, 3])


def test_too_few_residuals_warn_once_per_fitted_model(airline):
    forecaster = _short_fit(airline)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecaster.predict_interval(coverage=0.95)
        forecaster.predict_interval(coverage=0.95)
        forecaster.predict_quantiles(alpha=[0.01, 0.99])
    messages = [str(w.message) for w in caught if "calibration residual" in str(w)]
    assert len(messages) == 1
    assert messages[0].startswith("Only 6 calibration residual(s)")
    assert caught[0].filename == __file__
    # a new fit is a new model: it warns again
    forecaster.fit(airline[:40], fh=[1, 2, 3])
    with pytest.warns(UserWarning, match="Only 6 calibration residual"):
        forecaster.predict_interval(coverage=0.95)


def test_wider_coverage_gives_a_strictly_wider_interval_on_a_short_series(airline):
    forecaster = _short_fit(airline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interval = forecaster.predict_interval(coverage=[0.8, 0.9, 0.95, 0.99])
    bounds = interval.to_numpy().reshape(len(interval), 4, 2)
    lower, upper = bounds[..., 0], bounds[..., 1]
    assert (np.diff(lower, axis=1) < 0).all()
    assert (np.diff(upper, axis=1) > 0).all()


def test_unresolved_levels_extend_the_largest_residual_with_a_normal_tail():
    # one large residual dominated every unresolved level before: 80 % and 95 %
    # were both the largest residual
    residuals = np.array([0.1, 0.2, 3.0]).reshape(3, 1, 1)
    with pytest.warns(UserWarning, match="needs at least 99"):
        offsets = conformal_quantiles(residuals, [0.9, 0.95, 0.975, 0.995])
    widths = offsets[:, 0, 0]
    assert widths[0] > 3.0
    assert (np.diff(widths) > 0).all()
    # coverage 0.75 = 3/4 is resolved by 3 residuals: the largest one, exactly
    assert conformal_quantiles(residuals, [0.875])[0, 0, 0] == 3.0


# ---------------------------------------------------------------- progress
def test_the_two_trainings_of_a_conformal_fit_are_labelled(airline, capfd):
    GRUForecaster(**FAST, window_length=12, verbose=1, random_state=0).fit(
        airline[:60], fh=[1]
    )
    shown = capfd.readouterr().err
    assert "calibration fit" in shown
    assert "final fit" in shown
    assert shown.index("calibration fit") < shown.index("final fit")


def test_the_epochs_of_both_trainings_are_reported_and_survive_saving(
    airline, tmp_path
):
    from gatedforecast import load_model, save_model

    params = {**FAST, "window_length": 12, "random_state": 0, "patience": 1}
    twice = GRUForecaster(**params).fit(airline[:60], fh=[1])
    # the first training has its own epochs; history_ is the second training's
    assert 1 <= twice.calibration_epochs_ <= FAST["max_epochs"]
    assert twice.n_epochs_ == len(twice.history_)
    once = GRUForecaster(**params, calibration_size=1).fit(airline, fh=[1])
    assert once.calibration_epochs_ is None
    loaded = load_model(save_model(twice, tmp_path / "twice.gfm"))
    assert loaded.calibration_epochs_ == twice.calibration_epochs_
    twice.update(airline[60:62], update_params=True)
    assert twice.calibration_epochs_ == loaded.calibration_epochs_
