"""Fit a GRU and an LSTM forecaster on the airline data and compare their forecasts.

Holds out the last 12 months, fits both forecasters on the rest, and prints their
forecasts next to the actual values with the sMAPE of each.

Run with ``make demo`` or ``python examples/airline_demo.py``.
"""

import time

import numpy as np
import pandas as pd
from sktime.datasets import load_airline
from sktime.split import temporal_train_test_split

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.metrics import smape


def main() -> None:
    y = load_airline()
    y_train, y_test = temporal_train_test_split(y, test_size=12)
    fh = np.arange(1, 13)
    table = pd.DataFrame({"actual": y_test})
    scores = {}
    for forecaster in (
        GRUForecaster(window_length=24, random_state=0),
        LSTMForecaster(window_length=24, random_state=0),
    ):
        name = type(forecaster).__name__
        started = time.perf_counter()
        forecaster.fit(y_train, fh=fh)
        seconds = time.perf_counter() - started
        table[name] = forecaster.predict()
        scores[name] = (smape(y_test.to_numpy(), table[name].to_numpy()), seconds)
    print(table.round(1).to_string())
    print()
    for name, (score, seconds) in scores.items():
        print(f"{name:15s} sMAPE {score:5.2f} %   fit {seconds:4.1f} s")


if __name__ == "__main__":
    main()
