"""Reliability of time: update never moves the cutoff back, revised values are used,
integer indexes count steps one by one, series ids are never dropped, and the
messages about steps, time indexes and divergence say what is meant."""

from __future__ import annotations

import copy
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST
from sktime.forecasting.base import ForecastingHorizon
from sktime.forecasting.model_selection import ForecastingGridSearchCV
from sktime.split import ExpandingWindowSplitter

from gatedforecast import GRUForecaster, GRURegressor, LSTMForecaster

PARAMS = {**FAST, "window_length": 6, "random_state": 0}


def _monthly(n=60, start="2000-01"):
    index = pd.period_range(start, periods=n, freq="M")
    t = np.arange(n)
    return pd.Series(20 + 5 * np.sin(t / 3) + 0.1 * t, index=index, name="y")


def _panel(**series) -> pd.DataFrame:
    frame = pd.concat(series, names=["id", "time"]).to_frame("y")
    return frame


def _state(forecaster):
    """What an update may change: cutoff, weights, and through the stored
    context and ends, the forecasts (values and time points)."""
    return (
        forecaster.cutoff.copy(),
        forecaster.predict(fh=[1, 2]),
        copy.deepcopy(forecaster.network_.state_dict()),
    )


def _assert_same_state(forecaster, state):
    cutoff, forecasts, weights = state
    assert forecaster.cutoff.equals(cutoff)
    pd.testing.assert_frame_equal(
        pd.DataFrame(forecaster.predict(fh=[1, 2])), pd.DataFrame(forecasts)
    )
    for name, value in forecaster.network_.state_dict().items():
        assert torch.equal(value, weights[name])


# ------------------------------------------------------- 3: the cutoff never moves back
def test_update_with_data_that_end_before_the_cutoff_keeps_the_cutoff():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(y[:48], fh=[1, 2])
    before = forecaster.predict()
    forecaster.update(y[30:40], update_params=False)
    assert forecaster.cutoff[0] == y.index[47]
    # the values were already known: nothing the forecaster keeps changed
    pd.testing.assert_series_equal(forecaster.predict(), before)
    assert list(forecaster.predict().index) == list(y.index[48:50])


def test_a_lagging_panel_series_updated_does_not_move_the_cutoff_back():
    y = _monthly()
    panel = _panel(A=y[:48], B=y[:42])  # A ends 2003-12, B 2003-06
    forecaster = GRUForecaster(**PARAMS).fit(panel, fh=[1])
    forecaster.update(_panel(B=y[42:45]), update_params=False)  # B through 2003-09
    assert str(forecaster.cutoff[0]) == "2003-12"
    # 2003-11 and 2003-12 are in-sample for A: its one-step forecasts from the
    # windows before them, never A's roll-out end; B's are steps 2..4 after its end
    fh = ForecastingHorizon(
        pd.period_range("2003-11", periods=3, freq="M"), is_relative=False
    )
    both = forecaster.predict(fh=fh)
    pd.testing.assert_frame_equal(
        both.loc[["A"]].iloc[:2], forecaster.predict(fh=[-1, 0]).loc[["A"]]
    )
    pd.testing.assert_frame_equal(
        both.loc[["A"]].iloc[2:], forecaster.predict(fh=[1]).loc[["A"]]
    )
    pd.testing.assert_frame_equal(
        both.loc[["B"]], forecaster.predict(fh=[2, 3, 4]).loc[["B"]]
    )
    assert both.notna().all().all()
    y_pred = forecaster.predict(fh=[1])
    assert [(k, str(t)) for k, t in y_pred.index] == [
        ("A", "2004-01"),
        ("B", "2003-10"),
    ]


def test_steps_at_or_before_a_series_end_are_in_sample_even_if_the_cutoff_lags():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(_panel(A=y[:48], B=y[:42]), fh=[1])
    in_sample = forecaster.predict(fh=[-1, 0]).loc[["A"]]
    ahead = forecaster.predict(fh=[1]).loc[["A"]]
    # the mechanism that once moved the cutoff back is not the only way to get
    # there: predict counts steps from each series' own end, so a step <= 0 of
    # A is in-sample, never an index into the roll-out from its end
    forecaster._cutoff = pd.PeriodIndex([y.index[44]], freq="M")
    fh = ForecastingHorizon(
        pd.period_range("2003-11", periods=3, freq="M"), is_relative=False
    )
    y_pred = forecaster.predict(fh=fh).loc[["A"]]
    pd.testing.assert_frame_equal(y_pred, pd.concat([in_sample, ahead]))


