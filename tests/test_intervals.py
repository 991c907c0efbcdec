"""Prediction intervals and quantiles: conformal and Monte Carlo dropout."""

import threading

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.intervals import calibration_windows, conformal_quantiles


def _noisy_panel(n_series=50, n=200, seed=0):
    """Sines with Gaussian noise of standard deviation 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    frames = {}
    for i in range(n_series):
        signal = 20 + 5 * np.sin(2 * np.pi * (t + 3 * i) / 12)
        frames[f"s{i}"] = pd.DataFrame({"y": signal + rng.normal(size=n)})
    return pd.concat(frames, names=["id", "time"])


@pytest.mark.parametrize(
    "params",
    [
        {"interval_method": "conformal"},
        {"interval_method": "mc_dropout", "dropout": 0.1},
        {"interval_method": "quantile", "quantiles": (0.1, 0.5, 0.9)},
    ],
    ids=["conformal", "mc_dropout", "quantile"],
)
def test_the_80_percent_interval_covers_about_80_percent(params):
    y = _noisy_panel()
    time = y.index.get_level_values("time")
    train, test = y[time < 190], y[time >= 190]
    forecaster = GRUForecaster(
        window_length=24,
        hidden_sizes=16,
        batch_size=64,
        max_epochs=12,
        steps_per_epoch=50,
        learning_rate=5e-3,
        scaler="standard",
        baseline=None,
        device="cpu",
        random_state=0,
        **params,
    )
    forecaster.fit(train, fh=np.arange(1, 11))
    interval = forecaster.predict_interval(coverage=0.8)
    lower = interval.iloc[:, 0].to_numpy()
    upper = interval.iloc[:, 1].to_numpy()
    actual = test["y"].to_numpy()
    assert len(actual) == 500
    coverage = np.mean((actual >= lower) & (actual <= upper))
    assert 0.70 <= coverage <= 0.90, coverage


def test_quantiles_are_monotone_and_bracket_the_point_forecast(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.fit(airline, fh=[1, 2, 3])
    alphas = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    quantiles = forecaster.predict_quantiles(alpha=alphas).to_numpy()
    assert np.all(np.diff(quantiles, axis=1) >= 0)
    np.testing.assert_allclose(quantiles[:, 3], forecaster.predict().to_numpy())
    wider = forecaster.predict_interval(coverage=0.9)
    narrower = forecaster.predict_interval(coverage=0.5)
    assert (wider.iloc[:, 0] <= narrower.iloc[:, 0]).all()
    assert (wider.iloc[:, 1] >= narrower.iloc[:, 1]).all()


def test_calibration_windows_are_held_out_of_training(airline):
    with_intervals = GRUForecaster(**FAST, window_length=12, random_state=0)
    without = GRUForecaster(
        **FAST, window_length=12, interval_method=None, random_state=0
    )
    with_intervals.fit(airline, fh=[1, 2])
    without.fit(airline, fh=[1, 2])
    # 133 windows in all; "auto" holds out 20 of them, plus one whose targets
    # would reach into the first calibration target: 20 residuals per step
    with pytest.warns(UserWarning, match="Only 20 calibration residual"):
        with_intervals.predict_interval(coverage=0.99)
    assert without.get_tag("capability:pred_int") is False
    assert with_intervals.get_tag("capability:pred_int") is True
    with pytest.raises(NotImplementedError):
        without.predict_interval()


def test_steps_beyond_the_calibrated_ones_widen(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.fit(airline, fh=[1, 2])
    interval = forecaster.predict_interval(fh=range(1, 9), coverage=0.8)
    width = (interval.iloc[:, 1] - interval.iloc[:, 0]).to_numpy()
    assert len(width) == 8
    assert np.all(width > 0)


def test_too_few_residuals_warn_and_widen():
    residuals = np.random.default_rng(0).normal(size=(10, 1, 1))
    with pytest.warns(UserWarning, match="needs at least 19"):
        offsets = conformal_quantiles(residuals, [0.025, 0.975])
    assert offsets[1, 0, 0] >= np.abs(residuals).max()
    assert offsets[0, 0, 0] == -offsets[1, 0, 0]


def test_enough_residuals_take_the_conformal_order_statistic():
    residuals = np.arange(1.0, 20.0).reshape(19, 1, 1)
    offsets = conformal_quantiles(residuals, [0.975, 0.5, 0.1])
    # coverage 0.95 with 19 residuals: the ceil(20 * 0.95) = 19th smallest
    assert offsets[:, 0, 0].tolist() == [19.0, 0.0, -16.0]


def test_auto_calibration_aims_for_twenty_residuals_and_keeps_training_windows():
    assert calibration_windows([132], 24, 12, 12, "auto").tolist() == [20]
    assert calibration_windows([100] * 40, 24, 12, 12, "auto").tolist() == [1] * 40
    # a short series keeps a training window of its own, or holds out none
    assert calibration_windows([40], 24, 12, 12, "auto").tolist() == [0]


def test_mc_dropout_is_reproducible_and_safe_across_threads(airline):
    forecaster = LSTMForecaster(
        **FAST,
        window_length=12,
        dropout=0.2,
        interval_method="mc_dropout",
        n_samples=20,
        random_state=3,
    )
    forecaster.fit(airline, fh=[1, 2, 3])
    expected = forecaster.predict_quantiles(alpha=[0.1, 0.9])
    results = [None] * 8

    def work(i):
        results[i] = forecaster.predict_quantiles(alpha=[0.1, 0.9])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        pd.testing.assert_frame_equal(result, expected)
    assert not forecaster.network_.training
    point = forecaster.predict()
    spread = expected.iloc[:, 1] - expected.iloc[:, 0]
    assert (spread > 0).all()
    assert np.isfinite(point.to_numpy()).all()


def test_mc_dropout_needs_dropout(airline):
    with pytest.raises(ValueError, match="needs dropout > 0"):
        GRUForecaster(**FAST, interval_method="mc_dropout").fit(airline, fh=[1])


def test_intervals_on_a_panel_have_the_panel_index():
    y = _noisy_panel(n_series=3, n=80)
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    interval = forecaster.fit(y, fh=[1, 2]).predict_interval(coverage=0.9)
    assert list(interval.index) == [
        ("s0", 80),
        ("s0", 81),
        ("s1", 80),
        ("s1", 81),
        ("s2", 80),
        ("s2", 81),
    ]
    assert (interval.iloc[:, 1] > interval.iloc[:, 0]).all()


def test_quantile_head_answers_any_level_monotonically(airline):
    forecaster = GRUForecaster(
        **FAST,
        window_length=12,
        interval_method="quantile",
        quantiles=(0.1, 0.5, 0.9),
        random_state=0,
    )
    forecaster.fit(airline, fh=[1, 2])
    assert forecaster.network_.head.out_features == 2 * 3
    alphas = [0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    quantiles = forecaster.predict_quantiles(alpha=alphas).to_numpy()
    assert np.all(np.diff(quantiles, axis=1) > 0)
    np.testing.assert_allclose(quantiles[:, 4], forecaster.predict().to_numpy())
    # beyond the head: rolled out along the median with calibrated spreads
    longer = forecaster.predict_interval(fh=range(1, 6), coverage=0.8)
    assert (longer.iloc[:, 1] > longer.iloc[:, 0]).all()


def test_a_new_interval_method_is_a_class_and_a_registry_entry(airline, monkeypatch):
    from gatedforecast.engine.interval_methods import (
        INTERVAL_METHODS,
        MCDropoutIntervals,
        QuantileHeadIntervals,
    )

    class WideHead(QuantileHeadIntervals):
        name = "wide_head"

    class DropoutPaths(MCDropoutIntervals):
        name = "dropout_paths"

    monkeypatch.setitem(INTERVAL_METHODS, WideHead.name, WideHead)
    monkeypatch.setitem(INTERVAL_METHODS, DropoutPaths.name, DropoutPaths)
    params = {**FAST, "window_length": 12, "random_state": 0}
    # its flags, not its name, decide: a quantile head is trained for it...
    head = GRUForecaster(
        **params, interval_method="wide_head", quantiles=(0.2, 0.5, 0.8)
    )
    head.fit(airline, fh=[1, 2])
    assert head.network_.head.out_features == 2 * 3
    same = GRUForecaster(
        **params, interval_method="quantile", quantiles=(0.2, 0.5, 0.8)
    )
    pd.testing.assert_frame_equal(
        head.predict_interval(coverage=0.6),
        same.fit(airline, fh=[1, 2]).predict_interval(coverage=0.6),
    )
    # ... and dropout is required for it, in the message's words
    with pytest.raises(
        ValueError, match="interval_method='dropout_paths' samples dropout masks"
    ):
        GRUForecaster(**params, interval_method="dropout_paths").fit(airline, fh=[1])


def test_interpolation_and_normal_tails_between_and_beyond_levels():
    from gatedforecast.intervals import interpolate_levels

    values = np.array([-1.0, 0.0, 1.0])
    out = interpolate_levels(values, (0.1, 0.5, 0.9), [0.1, 0.3, 0.5, 0.9, 0.975])
    assert out[0] == -1.0
    assert out[1] == pytest.approx(-0.5)
    assert out[2] == 0.0
    assert out[3] == 1.0
    # the 0.975 level sits at z(0.975) / z(0.9) = 1.96 / 1.2816 times the 0.9 one
    assert out[4] == pytest.approx(1.959964 / 1.281552, rel=1e-5)


def test_a_single_series_trains_again_on_all_windows_after_calibrating(airline):
    calibrated = GRUForecaster(**FAST, window_length=12, random_state=0)
    plain = GRUForecaster(
        **FAST, window_length=12, interval_method=None, random_state=0
    )
    calibrated.fit(airline, fh=[1, 2])
    plain.fit(airline, fh=[1, 2])
    # 20 of 132 windows held out (> 5 %): the final network saw every window, the
    # same training as without intervals, and the residuals come from the first
    pd.testing.assert_series_equal(calibrated.predict(), plain.predict())
    with pytest.warns(UserWarning, match="Only 20 calibration residual"):
        calibrated.predict_interval(coverage=0.99)


@pytest.mark.parametrize("bad", ["x", None, True])
def test_a_quantile_level_that_is_not_a_number_is_named(airline, bad):
    forecaster = GRUForecaster(**FAST, interval_method="quantile", quantiles=(0.5, bad))
    with pytest.raises(TypeError, match=rf"quantiles must be numbers.*{bad!r} in"):
        forecaster.fit(airline, fh=[1])


@pytest.mark.parametrize("window", [1, 5, 24])
def test_typical_spreads_equal_the_spread_of_every_window(window):
    from numpy.lib.stride_tricks import sliding_window_view

    from gatedforecast.intervals import typical_spreads

    rng = np.random.default_rng(0)
    series = [
        rng.normal(size=(300, 2)) * 50 + 1000,
        np.repeat(rng.integers(0, 3, 60), 10).reshape(300, 2).astype(float),
        np.full((40, 2), 7.0),
        np.ones((3, 2)),
    ]
    expected = [
        np.sqrt(np.mean(sliding_window_view(s, window, axis=0).std(axis=-1) ** 2, 0))
        if len(s) >= window
        else np.zeros(s.shape[1])
        for s in series
    ]
    out = typical_spreads(series, window)
    assert len(out) == len(expected)
    for got, want in zip(out, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_quantile_levels_need_one_on_each_side_of_the_median(airline):
    # with nothing above 0.5, an interval beyond the top level divided by z(0.5) = 0
    forecaster = GRUForecaster(
        **FAST, interval_method="quantile", quantiles=(0.2, 0.5), window_length=12
    )
    with pytest.raises(ValueError, match=r"a level below 0\.5 and one above it"):
        forecaster.fit(airline, fh=[1])
