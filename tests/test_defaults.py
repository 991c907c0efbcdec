"""Defaults that read the data: the season, the window and the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from gatedforecast import GRUForecaster, LSTMForecaster, load_model, save_model
from gatedforecast.seasonality import (
    auto_window_length,
    candidate_periods,
    choose_baseline,
    detect_season,
    naive_errors,
)

QUICK = {**FAST, "max_epochs": 1, "random_state": 0}


def _seasonal(n=96, period=12, seed=0):
    """Trend, a clear season of ``period`` steps and a little noise."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(scale=0.2, size=n)
    return 20 + 0.05 * t + 2 * np.sin(2 * np.pi * t / period) + noise


def _noise(n=96, seed=0):
    return 20 + np.random.default_rng(seed).normal(size=n)


def _monthly(values):
    index = pd.period_range("2000-01", periods=len(values), freq="M")
    return pd.Series(values, index=index, name="y")


# ---------------------------------------------------------------- candidates
@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("M", (12,)),
        ("MS", (12,)),
        ("QS", (4,)),
        ("W-SUN", (52,)),
        ("D", (7,)),
        ("B", (5,)),
        ("h", (24, 168)),
        ("30min", (48,)),
        ("min", (60,)),
        ("Y", ()),
        (None, (4, 5, 7, 12, 24, 52)),
    ],
)
def test_candidate_seasons_from_the_index_frequency(freq, expected):
    assert candidate_periods(freq) == expected


def test_candidates_the_series_cannot_hold_three_times_are_dropped():
    assert candidate_periods("h", n_obs=168 * 3) == (24,)
    assert candidate_periods("h", n_obs=168 * 3 + 1) == (24, 168)
    assert candidate_periods("M", n_obs=36) == ()


# ---------------------------------------------------------------- the test
def test_season_detected_on_a_seasonal_monthly_series():
    assert detect_season([_seasonal()], "M") == 12


def test_season_rejected_on_white_noise():
    for seed in range(5):
        assert detect_season([_noise(seed=seed)], "M") is None


def test_trend_alone_is_not_a_season():
    walk = np.cumsum(np.random.default_rng(1).normal(size=120)) + 100
    assert detect_season([walk], "M") is None


def test_integer_index_lets_the_test_choose_the_lag():
    assert detect_season([_seasonal(n=120, period=7)], None) == 7
    assert detect_season([_seasonal(n=200, period=24)], None) == 24
    assert detect_season([_noise(n=200)], None) is None


def test_a_shorter_season_dividing_the_longer_is_kept():
    # a daily cycle of hourly data also correlates a week back: still daily
    t = np.arange(24 * 7 * 5)
    hourly = 5 + np.sin(2 * np.pi * t / 24)
    hourly += np.random.default_rng(0).normal(scale=0.1, size=t.size)
    assert detect_season([hourly], "h") == 24
    # a weekly pattern on top makes the week the season
    weekly = hourly + 2 * (t % 168 >= 120)
    assert detect_season([weekly], "h") == 168


def test_series_too_short_for_three_seasons_keep_no_season():
    # a fixed monthly profile repeated, with noise: plain to see in 37 months
    rng = np.random.default_rng(0)
    profile = rng.normal(size=12)
    values = 10 + np.tile(profile, 4) + rng.normal(scale=0.1, size=48)
    assert detect_season([values[:37]], "M") == 12
    assert detect_season([values[:36]], "M") is None


def test_a_panel_is_tested_as_a_whole():
    panel = [_seasonal(n=60, seed=i) for i in range(4)] + [_noise(n=20)]
    assert detect_season(panel, "M") == 12
    # the short series cannot hold three seasons and is left out of the test
    assert detect_season([_noise(n=20)], "M") is None


def test_automatic_window():
    assert auto_window_length(132, 12, 12) == 24  # two horizons
    assert auto_window_length(1000, 13, 52) == 52  # a season
    assert auto_window_length(1000, 13, None) == 26  # the rule without a season
    assert auto_window_length(30, 6, None) == 12
    # capped by what a short series leaves, but never below one season
    assert auto_window_length(80, 13, 52) == 52
    assert auto_window_length(50, 13, 52) == 18


# ---------------------------------------------------------------- forecasters
@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_auto_defaults_are_shown_as_fitted_attributes(cls):
    y = _monthly(_seasonal(n=96))
    forecaster = cls(**QUICK).fit(y, fh=range(1, 7))
    assert forecaster.seasonal_period_ == 12
    assert forecaster.baseline_ == "seasonal"
    assert forecaster.window_length_ == 12  # max(2 * 6, one season, 12)
    assert forecaster.window_length == "auto"  # the parameter is untouched
    assert forecaster.seasonal_period == "auto"
    assert forecaster.baseline == "auto"


def test_no_season_found_keeps_the_last_value_baseline():
    y = _monthly(_noise(n=96))
    forecaster = GRUForecaster(**QUICK).fit(y, fh=range(1, 7))
    assert forecaster.seasonal_period_ is None
    assert forecaster.baseline_ == "last"
    assert forecaster.window_length_ == 12