def test_global_model_false_keeps_the_cutoff_of_the_panel_too():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS, global_model=False)
    forecaster.fit(_panel(A=y[:48], B=y[:42]), fh=[1])
    # sktime updates the per-series forecasters only with every series present
    forecaster.update(_panel(A=y[40:44], B=y[42:45]), update_params=False)
    assert str(forecaster.cutoff[0]) == "2003-12"
    y_pred = forecaster.predict()
    assert [(k, str(t)) for k, t in y_pred.index] == [
        ("A", "2004-01"),
        ("B", "2003-10"),
    ]


# ------------------------------------------------------------ 4: revised values count
def test_revised_values_in_an_overlapping_update_replace_the_stored_ones():
    y = _monthly()
    revised = y.copy()
    revised.iloc[40:48] += 100
    clean = GRUForecaster(**PARAMS).fit(y[:48], fh=[1, 2])
    clean.update(y[40:52], update_params=False)
    forecaster = GRUForecaster(**PARAMS).fit(y[:48], fh=[1, 2])
    forecaster.update(revised[40:52], update_params=False)
    assert forecaster.cutoff[0] == y.index[51]
    assert not np.allclose(forecaster.predict(), clean.predict())
    # the same network whose context is the revised series from the start
    pretrained = LSTMForecaster(**PARAMS).pretrain(_panel(A=y, B=2 * y), fh=[1, 2])
    updated = copy.deepcopy(pretrained).fit(y[:48])
    updated.update(revised[40:52], update_params=False)
    scratch = copy.deepcopy(pretrained).fit(revised[:52])
    np.testing.assert_allclose(
        updated.predict(fh=[1, 2]), scratch.predict(fh=[1, 2]), rtol=1e-5
    )
    assert not np.allclose(
        updated.predict(fh=[1, 2]),
        copy.deepcopy(pretrained).fit(y[:52]).predict(fh=[1, 2]),
    )


def test_revisions_alone_change_the_forecast_and_keep_the_cutoff():
    y = _monthly()
    forecaster = GRUForecaster(**PARAMS).fit(y[:48], fh=[1])
    before = forecaster.predict()
    forecaster.update(y[45:48] * 3, update_params=True)
    assert forecaster.cutoff[0] == y.index[47]
    assert forecaster.n_epochs_ == FAST["max_epochs"]  # no new window: no training
    assert forecaster.predict().index.equals(before.index)
    assert not np.allclose(forecaster.predict(), before)


def test_a_revision_between_time_points_is_refused_and_changes_nothing():
    y = _monthly()
    y.index = pd.date_range("2000-01-01", periods=len(y), freq="MS")
    forecaster = GRUForecaster(**PARAMS).fit(y[:48], fh=[1])
    state, before = _state(forecaster), forecaster.predict()
    stray = pd.Series([5.0], index=[y.index[46] + pd.Timedelta(days=3)], name="y")
    bad = pd.concat([y[44:47], stray, y[47:52]])
    with pytest.raises(ValueError, match=r"\['2003-11-04.*not time points of"):
        forecaster.update(bad, update_params=True)
    _assert_same_state(forecaster, state)
    pd.testing.assert_series_equal(forecaster.predict(), before)


def test_revised_covariates_replace_the_stored_ones():
    y = _monthly()
    X = pd.DataFrame({"x": np.cos(np.arange(60) / 4)}, index=y.index)
    fitted = GRUForecaster(**PARAMS).fit(y[:48], X=X[:48], fh=[1])
    revised_x = X.copy()
    revised_x.iloc[44:48] += 5
    a = copy.deepcopy(fitted).update(y[44:50], X=X[44:50], update_params=False)
    b = copy.deepcopy(fitted).update(y[44:50], X=revised_x[44:50], update_params=False)
    assert not np.allclose(a.predict(X=X[50:51]), b.predict(X=X[50:51]))


