"""Prediction intervals on M4 Weekly: coverage and MSIS of each interval method.

One global network over the 359 series at the forecaster's defaults (window 52,
horizon 13), fitted through the public ``GRUForecaster`` API once per interval
method:

* ``conformal``: split-conformal intervals from one held-out window per series;
* ``mc_dropout``: dropout 0.1, 100 sampled paths plus calibrated residual noise;
* ``quantile``: a quantile head at levels 0.025, 0.1, 0.5, 0.9, 0.975 (pinball
  loss);
* ``normal``, ``student_t``: likelihood heads (``distribution=...``) trained by
  negative log-likelihood, intervals from the distribution;
* ``nf-lstm-mqloss`` (when neuralforecast is installed): neuralforecast's ``LSTM``
  at its defaults with ``h=13, input_size=52`` and ``loss=MQLoss(level=[95])``,
  its median as the point forecast.

Reports the empirical coverage of the 80 % and 95 % intervals over the 13 x 359
test values, the M4 competition's mean scaled interval score (MSIS, a = 0.05,
seasonal period 1), the CRPS (twice the mean pinball loss of the quantiles at
the 19 levels 0.05, 0.10, ..., 0.95, summed over the test values and divided by
the sum of their absolute values: GluonTS's weighted quantile loss), plus sMAPE
and MASE of the point forecast, as Markdown and JSON; rows from before the 80 %
coverage and the CRPS were measured show a dash there. The load average before
each fit is recorded (the machine may be shared).

Usage::

    python benchmarks/bench_intervals.py [--methods conformal mc_dropout quantile]
        [--threads N]

Rows accumulate in ``results/intervals_runs.jsonl`` (latest per method), so the
neuralforecast row can be run from the environment that has it installed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from m4_data import (
    HORIZON,
    QUIET_TRAINER,
    load_m4_weekly,
    quiet_lightning,
    to_long_frame,
    to_panel,
)
from machine import load_average

from gatedforecast.metrics import interval_coverage, mase, msis, smape

#: the forecaster's defaults, with the benchmark's input window
COMMON = {"window_length": 52, "device": "cpu", "random_state": 0}
METHODS = {
    "conformal": {"interval_method": "conformal"},
    "mc_dropout": {"interval_method": "mc_dropout", "dropout": 0.1},
    "quantile": {
        "interval_method": "quantile",
        "quantiles": (0.025, 0.1, 0.5, 0.9, 0.975),
    },
    "normal": {"distribution": "normal"},
    "student_t": {"distribution": "student_t"},
}
#: the levels whose pinball losses average to the CRPS
CRPS_LEVELS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
PEERS = ("nf-lstm-mqloss",)
ALPHA = 0.05
RECORDS = "intervals_runs.jsonl"


def run_ours(method: str, panel, shape):
    from gatedforecast import GRUForecaster

    forecaster = GRUForecaster(**COMMON, **METHODS[method])
    started = time.perf_counter()
    forecaster.fit(panel, fh=np.arange(1, HORIZON + 1))
    seconds = time.perf_counter() - started
    point = forecaster.predict().iloc[:, 0].to_numpy().reshape(shape)
    interval = forecaster.predict_interval(coverage=[1 - ALPHA, 0.8])
    lower = interval.iloc[:, 0].to_numpy().reshape(shape)
    upper = interval.iloc[:, 1].to_numpy().reshape(shape)
    lower80 = interval.iloc[:, 2].to_numpy().reshape(shape)
    upper80 = interval.iloc[:, 3].to_numpy().reshape(shape)
    quantiles = forecaster.predict_quantiles(alpha=list(CRPS_LEVELS))
    quantiles = quantiles.to_numpy().T.reshape(len(CRPS_LEVELS), *shape)
    residuals = forecaster._engine.residuals
    extra = {
        "calibration_residuals": 0 if residuals is None else int(len(residuals)),
        "quantiles": quantiles,
        "interval_80": (lower80, upper80),
    }
    return point, lower, upper, seconds, extra


def crps(test, quantiles, levels=CRPS_LEVELS) -> float:
    """Twice the mean pinball loss over ``levels``, summed over the test values
    and divided by the sum of their absolute values."""
    test = np.asarray(test, dtype=float)
    total = 0.0
    for level, q in zip(levels, quantiles):
        error = test - q
        total += np.maximum(level * error, (level - 1) * error).sum()
    return float(2 * total / len(levels) / np.abs(test).sum())


def run_neuralforecast_mqloss(train, ids, shape):
    quiet_lightning()
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import LSTM

    frame = to_long_frame(train, ids)
    model = LSTM(
        h=HORIZON,
        input_size=COMMON["window_length"],
        loss=MQLoss(level=[95]),
        random_seed=1,
        **QUIET_TRAINER,
    )
    nf = NeuralForecast(models=[model], freq=1)
    started = time.perf_counter()
    nf.fit(frame)
    seconds = time.perf_counter() - started
    forecast = nf.predict()
    if "unique_id" not in forecast:
        forecast = forecast.reset_index()
    order = {key: i for i, key in enumerate(ids)}
    forecast = forecast.sort_values(
        ["unique_id", "ds"], key=lambda c: c.map(order) if c.name == "unique_id" else c
    )

    def column(suffix):
        return forecast[f"LSTM{suffix}"].to_numpy().reshape(shape)

    return column("-median"), column("-lo-95"), column("-hi-95"), seconds, {}


def read_rows(path: Path) -> list[dict]:
    """The latest record of each method, in the order they first ran."""
    latest = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            latest[row["method"]] = row
    return list(latest.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), choices=[*METHODS, *PEERS]
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="write the tables from the recorded rows without fitting",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path(__file__).parent / "results"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    train, test, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    shape = (len(ids), HORIZON)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    records = args.output_dir / RECORDS
    for method in [] if args.table_only else args.methods:
        load = load_average()
        if method in METHODS:
            point, lower, upper, seconds, extra = run_ours(method, panel, shape)
        else:
            point, lower, upper, seconds, extra = run_neuralforecast_mqloss(
                train, ids, shape
            )
        row = {
            "method": method,
            "coverage_95": interval_coverage(test, lower, upper),
            "msis": msis(test, lower, upper, train, alpha=ALPHA),
            "smape": smape(test, point),
            "mase": mase(test, point, train),
            "fit_seconds": seconds,
            "load_average_before_fit": load,
            "command": "python benchmarks/bench_intervals.py " + " ".join(sys.argv[1:]),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if "quantiles" in extra:
            lower80, upper80 = extra.pop("interval_80")
            row["coverage_80"] = interval_coverage(test, lower80, upper80)
            row["crps"] = crps(test, extra.pop("quantiles"))
        row.update(extra)
        with open(records, "a") as log:
            log.write(json.dumps(row) + "\n")
        print(row, flush=True)

    rows = read_rows(records)
    (args.output_dir / "intervals.json").write_text(
        json.dumps({"common": COMMON, "rows": rows}, indent=2)
    )
    lines = [
        "| method | coverage of 80 % interval | coverage of 95 % interval | MSIS "
        "| CRPS | sMAPE | MASE | fit s | load before fit | run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def maybe(row, key, fmt):
        return "–" if row.get(key) is None else fmt(row[key])

    for row in rows:
        lines.append(
            f"| {row['method']} | {maybe(row, 'coverage_80', lambda v: f'{100 * v:.1f} %')} | "
            f"{100 * row['coverage_95']:.1f} % | {row['msis']:.2f} | "
            f"{maybe(row, 'crps', lambda v: f'{v:.4f}')} | {row['smape']:.3f} | "
            f"{row['mase']:.3f} | {row['fit_seconds']:.0f} | "
            f"{row.get('load_average_before_fit', '–')} | {row['finished'][:10]} |"
        )
    table = "\n".join(lines)
    commands = sorted({row["command"] for row in rows})
    note = (
        "CRPS: twice the mean pinball loss of the quantiles at the levels 0.05, "
        "0.10, ..., 0.95, summed over the 13 x 359 test values and divided by the "
        "sum of their absolute values. A dash: the row was recorded before the 80 % "
        "coverage and the CRPS were measured; rows ran at different commits (run "
        "date), fit seconds on a shared machine (load average before the fit)."
    )
    (args.output_dir / "intervals.md").write_text(
        "Commands: "
        + "; ".join(f"`{c}`" for c in commands)
        + f"\n\n{note}\n\n{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()
