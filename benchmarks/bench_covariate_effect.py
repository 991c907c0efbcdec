"""A target that is exactly three times a future-known covariate, at the defaults.

The case of issue 14, item 0: ``y_t = 3 x_t`` with ``x`` i.i.d. normal, 400 daily
points, ``window_length=8``, ``max_epochs=60``, ``fh=1..5``, seeds 0-2; the mean
absolute error of the five forecasts with ``X`` and without it, for both cells and
both strategies. Run it on a checkout (``--no-without`` skips the fits without
``X``, which the covariate effect leaves unchanged)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_covariate_effect.py

Writes ``benchmarks/results/covariate_effect.md`` and ``.json`` (with the
machine and the load average before the run).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from machine import load_average, machine_info, machine_lines

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2)
FH = list(range(1, 6))


def case(seed: int, n: int = 400):
    """Training y and X, and the five values of each that follow."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n + 5, freq="D")
    x = rng.normal(size=n + 5)
    X = pd.DataFrame({"x": x}, index=index)
    y = pd.Series(3 * x, index=index, name="y")
    return y[:n], X[:n], y[n:], X[n:]


def error(cls, strategy: str, seed: int, with_x: bool) -> float:
    y, X, y_test, X_test = case(seed)
    forecaster = cls(
        window_length=8,
        max_epochs=60,
        strategy=strategy,
        random_state=seed,
        device="cpu",
    )
    if with_x:
        forecast = forecaster.fit(y, X=X, fh=FH).predict(X=X_test)
    else:
        forecast = forecaster.fit(y, fh=FH).predict()
    return float(np.abs(forecast.to_numpy().ravel() - y_test.to_numpy()).mean())


def main(without: bool = True) -> None:
    from gatedforecast import GRUForecaster, LSTMForecaster

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    load = load_average()
    table = [
        "| cell | strategy | MAE with X (seeds 0-2) | MAE without X | seconds |",
        "|---|---|---|---|---|",
    ]
    rows = []
    print("\n".join(table))
    for cls in (GRUForecaster, LSTMForecaster):
        for strategy in ("direct", "recursive"):
            start = time.perf_counter()
            with_x = [error(cls, strategy, s, True) for s in SEEDS]
            alone = [error(cls, strategy, s, False) for s in SEEDS] if without else []
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "cell": cls.__name__,
                    "strategy": strategy,
                    "mae_with_x": with_x,
                    "mae_without_x": alone,
                    "seconds": seconds,
                }
            )
            table.append(
                f"| {cls.__name__} | {strategy} | "
                f"{', '.join(f'{e:.3f}' for e in with_x)} | "
                f"{', '.join(f'{e:.3f}' for e in alone) or '-'} | "
                f"{seconds:.0f} |"
            )
            print(table[-1], flush=True)
    command = "python benchmarks/bench_covariate_effect.py " + " ".join(sys.argv[1:])
    machine = machine_info() | {"load_average_before": load}
    (RESULTS / "covariate_effect.json").write_text(
        json.dumps(
            {"command": command.strip(), "machine": machine, "rows": rows}, indent=2
        )
        + "\n"
    )
    text = [
        "# A target three times a future-known covariate, at the defaults",
        "",
        f"Command: `OMP_NUM_THREADS=1 PYTHONPATH=. {command.strip()}`",
        "",
        "`y_t = 3 x_t`, `x` i.i.d. normal, 400 daily points, `window_length=8`, "
        "`max_epochs=60`, `fh=1..5`; mean absolute error of the five forecasts "
        "with `X` and without it, seeds 0-2; seconds for the row's fits on one "
        "torch thread.",
        "",
        *table,
        "",
        *machine_lines(machine),
    ]
    (RESULTS / "covariate_effect.md").write_text("\n".join(text))


if __name__ == "__main__":
    main(without="--no-without" not in sys.argv)
