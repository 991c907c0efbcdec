"""Prediction intervals on a synthetic negative-binomial count panel.

A panel of ``--series`` daily count series of ``--length`` points plus a test
stretch of 14: series ``i`` has mean ``m_i * (1 + 0.5 sin(2 pi t / 7 + p_i))``
with ``m_i`` log-uniform in [2, 50] and a random phase ``p_i``, and its counts
are negative binomial with shape 3 (variance ``mu + mu**2 / 3``), drawn from a
generator seeded by 0. One global ``GRUForecaster`` (window 28, ``fh=1..14``,
``random_state=0``, defaults otherwise) is fitted per arm:

* ``conformal``: the default split-conformal intervals around the MAE-trained
  point forecast;
* ``negative_binomial``: ``distribution="negative_binomial"``, trained by
  negative log-likelihood, intervals from the distribution.

Reports the coverage of the 80 % and 95 % intervals over the test values, MSIS
(a = 0.05, seasonal period 7), the CRPS (twice the mean pinball loss at the
levels 0.05, ..., 0.95, divided by the sum of the absolute test values, as in
``bench_intervals.py``), MAE of the point forecast, whether every interval
bound is a non-negative integer, and the load average before each fit.

Usage::

    python benchmarks/bench_count_intervals.py [--threads N] [--series 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_intervals import CRPS_LEVELS, crps
from machine import load_average, machine_info

from gatedforecast.metrics import interval_coverage, msis

HORIZON = 14
SHAPE = 3.0
ARMS = {
    "conformal": {},
    "negative_binomial": {"distribution": "negative_binomial"},
}
COMMON = {"window_length": 28, "device": "cpu", "random_state": 0}


def count_panel(n_series: int, length: int, seed: int = 0):
    """Training series ``(n, length)`` and test values ``(n, HORIZON)``."""
    rng = np.random.default_rng(seed)
    level = np.exp(rng.uniform(np.log(2), np.log(50), n_series))[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_series)[:, None]
    t = np.arange(length + HORIZON)[None]
    mean = level * (1 + 0.5 * np.sin(2 * np.pi * t / 7 + phase))
    counts = rng.negative_binomial(SHAPE, SHAPE / (SHAPE + mean)).astype(float)
    return counts[:, :length], counts[:, length:]


def to_frame(train: np.ndarray) -> pd.DataFrame:
    n, length = train.shape
    index = pd.MultiIndex.from_product(
        [[f"s{i}" for i in range(n)], pd.RangeIndex(length)], names=["series", "t"]
    )
    return pd.DataFrame({"y": train.ravel()}, index=index)


def run(arm: str, train, test) -> dict:
    from gatedforecast import GRUForecaster

    shape = test.shape
    forecaster = GRUForecaster(**COMMON, **ARMS[arm])
    load = load_average()
    started = time.perf_counter()
    forecaster.fit(to_frame(train), fh=np.arange(1, HORIZON + 1))
    seconds = time.perf_counter() - started
    point = forecaster.predict().iloc[:, 0].to_numpy().reshape(shape)
    interval = forecaster.predict_interval(coverage=[0.95, 0.8])
    bounds = [interval.iloc[:, j].to_numpy().reshape(shape) for j in range(4)]
    quantiles = forecaster.predict_quantiles(alpha=list(CRPS_LEVELS))
    quantiles = quantiles.to_numpy().T.reshape(len(CRPS_LEVELS), *shape)
    every = np.concatenate([b.ravel() for b in bounds])
    return {
        "arm": arm,
        "coverage_80": interval_coverage(test, bounds[2], bounds[3]),
        "coverage_95": interval_coverage(test, bounds[0], bounds[1]),
        "msis": msis(test, bounds[0], bounds[1], list(train), alpha=0.05, season=7),
        "crps": crps(test, quantiles),
        "mae": float(np.abs(test - point).mean()),
        "integer_non_negative_bounds": bool(
            (every >= 0).all() and (every == np.round(every)).all()
        ),
        "fit_seconds": seconds,
        "load_average_before_fit": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--output-dir", type=Path, default=Path(__file__).parent / "results"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    train, test = count_panel(args.series, args.length)
    rows = []
    for arm in args.arms:
        rows.append(run(arm, train, test))
        print(rows[-1], flush=True)
    command = "python benchmarks/bench_count_intervals.py " + " ".join(sys.argv[1:])
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "count_intervals.json").write_text(
        json.dumps(
            {
                "command": command,
                "series": args.series,
                "length": args.length,
                "common": COMMON,
                "rows": rows,
                "machine": machine_info(),
            },
            indent=2,
        )
    )
    lines = [
        "| arm | coverage of 80 % interval | coverage of 95 % interval | MSIS "
        "| CRPS | MAE | integer, non-negative bounds | fit s | load before fit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['arm']} | {100 * r['coverage_80']:.1f} % | "
            f"{100 * r['coverage_95']:.1f} % | {r['msis']:.2f} | {r['crps']:.4f} | "
            f"{r['mae']:.3f} | {r['integer_non_negative_bounds']} | "
            f"{r['fit_seconds']:.0f} | {r['load_average_before_fit']} |"
        )
    table = "\n".join(lines)
    (args.output_dir / "count_intervals.md").write_text(
        f"Command: `{command}` ({args.series} series of {args.length} points, "
        f"negative binomial with shape {SHAPE:g}, test on the next {HORIZON}).\n\n"
        f"{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()
