"""Write the reference model files that ``tests/test_reference_models.py`` loads.

Each case fits a small estimator, saves it with :func:`gatedforecast.save_model` as
``<case>.gfm`` and stores what it predicted in ``<case>.npz``. The files are
committed: every later version of the package must load them and predict the same
values. Run this only to add a case (never to refresh an existing one)::

    python tests/reference_models/make_reference_models.py [case ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
SMALL = {"hidden_sizes": 8, "max_epochs": 3, "batch_size": 16, "device": "cpu"}
REGRESSOR = {"hidden_sizes": 4, "max_epochs": 2, "batch_size": 16, "device": "cpu"}
COVERAGE = [0.5, 0.9]


def airline() -> pd.Series:
    from sktime.datasets import load_airline

    return load_airline()


def panel() -> pd.DataFrame:
    frames = []
    for i, n in enumerate((40, 46, 43)):
        time = pd.date_range("2001-01-01", periods=n, freq="D")
        values = 5 * (i + 1) + np.sin(np.arange(n) / 2) + 0.1 * np.arange(n)
        index = pd.MultiIndex.from_arrays([[f"s{i}"] * n, time], names=["id", "t"])
        frames.append(pd.DataFrame({"v": values}, index=index))
    return pd.concat(frames)


def with_x(n: int = 60):
    index = pd.date_range("2020-01-06", periods=n + 4, freq="W-MON")
    X = pd.DataFrame(
        {"price": np.linspace(1, 2, n + 4), "promo": (np.arange(n + 4) % 4 == 0) * 1.0},
        index=index,
    )
    y = pd.DataFrame({"sales": 3 * X["price"] + np.sin(np.arange(n + 4))}, index=index)
    return y.iloc[:n], X.iloc[:n], X.iloc[n:]


def forecast(frame: pd.DataFrame) -> dict:
    """A forecast's values and its time points (as text)."""
    return {
        "predict": frame.to_numpy(),
        "index": np.array(frame.index.map(str), dtype=str),
    }


def gru_forecaster():
    from gatedforecast import GRUForecaster

    f = GRUForecaster(**SMALL, random_state=0).fit(airline(), fh=[1, 2, 3, 4])
    return f, {
        **forecast(f.predict()),
        "interval": f.predict_interval(coverage=COVERAGE).to_numpy(),
    }


def lstm_forecaster():
    from gatedforecast import LSTMForecaster

    f = LSTMForecaster(**SMALL, window_length=12, strategy="recursive", random_state=1)
    f.fit(airline(), fh=[1, 2, 3])
    return f, forecast(f.predict())


def panel_forecaster():
    from gatedforecast import GRUForecaster

    f = GRUForecaster(**SMALL, window_length=6, random_state=2).fit(panel(), fh=[1, 2])
    return f, {
        **forecast(f.predict()),
        "interval": f.predict_interval(coverage=0.8).to_numpy(),
    }


def quantile_forecaster():
    from gatedforecast import LSTMForecaster

    f = LSTMForecaster(
        **SMALL, window_length=12, interval_method="quantile", random_state=3
    ).fit(airline(), fh=[1, 2, 3])
    return f, {
        **forecast(f.predict()),
        "interval": f.predict_interval(coverage=COVERAGE).to_numpy(),
    }


def exogenous_forecaster():
    from gatedforecast import GRUForecaster

    y, X, X_future = with_x()
    f = GRUForecaster(**SMALL, window_length=8, random_state=4).fit(y, X=X, fh=[1, 2])
    return f, forecast(f.predict(X=X_future))


def regressor_inputs() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(40, 6, 2))


def gru_regressor():
    from gatedforecast import GRURegressor

    X = regressor_inputs()
    y = X[:, :, 0].sum(axis=1)
    r = GRURegressor(**REGRESSOR, random_state=5).fit(X, y)
    return r, {"predict": r.predict(X)}


def lstm_regressor():
    from gatedforecast import LSTMRegressor

    X = regressor_inputs().reshape(40, -1)
    y = np.stack([X.sum(axis=1), X[:, 0]], axis=1)
    r = LSTMRegressor(**REGRESSOR, n_features=2, random_state=6).fit(X, y)
    return r, {"predict": r.predict(X)}


CASES = {
    "gru_forecaster": gru_forecaster,
    "lstm_forecaster": lstm_forecaster,
    "panel_forecaster": panel_forecaster,
    "quantile_forecaster": quantile_forecaster,
    "exogenous_forecaster": exogenous_forecaster,
    "gru_regressor": gru_regressor,
    "lstm_regressor": lstm_regressor,
}


def main(names: list[str]) -> None:
    from gatedforecast import save_model

    torch.set_num_threads(1)
    for name in names or CASES:
        estimator, expected = CASES[name]()
        save_model(estimator, HERE / f"{name}.gfm")
        np.savez(HERE / f"{name}.npz", **expected)
        print(f"wrote {name}.gfm and {name}.npz")


if __name__ == "__main__":
    main(sys.argv[1:])
