"""Prediction intervals on M4 Weekly: coverage and MSIS of each interval method.

One global network over the 359 series (window 52, horizon 13, one layer of 64,
MAE loss, 256 windows a step, 100 steps an epoch, 20 epochs), fitted through the
public ``GRUForecaster`` API once per interval method:

* ``conformal``: split-conformal intervals from one held-out window per series;
* ``mc_dropout``: dropout 0.1, 100 sampled paths plus calibrated residual noise;
* ``quantile``: a quantile head at levels 0.025, 0.1, 0.5, 0.9, 0.975 (pinball
  loss).

Reports, for the 95 % interval, the empirical coverage of the 13 x 359 test values
and the M4 competition's mean scaled interval score (MSIS, a = 0.05, seasonal
period 1), plus sMAPE and MASE of the point forecast, as Markdown and JSON.

Usage::

    python benchmarks/bench_intervals.py [--methods conformal mc_dropout quantile]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from m4_data import HORIZON, load_m4_weekly, mase, smape, to_panel

from gatedforecast import GRUForecaster

COMMON = {
    "window_length": 52,
    "hidden_sizes": 64,
    "loss": "mae",
    "batch_size": 256,
    "steps_per_epoch": 100,
    "max_epochs": 20,
    "device": "cpu",
    "random_state": 0,
}
METHODS = {
    "conformal": {"interval_method": "conformal"},
    "mc_dropout": {"interval_method": "mc_dropout", "dropout": 0.1},
    "quantile": {
        "interval_method": "quantile",
        "quantiles": (0.025, 0.1, 0.5, 0.9, 0.975),
    },
}
ALPHA = 0.05


def msis(y, lower, upper, insample, a: float = ALPHA, m: int = 1) -> float:
    """M4 MSIS: mean interval score over the horizon, scaled by the mean absolute
    ``m``-step difference of each training series, averaged over series."""
    scores = []
    for i, history in enumerate(insample):
        scale = np.mean(np.abs(history[m:] - history[:-m]))
        width = upper[i] - lower[i]
        below = (2 / a) * (lower[i] - y[i]) * (y[i] < lower[i])
        above = (2 / a) * (y[i] - upper[i]) * (y[i] > upper[i])
        scores.append(np.mean(width + below + above) / scale)
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), choices=list(METHODS)
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path(__file__).parent / "results"
    )
    args = parser.parse_args()

    train, test, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    shape = (len(ids), HORIZON)
    rows = []
    for method in args.methods:
        forecaster = GRUForecaster(**COMMON, **METHODS[method])
        started = time.perf_counter()
        forecaster.fit(panel, fh=np.arange(1, HORIZON + 1))
        seconds = time.perf_counter() - started
        point = forecaster.predict().iloc[:, 0].to_numpy().reshape(shape)
        interval = forecaster.predict_interval(coverage=1 - ALPHA)
        lower = interval.iloc[:, 0].to_numpy().reshape(shape)
        upper = interval.iloc[:, 1].to_numpy().reshape(shape)
        row = {
            "method": method,
            "coverage_95": float(np.mean((test >= lower) & (test <= upper))),
            "msis": msis(test, lower, upper, train),
            "smape": smape(test, point),
            "mase": mase(test, point, train),
            "fit_seconds": seconds,
            "calibration_residuals": int(len(forecaster._residuals)),
        }
        rows.append(row)
        print(row, flush=True)

    args.output_dir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_intervals.py " + " ".join(sys.argv[1:])
    (args.output_dir / "intervals.json").write_text(
        json.dumps({"command": command, "common": COMMON, "rows": rows}, indent=2)
    )
    lines = [
        "| method | coverage of 95 % interval | MSIS | sMAPE | MASE | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {100 * row['coverage_95']:.1f} % | {row['msis']:.2f} | "
            f"{row['smape']:.3f} | {row['mase']:.3f} | {row['fit_seconds']:.0f} |"
        )
    table = "\n".join(lines)
    (args.output_dir / "intervals.md").write_text(f"Command: `{command}`\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
