"""In-sample forecasts: ``predict`` at steps at or before the cutoff.

The in-sample forecast of a point is the head's first step from the window of
``window_length`` values before it: what an out-of-sample ``fh=1`` forecast made
when the cutoff was the point before gave, with the same network. Points with no
full window before them are NaN (sktime's convention for reduction forecasters).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.persistence import load_model, save_model

WINDOW = 6
PARAMS = {**FAST, "window_length": WINDOW, "random_state": 0}
N = 48
FIRST = 30  # the cutoff of the fit; later points arrive by update


def _monthly(n=N, start="2000-01", phase=0.0):
    index = pd.period_range(start, periods=n, freq="M")
    t = np.arange(n)
    return pd.Series(20 + 5 * np.sin(t / 3 + phase) + 0.1 * t, index=index, name="y")


def _covariate(n=N + 4):
    index = pd.period_range("2000-01", periods=n, freq="M")
    return pd.DataFrame({"x": np.cos(np.arange(n) / 2)}, index=index)


def _panel(**series) -> pd.DataFrame:
    return pd.concat(series, names=["id", "time"]).to_frame("y")


def _first(y_pred) -> np.ndarray:
    """The first column of a forecast (Series or DataFrame) as an array."""
    return pd.DataFrame(y_pred).to_numpy()[:, 0]


def _forecasts_point_by_point(forecaster, y, X=None):
    """Fitted on ``y[:FIRST]``, the forecast of each later point ``t`` made with
    the cutoff at ``t - 1``: predict, then ``update`` one point without training.

    With ``X``, each forecast reads the covariates of the head's steps as far
    as the data reach (the in-sample forecasts read as many stored rows).
    """
    head = forecaster.horizon_
    expected = []
    for t in range(FIRST, len(y)):
        steps = list(range(1, min(head, len(y) - t) + 1))
        future = None if X is None else X.iloc[t : t + len(steps)]
        expected.append(_first(forecaster.predict(fh=steps, X=future))[0])
        x_new = None if X is None else X.iloc[t : t + 1]
        forecaster.update(y.iloc[t : t + 1], X=x_new, update_params=False)
    return np.array(expected)


@pytest.mark.parametrize(
    ("cls", "strategy"), [(GRUForecaster, "direct"), (LSTMForecaster, "recursive")]
)
def test_in_sample_forecast_is_the_forecast_made_at_the_previous_cutoff(cls, strategy):
    y = _monthly()
    forecaster = cls(**PARAMS, strategy=strategy).fit(y.iloc[:FIRST], fh=[1, 2, 3])
    expected = _forecasts_point_by_point(forecaster, y)
    # every point of y, oldest first: steps -(N-1) .. 0 from the cutoff
    y_pred = forecaster.predict(fh=-np.arange(N)[::-1])
    assert list(y_pred.index) == list(y.index)
    values = _first(y_pred)
    np.testing.assert_allclose(values[FIRST:], expected, rtol=1e-6)
    # no full window before the first WINDOW points: NaN, then forecasts
    assert np.isnan(values[:WINDOW]).all()
    assert np.isfinite(values[WINDOW:]).all()
    # real forecasts of the points, not copies of the values before them
    assert not np.allclose(values[WINDOW:], y.to_numpy()[WINDOW - 1 : -1])


def test_in_sample_with_covariates_reads_the_stored_rows():
    y, X = _monthly(), _covariate()
    forecaster = GRUForecaster(**PARAMS).fit(
        y.iloc[:FIRST], X=X.iloc[:FIRST], fh=[1, 2, 3]
    )
    expected = _forecasts_point_by_point(forecaster, y, X)
    # no X for in-sample steps: they read the X stored in fit and update
    y_pred = forecaster.predict(fh=-np.arange(N - FIRST)[::-1])
    np.testing.assert_allclose(_first(y_pred), expected, rtol=1e-6)
    # a mixed fh needs X for its steps after the cutoff only
    mixed = forecaster.predict(fh=[-2, 0, 1, 2], X=X.iloc[N:])
    ahead = forecaster.predict(fh=[1, 2], X=X.iloc[N:])
    pd.testing.assert_series_equal(mixed.iloc[2:], ahead)
    np.testing.assert_allclose(_first(mixed)[:2], expected[[-3, -1]], rtol=1e-6)
    with pytest.raises(ValueError, match="predict needs X"):
        forecaster.predict(fh=[0, 1])


def test_mixed_fh_joins_in_sample_and_out_of_sample_forecasts():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2, 3])
    ahead = forecaster.predict(fh=[1, 3])
    past = forecaster.predict(fh=[-40, -3, 0])
    mixed = forecaster.predict(fh=[-40, -3, 0, 1, 3])
    assert list(mixed.index) == list(y.index[[7, 44, 47]]) + list(ahead.index)
    # the forecasts after the cutoff are those of an out-of-sample fh, bit for bit
    pd.testing.assert_series_equal(mixed.iloc[3:], ahead, check_exact=True)
    pd.testing.assert_series_equal(mixed.iloc[:3], past)
    # an in-sample fh in fit works too, and predict() then uses it
    fitted = GRUForecaster(**PARAMS).fit(y, fh=[-3, 0, 2])
    assert list(fitted.predict().index) == list(y.index[[44, 47]]) + [y.index[-1] + 2]


def test_predict_residuals_on_the_training_series():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2])
    residuals = forecaster.predict_residuals(y)
    assert list(residuals.index) == list(y.index)
    in_sample = forecaster.predict(fh=-np.arange(N)[::-1])
    np.testing.assert_allclose(
        residuals.to_numpy(), y.to_numpy() - in_sample.to_numpy()
    )
    assert residuals.iloc[:WINDOW].isna().all()
    assert residuals.iloc[WINDOW:].notna().all()


def test_panel_in_sample_per_series_from_its_own_end():
    y = _monthly(60)
    panel = _panel(A=y.iloc[:40], B=_monthly(60, phase=1.0).iloc[:32])
    forecaster = GRUForecaster(**PARAMS).fit(panel, fh=[1, 2])
    # the next point of each series, forecast before it is known ...
    ahead = forecaster.predict(fh=[1])
    later = _panel(A=y.iloc[40:41], B=_monthly(60, phase=1.0).iloc[32:33])
    forecaster.update(later, update_params=False)
    # ... is its in-sample forecast once known
    np.testing.assert_allclose(
        forecaster.predict(fh=[0]).to_numpy(), ahead.to_numpy(), rtol=1e-6
    )
    # every step back to A's start: B (shorter) has no points before its own
    # start, and no window before its first WINDOW points
    y_pred = forecaster.predict(fh=-np.arange(41)[::-1])
    a, b = y_pred.loc["A"].iloc[:, 0], y_pred.loc["B"].iloc[:, 0]
    assert len(a) == len(b) == 41
    assert a.iloc[:WINDOW].isna().all()
    assert a.iloc[WINDOW:].notna().all()
    # B is 33 points long: its first 8 steps lie before its start
    assert b.iloc[: 8 + WINDOW].isna().all()
    assert b.iloc[8 + WINDOW :].notna().all()
    residuals = forecaster.predict_residuals(panel)
    assert residuals.index.equals(panel.index)
    np.testing.assert_allclose(
        _first(residuals.loc["A"]), panel.loc["A"]["y"].to_numpy() - a.to_numpy()[:40]
    )
    np.testing.assert_allclose(
        _first(residuals.loc["B"]), panel.loc["B"]["y"].to_numpy() - b.to_numpy()[8:40]
    )


def test_local_models_forecast_in_sample_as_single_series_fits():
    a, b = _monthly(40), _monthly(36, phase=1.0)
    local = GRUForecaster(**PARAMS, global_model=False).fit(_panel(A=a, B=b), fh=[1, 2])
    y_pred = local.predict(fh=[-20, -1, 0, 1])
    residuals = local.predict_residuals(_panel(A=a, B=b))
    for key, series in (("A", a), ("B", b)):
        single = GRUForecaster(**PARAMS).fit(series, fh=[1, 2])
        expected = single.predict(fh=[-20, -1, 0, 1]).to_numpy()
        np.testing.assert_array_equal(_first(y_pred.loc[key]), expected)
        np.testing.assert_array_equal(
            _first(residuals.loc[key]), single.predict_residuals(series).to_numpy()
        )


def test_multivariate_in_sample():
    y = pd.DataFrame({"u": _monthly(), "v": _monthly(phase=2.0) * 2})
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2])
    y_pred = forecaster.predict(fh=-np.arange(N)[::-1])
    assert list(y_pred.columns) == ["u", "v"]
    assert y_pred.iloc[:WINDOW].isna().all().all()
    assert y_pred.iloc[WINDOW:].notna().all().all()
    residuals = forecaster.predict_residuals(y)
    pd.testing.assert_frame_equal(residuals, y - y_pred)


def test_update_revises_the_stored_values_in_sample_forecasts_read():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2])
    before = forecaster.predict(fh=[-30])
    # point 17 lies in the window before point 18 (step -29), not before
    # point 17 itself (step -30), and far before the window kept for fh > 0
    revised = y.iloc[[17]] + 50.0
    forecaster.update(revised, update_params=False)
    pd.testing.assert_series_equal(forecaster.predict(fh=[-30]), before)
    fresh = GRUForecaster(**PARAMS).fit(y, fh=[1, 2])
    assert not np.allclose(
        forecaster.predict(fh=[-29]).to_numpy(), fresh.predict(fh=[-29]).to_numpy()
    )


def test_a_loaded_model_refuses_in_sample_steps_clearly(tmp_path):
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2])
    path = save_model(forecaster, tmp_path / "model")
    loaded = load_model(path)
    pd.testing.assert_series_equal(loaded.predict(), forecaster.predict())
    with pytest.raises(ValueError, match=r"loaded from a model file.*Fit it again"):
        loaded.predict(fh=[-1, 1])
    # a copy keeps the whole series
    pd.testing.assert_series_equal(
        copy.deepcopy(forecaster).predict(fh=[-1]), forecaster.predict(fh=[-1])
    )


def test_in_sample_intervals_are_refused_by_the_tag():
    forecaster = GRUForecaster(**PARAMS).fit(_monthly(), fh=[1, 2])
    assert forecaster.get_tag("capability:insample") is True
    assert forecaster.get_tag("capability:pred_int:insample") is False
    with pytest.raises(NotImplementedError, match="can not perform in-sample"):
        forecaster.predict_interval(fh=[0, 1])