def test_integer_index_season_in_the_forecaster():
    y = pd.Series(_seasonal(n=120, period=7))
    forecaster = GRUForecaster(**QUICK).fit(y, fh=range(1, 4))
    assert forecaster.seasonal_period_ == 7
    assert forecaster.window_length_ == 12  # max(2 * 3, 7, 12)
    assert forecaster.baseline_ == "seasonal"


def test_short_series_fall_back_to_no_season():
    y = _monthly(_seasonal(n=30))
    forecaster = GRUForecaster(**QUICK).fit(y, fh=range(1, 7))
    assert forecaster.seasonal_period_ is None
    assert forecaster.baseline_ == "last"
    assert forecaster.window_length_ == 12  # min(12, (30 - 6) // 2)


def test_explicit_values_override_auto():
    y = _monthly(_seasonal(n=96))
    fitted = GRUForecaster(**QUICK, window_length=30, seasonal_period=6).fit(
        y, fh=range(1, 7)
    )
    assert (fitted.window_length_, fitted.seasonal_period_) == (30, 6)
    # half a season back is a poor naive forecast: the last value is kept
    assert fitted.baseline_ == "last"
    fitted = GRUForecaster(**QUICK, seasonal_period=6, baseline="seasonal").fit(
        y, fh=range(1, 7)
    )
    assert (fitted.window_length_, fitted.baseline_) == (12, "seasonal")
    fitted = GRUForecaster(**QUICK, seasonal_period=None, baseline="last").fit(
        y, fh=range(1, 7)
    )
    assert (fitted.seasonal_period_, fitted.baseline_) == (None, "last")
    assert fitted.window_length_ == 12
    # an explicit window shorter than the season found keeps the last-value baseline
    fitted = GRUForecaster(**QUICK, window_length=6).fit(y, fh=range(1, 7))
    assert (fitted.window_length_, fitted.seasonal_period_) == (6, 12)
    assert fitted.baseline_ == "last"


def test_seasonal_baseline_without_a_season_found_is_a_clear_error():
    y = _monthly(_noise(n=96))
    forecaster = GRUForecaster(**QUICK, baseline="seasonal")
    with pytest.raises(
        ValueError, match=r"needs seasonal_period.*'auto' found none in y"
    ):
        forecaster.fit(y, fh=range(1, 7))


def test_the_automatic_choice_is_the_explicit_one():
    """'auto' resolves to settings that, given explicitly, forecast the same."""
    y = _monthly(_seasonal(n=96))
    auto = GRUForecaster(**QUICK).fit(y, fh=range(1, 7))
    explicit = GRUForecaster(
        **QUICK,
        window_length=auto.window_length_,
        seasonal_period=auto.seasonal_period_,
        baseline=auto.baseline_,
    ).fit(y, fh=range(1, 7))
    pd.testing.assert_series_equal(auto.predict(), explicit.predict())


def test_auto_baseline_is_the_better_naive_forecast_in_sample():
    t = np.arange(120)
    season = np.sin(2 * np.pi * t / 12)
    assert choose_baseline([10 + season], 12, 6) == "seasonal"
    # a random walk with a faint season: a year back is further than a step
    rng = np.random.default_rng(0)
    walks = [np.cumsum(rng.normal(size=120)) + 0.1 * season for _ in range(4)]
    assert choose_baseline(walks[:1], 12, 6) == "last"
    # a panel: the geometric mean of the ratios, each series counting alike
    assert choose_baseline([10 + season, 1000 * walks[0]], 12, 6) == "seasonal"
    noisy = 10 + season + rng.normal(scale=0.3, size=120)
    assert choose_baseline([noisy], 12, 6) == "seasonal"
    assert choose_baseline([noisy, *walks], 12, 6) == "last"
    # a perfect season counts as a ratio of 1/100, not of zero
    assert choose_baseline([10 + season, *walks], 12, 6) == "seasonal"
    assert choose_baseline([10 + season, *walks, *walks], 12, 6) == "last"
    assert choose_baseline([10 + season], None, 6) == "last"
    last, seasonal = naive_errors([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 3, 1)
    # origins 2..4 forecast one step: last |1-3|, |2-1|, |3-2|; seasonal exact
    assert (last, seasonal) == (4 / 3, 0.0)


def test_auto_baseline_in_the_forecaster_follows_the_data():
    t = np.arange(120)
    walk = np.cumsum(np.random.default_rng(0).normal(size=120)) + 50
    # a season the test confirms, but too weak for the seasonal naive to win
    y = _monthly(walk + 3 * np.sin(2 * np.pi * t / 12))
    forecaster = GRUForecaster(**QUICK).fit(y, fh=range(1, 7))
    assert forecaster.seasonal_period_ == 12
    assert forecaster.baseline_ == "last"


def test_save_load_keeps_the_choices(tmp_path):
    y = _monthly(_seasonal(n=96))
    forecaster = LSTMForecaster(**QUICK).fit(y, fh=range(1, 7))
    loaded = load_model(save_model(forecaster, tmp_path / "m.gfm"))
    assert loaded.window_length_ == forecaster.window_length_ == 12
    assert loaded.seasonal_period_ == 12
    assert loaded.baseline_ == "seasonal"
    assert loaded.get_params()["seasonal_period"] == "auto"
    pd.testing.assert_series_equal(loaded.predict(), forecaster.predict())
