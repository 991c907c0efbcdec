"""Category columns read through time: one indicator channel per level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.categories import CategoryIndicators
from gatedforecast.persistence import load_model, save_model

TINY = {
    "window_length": 6,
    "hidden_sizes": 8,
    "max_epochs": 2,
    "ensemble_size": 1,
    "device": "cpu",
    "random_state": 0,
}
LIFT = {"normal": 0.0, "promotion": 3.0, "holiday": -2.0}


def _days(length=210, seed=0):
    """A daily series lifted by its day's category, and X with that category
    (and a numeric column) for ``length`` steps; y has ``length - 10``."""
    rng = np.random.default_rng(seed)
    index = pd.period_range("2024-01-01", periods=length, freq="D")
    day = pd.Categorical(rng.choice(list(LIFT), length), categories=list(LIFT))
    X = pd.DataFrame({"price": rng.normal(size=length), "day": day}, index=index)
    lift = np.array([LIFT[d] for d in day])
    y = pd.DataFrame({"sales": 10 + lift + rng.normal(0, 0.3, length)}, index=index)
    return y.iloc[:-10], X, 10 + lift[-10:]


def test_category_columns_become_indicators_in_place():
    X = pd.DataFrame(
        {
            "a": [1.0, 2.0, 3.0],
            "day": pd.Categorical(["x", "y", "x"], categories=["x", "y", "z"]),
            "kind": pd.Categorical(["p", "p", "p"]),
            "store": pd.Categorical(["s", "s", "s"]),
        }
    )
    before = X.copy()
    indicators = CategoryIndicators.of(X, static=["store"])
    assert list(indicators.columns) == ["day", "kind"]
    expanded = indicators.expand(X)
    # a declared level not seen yet gets its channel too
    assert list(expanded.columns) == ["a", "day=x", "day=y", "day=z", "kind=p", "store"]
    np.testing.assert_array_equal(
        expanded[["day=x", "day=y", "day=z"]].to_numpy(),
        [[1, 0, 0], [0, 1, 0], [1, 0, 0]],
    )
    pd.testing.assert_frame_equal(X, before)
    assert indicators.rename(["a", "day"]) == ["a", "day=x", "day=y", "day=z"]
    # text with the fit's levels reads as the category; a missing value as NaN
    text = X.assign(day=["z", None, "x"], kind="p")
    read = indicators.expand(text)
    np.testing.assert_array_equal(read.loc[0, ["day=x", "day=y", "day=z"]], [0, 0, 1])
    assert read.loc[1, ["day=x", "day=y", "day=z"]].isna().all()
    with pytest.raises(ValueError, match=r"X\['day'\] has 1 missing \(NaN\) value"):
        indicators.expand(text, observed=X.index)
    # missing where y has no time point: left to the checks of where X is read
    assert indicators.expand(text, observed=X.index[[0, 2]]).shape == (3, 6)
    with pytest.raises(ValueError, match=r"the level\(s\) \['w'\], which the network"):
        indicators.expand(X.assign(day=["w", "x", "x"]))
    with pytest.raises(
        ValueError, match=r"X lacks the category column\(s\) \['kind'\]"
    ):
        indicators.expand(X.drop(columns="kind"))
    assert CategoryIndicators.of(X[["a"]]) is None


def test_indicator_names_that_clash_with_columns_are_refused():
    X = pd.DataFrame({"day": pd.Categorical(["x", "y"]), "day=x": [0.0, 1.0]})
    with pytest.raises(ValueError, match=r"already has columns named \['day=x'\]"):
        CategoryIndicators.of(X)


@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_a_lift_set_by_the_day_category_is_learned(cls):
    y, X, truth = _days()
    settings = {**TINY, "window_length": 8, "max_epochs": 15}
    with_day = cls(**settings).fit(y, X=X[["day"]].iloc[:-10], fh=range(1, 6))
    without = cls(**settings).fit(y, fh=range(1, 6))
    error_with = np.abs(with_day.predict(X=X[["day"]].iloc[-10:])["sales"] - truth[:5])
    error_without = np.abs(without.predict()["sales"] - truth[:5])
    assert error_with.mean() < 0.5 * error_without.mean()
    assert list(with_day._x_columns) == ["day=normal", "day=promotion", "day=holiday"]


def test_predict_update_and_model_files_read_the_fit_levels(tmp_path):
    y, X, _ = _days(80)
    before = X.copy()
    forecaster = GRUForecaster(**TINY).fit(y.iloc[:60], X=X.iloc[:60], fh=[1, 2])
    future = X.iloc[60:62]
    # text holding the same levels reads as the category
    as_text = future.assign(day=future["day"].astype(str))
    expected = forecaster.predict(X=future)
    pd.testing.assert_frame_equal(forecaster.predict(X=as_text), expected)
    loaded = load_model(save_model(forecaster, tmp_path / "model.zip"))
    assert loaded._engine.setup.categories.columns.tolist() == ["day"]
    pd.testing.assert_frame_equal(loaded.predict(X=future), expected)
    broken = X.iloc[60:70].copy()
    broken.iloc[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X\['day'\] has 1 missing \(NaN\)"):
        forecaster.update(y.iloc[60:70], X=broken)
    # X may reach beyond y: a missing level there is not read
    longer = X.iloc[:61].copy()
    longer.iloc[60, 1] = np.nan
    assert GRUForecaster(**TINY).fit(y.iloc[:60], X=longer, fh=[1]).is_fitted
    forecaster.update(y.iloc[60:70], X=X.iloc[60:70])
    assert forecaster.predict(X=X.iloc[70:72]).index[0] == X.index[70]
    pd.testing.assert_frame_equal(X, before)


def test_a_past_only_category_needs_no_future_values():
    y, X, _ = _days(80)
    forecaster = GRUForecaster(past_covariates=["day"], **TINY)
    forecaster.fit(y, X=X[["day"]].iloc[:70], fh=[1, 2])
    assert forecaster._engine.setup.n_past == 3
    assert forecaster.predict().shape == (2, 1)
    both = GRUForecaster(past_covariates=["day"], **TINY)
    both.fit(y, X=X.iloc[:70], fh=[1, 2])
    # the future-known price is read; the category's future is not: missing,
    # a level never seen, or no column at all
    future = X.iloc[70:72].assign(day=pd.Categorical([None, None]))
    expected = both.predict(X=future)
    assert expected.notna().all().all()
    for unread in (future.assign(day=["rain", "snow"]), future[["price"]]):
        pd.testing.assert_frame_equal(both.predict(X=unread), expected)


def test_a_pretrained_network_keeps_its_levels():
    y, X, _ = _days(80)
    panel_y = pd.concat({"a": y, "b": y + 1}, names=["series", "time"])
    panel_X = pd.concat({"a": X.iloc[:70], "b": X.iloc[:70]}, names=["series", "time"])
    forecaster = GRUForecaster(**TINY).pretrain(panel_y, X=panel_X[["day"]], fh=[1])
    # new series whose dtype declares the levels in another order: read by value
    reordered = X[["day"]].assign(
        day=X["day"].cat.reorder_categories(["holiday", "promotion", "normal"])
    )
    forecaster.fit(y, X=reordered.iloc[:70], fh=[1])
    assert forecaster._x_columns.tolist() == [
        "day=normal",
        "day=promotion",
        "day=holiday",
    ]
    other = X[["day"]].assign(day=pd.Categorical(["rain"] * 80))
    with pytest.raises(ValueError, match=r"has the level\(s\) \['rain'\]"):
        GRUForecaster(**TINY).pretrain(panel_y, X=panel_X[["day"]], fh=[1]).fit(
            y, X=other.iloc[:70], fh=[1]
        )


def test_export_refuses_categories_through_time(tmp_path):
    y, X, _ = _days(60)
    forecaster = GRUForecaster(**TINY).fit(y, X=X[["day"]].iloc[:50], fh=[1])
    with pytest.raises(ValueError, match=r"category columns \['day'\] of X through"):
        forecaster.to_onnx(tmp_path / "model.onnx")


def test_evaluate_with_a_category():
    from sktime.forecasting.model_evaluation import evaluate
    from sktime.split import ExpandingWindowSplitter

    y, X, _ = _days(90)
    cv = ExpandingWindowSplitter(initial_window=60, step_length=10, fh=[1, 2])
    results = evaluate(GRUForecaster(**TINY), cv, y, X=X.iloc[:80])
    assert len(results) == 2
    assert np.isfinite(results.iloc[:, 0]).all()


def test_grid_search_over_how_a_category_is_read():
    from sktime.forecasting.model_selection import ForecastingGridSearchCV
    from sktime.split import SingleWindowSplitter

    y, X, _ = _days(90)
    search = ForecastingGridSearchCV(
        GRUForecaster(**TINY, interval_method=None),
        SingleWindowSplitter(fh=[1, 2], window_length=70),
        param_grid={"past_covariates": [None, ["day"]]},
    )
    search.fit(y, X=X.iloc[:80])
    assert search.best_params_["past_covariates"] in (None, ["day"])
    assert search.predict(fh=[1, 2], X=X.iloc[80:82]).notna().all().all()