# ------------------------------------------- 5: integer time counts steps one by one
@pytest.mark.parametrize(
    ("index", "gap"),
    [
        (np.r_[np.arange(20), np.arange(30, 50)], "19 is followed by 30"),
        (np.arange(0, 80, 2), "0 is followed by 2"),
        (pd.RangeIndex(0, 120, 3), "0 is followed by 3"),
    ],
    ids=["gap", "step-2", "range-step-3"],
)
def test_an_integer_index_with_gaps_is_refused_naming_the_first(index, gap):
    y = pd.Series(np.sin(np.arange(len(index)) / 3), index=index)
    original = y.copy()
    with pytest.raises(ValueError, match=rf"integer time index with a gap: {gap}"):
        GRUForecaster(**PARAMS).fit(y, fh=[1])
    pd.testing.assert_series_equal(y, original)


def test_an_integer_index_with_gaps_is_refused_in_a_panel_and_in_pretrain():
    good = pd.Series(np.sin(np.arange(40) / 3))
    gappy = pd.Series(np.sin(np.arange(40) / 3), index=np.arange(0, 80, 2))
    panel = _panel(a=good, b=gappy)
    with pytest.raises(ValueError, match=r"y\['b'\] has an integer time index"):
        GRUForecaster(**PARAMS).fit(panel, fh=[1])
    with pytest.raises(ValueError, match=r"y\['b'\] has an integer time index"):
        GRUForecaster(**PARAMS).pretrain(panel, fh=[1])


def test_a_consecutive_integer_index_predicts_and_updates_the_next_integers():
    y = pd.Series(np.sin(np.arange(50) / 3), index=np.arange(100, 150))
    forecaster = GRUForecaster(**PARAMS).fit(y[:40], fh=[1, 2])
    assert list(forecaster.predict().index) == [140, 141]
    forecaster.update(y[40:], update_params=False)
    assert list(forecaster.predict().index) == [150, 151]
    with pytest.raises(ValueError, match=r"gap after .*no values at \['150'"):
        forecaster.update(pd.Series([1.0, 2.0], index=[152, 153]))


# ------------------------------------------------------- 6: a NaN series id is refused
def test_a_panel_series_whose_id_is_nan_is_refused_naming_the_level():
    y = _monthly()
    panel = _panel(A=y[:48], B=y[:42])
    ids = panel.index.get_level_values("id").map({"A": "A", "B": np.nan})
    panel.index = pd.MultiIndex.from_arrays(
        [ids, panel.index.get_level_values("time")], names=["id", "time"]
    )
    with pytest.raises(
        ValueError,
        match=r"42 row\(s\) whose series id in index "
        r"level 'id' is missing \(NaN\)",
    ):
        GRUForecaster(**PARAMS).fit(panel, fh=[1])


def test_a_nan_series_id_in_x_or_in_update_is_refused():
    y = _monthly()
    panel = _panel(A=y[:48], B=y[:48])
    X = panel.rename(columns={"y": "x"})
    forecaster = GRUForecaster(**PARAMS).fit(panel, X=X, fh=[1])
    nan_ids = pd.MultiIndex.from_arrays(
        [["A"] * 3 + [np.nan] * 3, y.index[48:51].append(y.index[48:51])],
        names=["id", "time"],
    )
    new_y = pd.DataFrame({"y": np.arange(6.0)}, index=nan_ids)
    with pytest.raises(ValueError, match="series id in index level 'id' is missing"):
        forecaster.update(new_y, X=new_y.rename(columns={"y": "x"}))
    bad_x = X.copy()
    bad_x.index = pd.MultiIndex.from_arrays(
        [
            bad_x.index.get_level_values("id").map({"A": "A", "B": np.nan}),
            bad_x.index.get_level_values("time"),
        ],
        names=["id", "time"],
    )
    with pytest.raises(ValueError, match=r"^X has 48 row\(s\) whose series id"):
        GRUForecaster(**PARAMS).fit(panel, X=bad_x, fh=[1])


