"""Past-only covariates (``past_covariates``): columns of X known only up to the
cutoff, read in the input window and never at the forecast steps."""

from __future__ import annotations

import copy
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from gatedforecast import GRUForecaster, LSTMForecaster, load_model, save_model
from gatedforecast.export import forecast_path

TINY = {
    "window_length": 6,
    "hidden_sizes": 4,
    "max_epochs": 2,
    "ensemble_size": 1,
    "random_state": 0,
}
HELD = "holds them at their last observed value"


def _lagged(n=300, seed=0):
    """``y_t = 2 x_{t-1}`` plus a little noise, ``x`` i.i.d. normal."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = np.zeros(n)
    y[1:] = 2 * x[:-1]
    y += 0.05 * rng.normal(size=n)
    index = pd.period_range("2000-01-01", periods=n, freq="D")
    return pd.DataFrame({"y": y}, index=index), pd.DataFrame({"x": x}, index=index)


def _mixed(n=80, seed=1):
    """A random walk ``y`` beside a past-only ``x`` and a future-known ``z``."""
    rng = np.random.default_rng(seed)
    index = pd.period_range("2001-01-01", periods=n, freq="D")
    y = pd.DataFrame({"y": np.cumsum(rng.normal(size=n))}, index=index)
    X = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)}, index=index)
    return y, X


def _one_step_mae(past_covariates, cls=GRUForecaster):
    """MAE of one-step forecasts of the last 50 points of :func:`_lagged`, each
    from the window before it, of a network trained on the first 250."""
    y, X = _lagged()
    X = None if past_covariates is None else X
    forecaster = cls(
        window_length=8,
        hidden_sizes=16,
        max_epochs=30,
        learning_rate=1e-2,
        ensemble_size=1,
        interval_method=None,
        random_state=0,
        past_covariates=past_covariates,
    )
    forecaster.fit(y.iloc[:250], X=None if X is None else X.iloc[:250], fh=[1])
    forecaster.update(
        y.iloc[250:], X=None if X is None else X.iloc[250:], update_params=False
    )
    # in-sample steps: each point's forecast from the window before it
    forecast = forecaster.predict(fh=np.arange(-49, 1))
    return float(np.mean(np.abs(forecast["y"].to_numpy() - y["y"].to_numpy()[250:])))


def test_a_target_driven_by_a_lagged_past_only_covariate_is_learned():
    with_x, without = _one_step_mae(["x"]), _one_step_mae(None)
    assert with_x < 0.5 * without, (with_x, without)


def test_predict_needs_no_X_when_every_covariate_is_past_only():
    y, X = _lagged(n=60)
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    forecaster.fit(y.iloc[:50], X=X.iloc[:50], fh=[1, 2, 3])
    expected = forecaster.predict()
    # future values of a past-only column, given or not, change nothing
    pd.testing.assert_frame_equal(forecaster.predict(X=X.iloc[50:53]), expected)
    pd.testing.assert_frame_equal(forecaster.predict(X=X.iloc[50:53] * 100), expected)
    assert forecaster.network_.n_future == 0
    assert forecaster.network_.effect is None
    assert np.isfinite(forecaster.predict_interval().to_numpy()).all()
    # the window reads x: other observed values give other forecasts
    other = copy.deepcopy(forecaster)
    other.update(y.iloc[50:52], X=X.iloc[50:52] * 0 + 3, update_params=False)
    moved = copy.deepcopy(forecaster)
    moved.update(y.iloc[50:52], X=X.iloc[50:52], update_params=False)
    assert not np.allclose(other.predict().to_numpy(), moved.predict().to_numpy())


def test_future_known_and_past_only_columns_together():
    y, X = _mixed()
    # X lists x first; the window's channels put the future-known z first
    forecaster = LSTMForecaster(past_covariates=["x"], **TINY)
    forecaster.fit(y.iloc[:70], X=X.iloc[:70], fh=[1, 2])
    setup = forecaster._engine.setup
    assert list(setup.x_columns) == ["z", "x"]
    assert list(setup.past_columns) == ["x"]
    network = forecaster.network_
    assert (network._arguments["n_inputs"], network.n_future) == (3, 1)
    assert network.effect.linear.in_features == 1
    future = X.iloc[70:72]
    expected = forecaster.predict(X=future)
    # X in predict may lack the past-only column, or hold anything in it
    pd.testing.assert_frame_equal(forecaster.predict(X=future[["z"]]), expected)
    changed = future.assign(x=[50.0, -50.0])
    pd.testing.assert_frame_equal(forecaster.predict(X=changed), expected)
    # the future-known column is read at the forecast steps, as before
    moved = forecaster.predict(X=future.assign(z=[5.0, -5.0]))
    assert not np.allclose(moved.to_numpy(), expected.to_numpy())
    with pytest.raises(ValueError, match=r"columns \['z'\]\) \(the past-only"):
        forecaster.predict()
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['z'\]"):
        forecaster.predict(X=future[["x"]])


def test_a_forecaster_without_past_covariates_reads_every_column_at_the_steps():
    y, X = _mixed()
    forecaster = GRUForecaster(**TINY).fit(y.iloc[:70], X=X.iloc[:70], fh=[1, 2])
    assert list(forecaster._engine.setup.x_columns) == ["x", "z"]
    assert forecaster._engine.setup.past_columns is None
    assert forecaster.network_.n_future == 2
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['x'\]"):
        forecaster.predict(X=X.iloc[70:72][["z"]])


@pytest.mark.parametrize(
    ("past", "with_x", "match"),
    [
        (["q", "x"], True, r"past_covariates names \['q'\], which X lacks; X has "
         r"the columns \['x', 'z'\]"),
        (["x"], False, r"past_covariates=\['x'\] names columns of X, but fit got "
         r"no X\. Pass X"),
        ("x", True, r"past_covariates must be None or a list of column labels"),
    ],
)  # fmt: skip
def test_bad_past_covariates_are_refused_in_fit(past, with_x, match):
    y, X = _mixed()
    before = X.copy()
    forecaster = GRUForecaster(past_covariates=past, **TINY)
    with pytest.raises((ValueError, TypeError), match=match):
        forecaster.fit(y, X=X if with_x else None)
    assert not forecaster.is_fitted
    pd.testing.assert_frame_equal(X, before)
    assert forecaster.past_covariates == past


def test_update_needs_the_past_only_columns_for_new_observations():
    y, X = _mixed()
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    forecaster.fit(y.iloc[:70], X=X.iloc[:70], fh=[1])
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['x'\]"):
        forecaster.update(y.iloc[70:72], X=X.iloc[70:72][["z"]])
    forecaster.update(y.iloc[70:72], X=X.iloc[70:72], update_params=False)
    assert forecaster.cutoff[0] == y.index[71]


def test_a_roll_out_beyond_the_head_holds_past_only_values_at_their_last_value():
    y, X = _mixed()
    forecaster = GRUForecaster(past_covariates=["x"], strategy="recursive", **TINY)
    forecaster.fit(y.iloc[:70], X=X.iloc[:70])
    future = X.iloc[70:73][["z"]]
    with pytest.warns(UserWarning, match=HELD) as caught:
        forecast = forecaster.predict(fh=[1, 2, 3], X=future)
    assert "strategy='direct' and horizon=3" in str(caught[0].message)
    # warned once per fitted model
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecaster.predict(fh=[1, 2, 3], X=future)
    # step 2 is step 1 of the same network once step 1's forecast is observed
    # and x stays at its last value
    stepped = copy.deepcopy(forecaster)
    held = X.iloc[70:71].assign(x=X["x"].iloc[69])
    stepped.update(forecast.iloc[:1], X=held, update_params=False)
    np.testing.assert_allclose(
        stepped.predict(fh=[1], X=future.iloc[1:2]).to_numpy(),
        forecast.iloc[1:2].to_numpy(),
        rtol=1e-5,
    )


def test_a_head_covering_fh_neither_warns_nor_holds_values():
    y, X = _mixed()
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    forecaster.fit(y.iloc[:70], X=X.iloc[:70], fh=[1, 2, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecaster.predict(X=X.iloc[70:73])
        forecaster.predict_interval(X=X.iloc[70:73])


def test_past_covariates_survive_a_model_file(tmp_path):
    y, X = _mixed()
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    forecaster.fit(y.iloc[:70], X=X.iloc[:70], fh=[1, 2])
    loaded = load_model(save_model(forecaster, tmp_path / "past.gfm"))
    assert loaded.past_covariates == ["x"]
    assert list(loaded._engine.setup.past_columns) == ["x"]
    future = X.iloc[70:72][["z"]]
    pd.testing.assert_frame_equal(
        loaded.predict(X=future), forecaster.predict(X=future)
    )


def test_a_model_file_written_before_past_covariates_loads_with_none(tmp_path):
    y, X = _mixed()
    forecaster = GRUForecaster(**TINY).fit(y.iloc[:70], X=X.iloc[:70], fh=[1])
    path = save_model(forecaster, tmp_path / "older.gfm")
    # the file as the format was before: no past_covariates, no past_columns
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    document = json.loads(members["model.json"])
    del document["params"]["past_covariates"]
    del document["state"]["setup"]["past_columns"]
    members["model.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = load_model(path)
    assert loaded.past_covariates is None
    assert loaded._engine.setup.past_columns is None
    future = X.iloc[70:71]
    pd.testing.assert_frame_equal(
        loaded.predict(X=future), forecaster.predict(X=future)
    )


def test_onnx_export_refuses_past_only_covariates():
    y, X = _mixed()
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    forecaster.fit(y.iloc[:70], X=X.iloc[:70], fh=[1])
    with pytest.raises(ValueError, match=r"past-only covariates \['x'\].*Fit without"):
        forecast_path(forecaster, horizon=1)


def test_evaluate_and_grid_search_with_past_covariates():
    from sktime.forecasting.model_evaluation import evaluate
    from sktime.forecasting.model_selection import ForecastingGridSearchCV
    from sktime.split import ExpandingWindowSplitter

    y, X = _mixed(n=60)
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    cv = ExpandingWindowSplitter(initial_window=40, step_length=8, fh=[1, 2])
    results = evaluate(forecaster, cv, y, X=X)
    assert len(results) == 3
    assert np.isfinite(results.iloc[:, 0]).all()
    search = ForecastingGridSearchCV(
        GRUForecaster(**TINY),
        cv=cv,
        param_grid={"past_covariates": [None, ["x"], ["x", "z"]]},
        backend=None,
        error_score="raise",
    )
    search.fit(y.iloc[:56], X=X.iloc[:56], fh=[1, 2])
    assert search.best_params_["past_covariates"] in (None, ["x"], ["x", "z"])
    assert search.predict(X=X.iloc[56:58]).shape == (2, 1)


def test_a_pipeline_scaling_X_passes_past_covariates_through():
    from sklearn.preprocessing import StandardScaler
    from sktime.forecasting.compose import ForecastingPipeline
    from sktime.transformations.series.adapt import TabularToSeriesAdaptor

    y, X = _mixed()
    pipeline = ForecastingPipeline(
        [
            ("scale", TabularToSeriesAdaptor(StandardScaler())),
            ("forecast", GRUForecaster(past_covariates=["x"], **TINY)),
        ]
    )
    pipeline.fit(y.iloc[:70], X=X.iloc[:70], fh=[1, 2])
    forecast = pipeline.predict(X=X.iloc[70:72])
    changed = pipeline.predict(X=X.iloc[70:72].assign(x=[9.0, -9.0]))
    pd.testing.assert_frame_equal(forecast, changed)
    assert np.isfinite(forecast.to_numpy()).all()


def test_a_network_pretrained_with_past_covariates_applies_to_a_new_series():
    y, X = _mixed(n=60)
    panel_y = pd.concat({"a": y, "b": y + 1}, names=["id", "time"])
    panel_X = pd.concat({"a": X, "b": X * 2}, names=["id", "time"])
    forecaster = GRUForecaster(past_covariates=["x"], **TINY)
    forecaster.pretrain(panel_y, X=panel_X, fh=[1, 2])
    forecaster.fit(y.iloc[:50], X=X.iloc[:50], fh=[1, 2])
    assert forecaster.n_epochs_ == 0
    assert list(forecaster._engine.setup.past_columns) == ["x"]
    forecast = forecaster.predict(X=X.iloc[50:52][["z"]])
    assert np.isfinite(forecast.to_numpy()).all()
    # the pretrained network reads one past-only channel: not two (set_params
    # would reset the pretrained state; an attribute set by hand does not)
    forecaster.past_covariates = ["x", "z"]
    with pytest.raises(ValueError, match=r"pretrained with 1 past-only X column"):
        forecaster.fit(y.iloc[:50], X=X.iloc[:50], fh=[1, 2])
