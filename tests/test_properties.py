"""Property-based tests (hypothesis): forecast indexes, horizon subsets, scaling.

For random series lengths, index types and horizons, the forecast index is exactly
``fh.to_absolute_index(cutoff)`` and any subset of a horizon gives the same values as
the full horizon; both scaling layers invert exactly what they apply.

The examples are derandomised (the same on every run) so that CI is stable; set
``HYPOTHESIS_PROFILE=explore`` for fresh random examples, more of them.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sktime.forecasting.base import ForecastingHorizon

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.scaling import SeriesScaler, WindowTransform

settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TINY = {
    "window_length": 4,
    "hidden_sizes": 4,
    "max_epochs": 1,
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}
DATETIME_FREQS = ["D", "h", "B", "W-SUN", "MS", "ME", "QS-JAN", "YS-JAN"]
PERIOD_FREQS = ["D", "h", "M", "Q", "Y", "W"]


@st.composite
def time_indexes(draw, n):
    """A RangeIndex, integer Index, DatetimeIndex with a freq or PeriodIndex."""
    kind = draw(st.sampled_from(["range", "int", "datetime", "period"]))
    start = draw(st.integers(-50, 1000))
    if kind == "range":
        return pd.RangeIndex(start, start + n)
    if kind == "int":
        return pd.Index(np.arange(start, start + n, dtype=np.int64))
    day = pd.Timestamp("2000-01-01") + pd.Timedelta(days=start)
    if kind == "datetime":
        freq = draw(st.sampled_from(DATETIME_FREQS))
        return pd.date_range(day, periods=n, freq=freq)
    freq = draw(st.sampled_from(PERIOD_FREQS))
    return pd.period_range(day, periods=n, freq=freq)


horizons = st.lists(st.integers(1, 8), min_size=1, max_size=5, unique=True).map(sorted)


def _series(index: pd.Index, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(len(index))
    values = 10 + np.sin(t / 3) + rng.normal(scale=0.2, size=len(index))
    return pd.Series(values, index=index, name="y")


def _assert_index_equal(actual: pd.Index, expected: pd.Index):
    pd.testing.assert_index_equal(actual, expected, exact=True)
    assert getattr(actual, "freq", None) == getattr(expected, "freq", None)


@pytest.mark.filterwarnings("ignore::UserWarning")
@given(
    data=st.data(),
    n=st.integers(30, 70),
    fh=horizons,
    cls=st.sampled_from([GRUForecaster, LSTMForecaster]),
    strategy=st.sampled_from(["direct", "recursive"]),
)
def test_forecast_index_is_the_absolute_horizon_and_subsets_agree(
    data, n, fh, cls, strategy
):
    index = data.draw(time_indexes(n), label="index")
    y = _series(index, seed=n)
    forecaster = cls(**TINY, strategy=strategy).fit(y, fh=fh)
    full = forecaster.predict()
    expected = ForecastingHorizon(fh).to_absolute_index(forecaster.cutoff)
    _assert_index_equal(full.index, expected)
    assert forecaster.cutoff[0] == index[-1]

    subset = data.draw(
        st.lists(st.sampled_from(fh), min_size=1, unique=True).map(sorted),
        label="subset",
    )
    part = forecaster.predict(fh=subset)
    _assert_index_equal(
        part.index, ForecastingHorizon(subset).to_absolute_index(forecaster.cutoff)
    )
    np.testing.assert_allclose(part.to_numpy(), full.loc[part.index].to_numpy())
    # an absolute horizon names the same steps
    absolute = forecaster.predict(fh=ForecastingHorizon(expected, is_relative=False))
    pd.testing.assert_series_equal(absolute, full)
    # steps beyond the fitted horizon are rolled out, and agree on the shared ones
    longer = forecaster.predict(fh=list(range(1, max(fh) + 4)))
    np.testing.assert_allclose(longer.loc[full.index].to_numpy(), full.to_numpy())
    intervals = forecaster.predict_interval(fh=subset, coverage=0.8)
    _assert_index_equal(intervals.index, part.index)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=8)
@given(
    lengths=st.lists(st.integers(25, 45), min_size=2, max_size=3),
    kind=st.sampled_from(["int", "datetime", "period"]),
    fh=horizons,
)
def test_each_series_of_a_panel_is_forecast_from_its_own_end(lengths, kind, fh):
    frames = []
    for i, n in enumerate(lengths):
        # series start together and end apart
        if kind == "int":
            time = pd.Index(np.arange(n, dtype=np.int64))
        elif kind == "datetime":
            time = pd.date_range("2001-01-01", periods=n, freq="D")
        else:
            time = pd.period_range("2001-01", periods=n, freq="M")
        series = _series(time, seed=i)
        index = pd.MultiIndex.from_arrays([[f"s{i}"] * n, time], names=["id", "t"])
        frames.append(pd.DataFrame({"y": series.to_numpy()}, index=index))
    y = pd.concat(frames)
    forecaster = GRUForecaster(**TINY).fit(y, fh=fh)
    forecast = forecaster.predict()
    for i, frame in enumerate(frames):
        own_end = frame.index.get_level_values("t")[[-1]]
        if kind == "datetime":
            own_end = pd.DatetimeIndex(own_end, freq="D")
        expected = ForecastingHorizon(fh).to_absolute_index(own_end)
        actual = forecast.loc[f"s{i}"].index
        pd.testing.assert_index_equal(actual, expected, exact=False, check_names=False)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def series_lists(draw):
    n_channels = draw(st.integers(1, 3))
    shapes = st.tuples(st.integers(1, 30), st.just(n_channels))
    count = draw(st.integers(1, 4))
    out = []
    for _ in range(count):
        values = draw(arrays(np.float64, shapes, elements=finite))
        if draw(st.booleans()):
            values[:] = values[0]  # constant series are scaled by their magnitude
        out.append(values)
    return out


@given(
    series=series_lists(),
    method=st.sampled_from(["standard", "robust", None]),
    scale=st.sampled_from([1.0, 1e-9, 1e9]),
)
def test_series_scaler_inverts_its_transform(series, method, scale):
    series = [s * scale for s in series]
    scaler = SeriesScaler(method).fit(series)
    for i, values in enumerate(series):
        scaled = scaler.transform(values, i)
        assert np.isfinite(scaled).all()
        back = scaler.inverse_transform(scaled, i)
        magnitude = np.abs(values).max(initial=0.0)
        np.testing.assert_allclose(back, values, rtol=1e-9, atol=1e-12 * magnitude)
        # a slice of channels round-trips on its own
        tail = slice(1, None)
        partial = scaler.inverse_transform(
            scaler.transform(values[:, tail], i, tail), i, tail
        )
        np.testing.assert_allclose(
            partial, values[:, tail], rtol=1e-9, atol=1e-12 * magnitude
        )
    # several series at once, by an index array
    if len({len(s) for s in series}) == 1:
        stacked = np.stack([scaler.transform(s, i) for i, s in enumerate(series)])
        back = scaler.inverse_transform(stacked, np.arange(len(series)))
        largest = max(np.abs(s).max(initial=0.0) for s in series)
        np.testing.assert_allclose(
            back, np.stack(series), rtol=1e-9, atol=1e-12 * largest
        )


@given(
    data=st.data(),
    batch=st.integers(1, 4),
    window=st.integers(2, 12),
    horizon=st.integers(1, 5),
    n_targets=st.integers(1, 3),
    n_covariates=st.integers(0, 2),
    normalize=st.booleans(),
    baseline=st.sampled_from(["last", "seasonal", None]),
    scale=st.sampled_from([1.0, 1e-6, 1e6]),
)
def test_window_transform_inverts_targets_and_passes_covariates(
    data, batch, window, horizon, n_targets, n_covariates, normalize, baseline, scale
):
    period = data.draw(st.integers(1, window), label="seasonal_period")
    transform = WindowTransform(
        normalize=normalize,
        baseline=baseline,
        seasonal_period=period if baseline == "seasonal" else None,
        horizon=horizon,
        n_targets=n_targets,
    )
    channels = n_targets + n_covariates
    x = data.draw(arrays(np.float64, (batch, window, channels), elements=finite))
    future = data.draw(arrays(np.float64, (batch, horizon, n_targets), elements=finite))
    x, future = torch.from_numpy(x * scale), torch.from_numpy(future * scale)
    inputs, context = transform.inputs(x)
    assert inputs.shape == x.shape
    assert torch.isfinite(inputs).all()
    # covariates pass through unchanged
    torch.testing.assert_close(inputs[..., n_targets:], x[..., n_targets:])
    # what the network learns maps back to the future values exactly
    targets = transform.targets(future, context)
    assert torch.isfinite(targets).all()
    back = transform.invert(targets, context)
    magnitude = float(torch.cat([x.abs().flatten(), future.abs().flatten()]).max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.testing.assert_close(
            back, future, rtol=1e-9, atol=max(1e-9 * magnitude, 1e-12)
        )
    # a window normalised by its own level and spread is centred
    if normalize:
        level = inputs[..., :n_targets].mean(dim=1)
        spread = x[..., :n_targets].std(dim=1, unbiased=False)
        wide = spread > 1e-3 * x[..., :n_targets].abs().amax(dim=1) + 1e-6
        assume(bool(wide.any()))
        assert torch.allclose(level[wide], torch.zeros_like(level[wide]), atol=1e-6)
