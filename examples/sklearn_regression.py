"""Tune a GRU regressor on the airline series with scikit-learn's grid search.

The monthly airline passenger counts are log-transformed and differenced, so each
value is the growth over the month before. ``make_windows`` cuts that series into
samples: the growth of the last 24 months (``X``) and of the next month (``y``).
The last 24 samples are held out as a test set. A ``Pipeline`` standardises the
windows for a ``GRURegressor``, and ``GridSearchCV`` with ``TimeSeriesSplit`` picks
the network size and the learning rate on the earlier samples only, each
validation fold lying after its training fold.

Run it with ``python examples/sklearn_regression.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import mean_absolute_percentage_error
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sktime.datasets import load_airline

from gatedforecast import GRURegressor, make_windows

WINDOW = 24
N_TEST = 24


def main() -> None:
    # networks this small train faster on one CPU thread than on several
    torch.set_num_threads(1)
    passengers = load_airline().to_numpy()
    growth = np.diff(np.log(passengers))
    X, y = make_windows(growth, window_length=WINDOW)
    X_train, y_train, X_test = X[:-N_TEST], y[:-N_TEST], X[-N_TEST:]

    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("gru", GRURegressor(max_epochs=40, device="cpu", random_state=0)),
        ]
    )
    grid = {"gru__hidden_sizes": [8, 16], "gru__learning_rate": [3e-3, 1e-2]}
    search = GridSearchCV(
        pipeline,
        grid,
        cv=TimeSeriesSplit(n_splits=3),
        scoring="neg_mean_absolute_error",
    )
    search.fit(X_train, y_train)
    print(f"best parameters: {search.best_params_}")
    print(f"cross-validated MAE of the growth: {-search.best_score_:.4f}")

    # one-step-ahead forecasts of the passenger counts in the test months
    previous = passengers[-N_TEST - 1 : -1]
    actual = passengers[-N_TEST:]
    forecast = previous * np.exp(search.predict(X_test))
    same_month_last_year = passengers[-N_TEST - 12 : -12]
    print("test MAPE of the one-step-ahead forecasts of the last 24 months:")
    for name, values in [
        ("GRU", forecast),
        ("naive (last month)", previous),
        ("seasonal naive (a year earlier)", same_month_last_year),
    ]:
        print(f"  {name:32s} {mean_absolute_percentage_error(actual, values):.2%}")


if __name__ == "__main__":
    main()
