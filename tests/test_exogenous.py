"""Future-known exogenous covariates: in the input window and at the forecast steps."""

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from gatedforecast import GRUForecaster, LSTMForecaster


def _driven_by_x(n=300, seed=0):
    """A target that is a function of the covariate at the same step, nothing else."""
    rng = np.random.default_rng(seed)
    index = pd.period_range("2000-01-01", periods=n, freq="D")
    x = pd.DataFrame({"price": rng.normal(size=n)}, index=index)
    y = pd.Series(5.0 + 2.0 * x["price"].to_numpy(), index=index, name="sales")
    return y, x


@pytest.mark.parametrize(
    "strategy", [pytest.param("direct", marks=pytest.mark.slow), "recursive"]
)
def test_a_target_driven_only_by_x_is_learned(strategy):
    y, X = _driven_by_x()
    y_train, y_test = y.iloc[:-10], y.iloc[-10:]
    params = dict(
        window_length=8,
        hidden_sizes=16,
        max_epochs=40,
        learning_rate=5e-3,
        strategy=strategy,
        scaler="standard",
        baseline=None,
        device="cpu",
        random_state=0,
    )
    fh = np.arange(1, 11)
    with_x = GRUForecaster(**params).fit(y_train, X=X.iloc[:-10], fh=fh)
    without_x = GRUForecaster(**params).fit(y_train, fh=fh)
    error_with = np.abs(with_x.predict(X=X.iloc[-10:]).to_numpy() - y_test).mean()
    error_without = np.abs(without_x.predict().to_numpy() - y_test).mean()
    assert error_with < error_without / 4


def test_x_used_in_fit_is_required_in_predict_and_must_cover_the_horizon():
    y, X = _driven_by_x(80)
    forecaster = LSTMForecaster(**FAST, window_length=6, random_state=0)
    forecaster.fit(y.iloc[:-5], X=X.iloc[:-5], fh=[1, 3])
    with pytest.raises(ValueError, match="fitted with exogenous X, so predict needs X"):
        forecaster.predict()
    # fh=[1, 3] needs X at steps 1, 2 and 3: step 2 is missing
    gap = X.iloc[-5:].drop(X.index[-4])
    with pytest.raises(
        ValueError, match=r"does not cover the forecast horizon.*2000-03-17"
    ):
        forecaster.predict(X=gap)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['price'\]"):
        forecaster.predict(X=X.iloc[-5:].rename(columns={"price": "cost"}))
    nan = X.iloc[-5:].copy()
    nan.iloc[0, 0] = np.nan
    # missing values are allowed in y (capability:missing_values), not in X
    with pytest.raises(ValueError, match=r"missing \(NaN\) ones, at.*2000-03-16"):
        forecaster.predict(X=nan)
    y_pred = forecaster.predict(X=X.iloc[-5:])
    assert list(y_pred.index) == list(y.index[[-5, -3]])


def test_x_is_unchanged_and_longer_x_is_fine():
    y, X = _driven_by_x(80)
    original = X.copy()
    forecaster = GRUForecaster(**FAST, window_length=6, random_state=0)
    forecaster.fit(y.iloc[:-5], X=X.iloc[:-5], fh=[1, 2])
    forecaster.predict(X=X)
    pd.testing.assert_frame_equal(X, original)


def test_update_with_x_moves_the_context_on():
    y, X = _driven_by_x(80)
    forecaster = GRUForecaster(**FAST, window_length=6, random_state=0)
    forecaster.fit(y.iloc[:-10], X=X.iloc[:-10], fh=[1])
    with pytest.raises(ValueError, match="update needs X"):
        forecaster.update(y.iloc[-10:-5], update_params=False)
    forecaster.update(y.iloc[-10:-5], X=X.iloc[-10:-5], update_params=True)
    y_pred = forecaster.predict(X=X.iloc[-5:])
    assert y_pred.index[0] == y.index[-5]


def test_panel_with_x_forecasts_every_series():
    frames_y, frames_x = [], []
    for i in range(3):
        y, X = _driven_by_x(60, seed=i)
        frames_y.append(pd.concat({f"s{i}": y.to_frame()}, names=["id", "time"]))
        frames_x.append(pd.concat({f"s{i}": X}, names=["id", "time"]))
    y, X = pd.concat(frames_y), pd.concat(frames_x)
    train = y.index.get_level_values("time") < y.index.get_level_values("time")[-5]
    forecaster = GRUForecaster(**FAST, window_length=6, strategy="recursive")
    forecaster.fit(y[train], X=X[train], fh=[1, 2, 3])
    y_pred = forecaster.predict(X=X[~train])
    assert len(y_pred) == 9
    assert np.isfinite(y_pred.to_numpy()).all()
