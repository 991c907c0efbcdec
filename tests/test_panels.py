"""Panels and hierarchies: one global network, each series forecast from its end."""

import numpy as np
import pandas as pd
import pytest
from conftest import FAST
from sktime.forecasting.base import ForecastingHorizon

from gatedforecast import GRUForecaster, LSTMForecaster


def _panel(lengths, offsets, hierarchical=False):
    frames = []
    for i, (n, start) in enumerate(zip(lengths, offsets)):
        t = np.arange(start, start + n)
        values = 10 * (i + 1) + np.sin(2 * np.pi * t / 12) * (i + 1)
        if hierarchical:
            index = pd.MultiIndex.from_product(
                [[f"r{i % 2}"], [f"s{i}"], t], names=["region", "store", "time"]
            )
        else:
            index = pd.MultiIndex.from_product([[f"s{i}"], t], names=["id", "time"])
        frames.append(pd.DataFrame({"y": values}, index=index))
    return pd.concat(frames)


def test_one_network_forecasts_each_series_from_its_own_end():
    y = _panel([60, 80, 70], [0, 5, 20])
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    y_pred = forecaster.fit(y, fh=[1, 2, 3]).predict()
    assert forecaster.n_series_ == 3
    assert list(y_pred.index.names) == ["id", "time"]
    expected = [
        ("s0", 60),
        ("s0", 61),
        ("s0", 62),
        ("s1", 85),
        ("s1", 86),
        ("s1", 87),
        ("s2", 90),
        ("s2", 91),
        ("s2", 92),
    ]
    assert list(y_pred.index) == expected
    assert np.isfinite(y_pred.to_numpy()).all()
    # per-series scaling puts each forecast at its own series' level
    levels = y_pred.groupby(level="id")["y"].mean()
    assert levels["s0"] < levels["s1"] < levels["s2"]


def test_panel_forecast_equals_the_forecast_of_each_series_context():
    y = _panel([60, 60], [0, 0])
    forecaster = LSTMForecaster(**FAST, window_length=12, random_state=0)
    y_pred = forecaster.fit(y, fh=[1, 2, 5]).predict()
    subset = forecaster.predict(fh=[2, 5])
    np.testing.assert_allclose(
        subset.to_numpy(), y_pred.loc[(slice(None), [1 + 60, 4 + 60]), :].to_numpy()
    )


def test_hierarchical_series_keep_all_their_levels():
    y = _panel([50, 55, 60], [0, 0, 0], hierarchical=True)
    y_pred = (
        GRUForecaster(**FAST, window_length=10, random_state=0)
        .fit(y, fh=[1, 2])
        .predict()
    )
    assert list(y_pred.index.names) == ["region", "store", "time"]
    assert len(y_pred) == 6
    assert y_pred.index.get_level_values("store").unique().tolist() == [
        "s0",
        "s1",
        "s2",
    ]


def test_global_model_false_fits_one_forecaster_per_series():
    y = _panel([50, 55], [0, 0])
    forecaster = GRUForecaster(**FAST, window_length=10, global_model=False)
    y_pred = forecaster.fit(y, fh=[1, 2]).predict()
    assert forecaster.get_tag("y_inner_mtype") == "pd.DataFrame"
    assert forecaster.forecasters_.shape == (2, 1)
    assert len(y_pred) == 4


def test_update_moves_each_series_on_and_refuses_unknown_series():
    y = _panel([60, 60], [0, 0])
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.fit(y.loc[(slice(None), slice(0, 49)), :], fh=[1])
    forecaster.update(y.loc[(slice(None), slice(50, 59)), :], update_params=False)
    assert list(forecaster.predict().index) == [("s0", 60), ("s1", 60)]
    more = _panel([3], [60])
    forecaster.update(more, update_params=True)
    assert list(forecaster.predict().index) == [("s0", 63), ("s1", 60)]
    assert forecaster.n_epochs_ == 6
    stranger = _panel([5], [60]).rename(index={"s0": "s9"})
    with pytest.raises(ValueError, match="not seen in fit"):
        forecaster.update(stranger)


def test_a_panel_series_too_short_is_named_in_the_error():
    y = _panel([60, 8], [0, 0])
    with pytest.raises(ValueError, match=r"y\['s1'\] has 8 observations.*at least"):
        GRUForecaster(**FAST, window_length=12).fit(y, fh=[1])


def test_absolute_fh_on_a_panel_follows_each_series():
    y = _panel([30, 30], [0, 2])
    forecaster = GRUForecaster(**FAST, window_length=6, random_state=0).fit(y)
    fh = ForecastingHorizon([33, 34], is_relative=False)
    y_pred = forecaster.predict(fh=fh)
    assert list(y_pred.index) == [("s0", 33), ("s0", 34), ("s1", 33), ("s1", 34)]


@pytest.mark.parametrize(
    "index",
    [
        pd.period_range("2000-01", periods=5, freq="M"),
        pd.date_range("2020-01-05", periods=5, freq="W-SUN"),
        pd.date_range("2020-01-01", periods=5, freq="h"),
        pd.RangeIndex(3, 8),
    ],
    ids=["period", "weekly", "hourly", "integer"],
)
def test_steps_after_agrees_with_sktimes_absolute_horizon(index):
    from sktime.forecasting.base import ForecastingHorizon

    from gatedforecast.panels import steps_after

    cutoff = index[-1:]
    expected = ForecastingHorizon(np.arange(1, 5)).to_absolute_index(cutoff)
    got = steps_after(index[-1], 4, getattr(index, "freq", None))
    assert list(got) == list(expected)