# ------------------------------------------------------- 15: messages that say it right
def test_a_regressor_fitted_on_3d_names_steps_when_their_number_differs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5, 2))
    regressor = GRURegressor(hidden_sizes=4, max_epochs=2, device="cpu").fit(
        X, X.sum(axis=(1, 2))
    )
    with pytest.raises(
        ValueError,
        match=r"X has 7 steps per sequence \(shape \(4, 7, 2\)\), but the regressor "
        r"was fitted on sequences of 5 steps\. Pass X of shape \(n_samples, 5, 2\)",
    ):
        regressor.predict(rng.normal(size=(4, 7, 2)))
    # a nested list is read the same way
    with pytest.raises(ValueError, match="7 steps per sequence"):
        regressor.predict(rng.normal(size=(4, 7, 2)).tolist())
    with pytest.raises(ValueError, match="3 features per step"):
        regressor.predict(rng.normal(size=(4, 5, 3)))


def test_a_timedelta_index_is_refused_at_fit():
    y = pd.Series(np.sin(np.arange(40) / 3), index=pd.timedelta_range("1D", periods=40))
    forecaster = GRUForecaster(**PARAMS)
    with pytest.raises(ValueError, match="has a TimedeltaIndex.*DatetimeIndex"):
        forecaster.fit(y, fh=[1])
    assert not forecaster.is_fitted


def test_a_constant_series_near_the_float_limit_forecasts_its_value():
    # it used to overflow while scaling and then advise scaler='window', already set
    y = pd.Series(
        np.full(30, 1.7e308), index=pd.period_range("2000-01", periods=30, freq="M")
    )
    y_pred = GRUForecaster(**PARAMS).fit(y, fh=[1]).predict()
    np.testing.assert_allclose(y_pred.to_numpy(), [1.7e308])


@pytest.mark.parametrize(
    ("normalize", "method", "expected"),
    [
        (True, "standard", "already scaled, scaler='window'"),
        (False, "robust", "already scaled, scaler='robust'"),
        (False, None, "scale the data (scaler='window' or 'standard')"),
    ],
)
def test_the_divergence_hint_follows_the_scaler(normalize, method, expected):
    from gatedforecast.engine.setup import divergence_hint as _divergence_hint

    setup = SimpleNamespace(
        transform=SimpleNamespace(normalize=normalize), scaler_method=method
    )
    assert expected in _divergence_hint(setup)


# --------------------------------------------- 18: no remember_data warning from us
def test_our_forecasters_emit_no_remember_data_warning(monkeypatch):
    import sktime.forecasting.base._base as sktime_base

    # sktime warns through one function, with the object that warns: record who
    emitters = []
    sktime_warn = sktime_base.warn

    def recording_warn(message, category=None, obj=None, *args, **kwargs):
        if "remember_data" in str(message):
            emitters.append(type(obj).__name__)
            return None
        return sktime_warn(message, category, obj, *args, **kwargs)

    monkeypatch.setattr(sktime_base, "warn", recording_warn)
    y = _monthly()
    panel = _panel(A=y[:48], B=y[:48])
    quick = {**PARAMS, "max_epochs": 1, "interval_method": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LSTMForecaster(**quick).fit(y[:48], fh=[1, 2]).update(y[48:50])
        forecaster = GRUForecaster(**quick, global_model=False).fit(panel, fh=[1])
        forecaster.update(_panel(A=y[48:50], B=y[48:50]))
        forecaster.clone()
        search = ForecastingGridSearchCV(
            GRUForecaster(**quick),
            ExpandingWindowSplitter(fh=[1, 2], initial_window=44, step_length=4),
            {"hidden_sizes": [4, 5], "window_length": [4, 6]},
            backend=None,
        )
        search.fit(y[:52], fh=[1, 2])
        search.predict()
    # only sktime's own search object warns (when created and when it resets in
    # fit); the candidates of our forecasters, fold by fold, never do
    assert emitters
    assert set(emitters) == {"ForecastingGridSearchCV"}
    assert GRUForecaster().get_config()["remember_data"] is False
