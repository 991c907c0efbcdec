"""Fixed epochs against a temporal validation split with early stopping, on M4 Weekly.

One global network over all 359 series (window 52, horizon 13, one layer of 64,
MAE loss, 256 windows a step, 100 steps an epoch), fitted through the public
``GRUForecaster``/``LSTMForecaster`` API:

* ``fixed``: ``max_epochs=20`` (2,000 steps), no validation;
* ``early stopping, ...``: the last window(s) of each series held out
  (``validation_size``), up to ``max_epochs=40`` with ``patience`` epochs without
  improvement of the validation loss; the best epoch's weights are restored.

Reports sMAPE, MASE, epochs run and fit seconds, as Markdown and JSON. Rows
accumulate in ``results/early_stopping_runs.jsonl`` (the latest per system), so
setups can be run one at a time with ``--setups``.

Usage::

    python benchmarks/bench_early_stopping.py [--cells gru lstm] [--threads N]
        [--setups NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from m4_data import HORIZON, load_m4_weekly, naive_forecast, to_panel

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.metrics import mase, smape

CELLS = {"gru": GRUForecaster, "lstm": LSTMForecaster}
COMMON = {
    "window_length": 52,
    "hidden_sizes": 64,
    "loss": "mae",
    "batch_size": 256,
    "steps_per_epoch": 100,
    "device": "cpu",
    "random_state": 0,
}
SETUPS = {
    "fixed 20 epochs": {"max_epochs": 20},
    "early stopping, patience 3, plateau": {
        "max_epochs": 40,
        "validation_size": 1,
        "patience": 3,
        "lr_schedule": "plateau",
    },
    "early stopping, patience 5": {
        "max_epochs": 40,
        "validation_size": 1,
        "patience": 5,
    },
    "early stopping, patience 5, validation_size=4": {
        "max_epochs": 40,
        "validation_size": 4,
        "patience": 5,
    },
    "early stopping, patience 5, validation_size=0.1": {
        "max_epochs": 40,
        "validation_size": 0.1,
        "patience": 5,
    },
    "early stopping, patience 3, min_delta=0.002, validation_size=0.1": {
        "max_epochs": 40,
        "validation_size": 0.1,
        "patience": 3,
        "min_delta": 0.002,
    },
}
RECORDS = "early_stopping_runs.jsonl"


def forecast_matrix(y_pred, ids) -> np.ndarray:
    values = y_pred.iloc[:, 0].to_numpy()
    return values.reshape(len(ids), HORIZON)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["gru"], choices=list(CELLS))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS)
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path(__file__).parent / "results"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train, test, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    naive = naive_forecast(train)
    rows = [
        {
            "system": "Naive (last value)",
            "smape": smape(test, naive),
            "mase": mase(test, naive, train),
            "epochs": 0,
            "fit_seconds": 0.0,
        }
    ]
    args.output_dir.mkdir(parents=True, exist_ok=True)
    records = args.output_dir / RECORDS
    command = "python benchmarks/bench_early_stopping.py " + " ".join(sys.argv[1:])
    for cell in args.cells:
        for setup in args.setups:
            params = SETUPS[setup]
            forecaster = CELLS[cell](**COMMON, **params)
            started = time.perf_counter()
            forecaster.fit(panel, fh=np.arange(1, HORIZON + 1))
            seconds = time.perf_counter() - started
            yhat = forecast_matrix(forecaster.predict(), ids)
            row = {
                "system": f"{type(forecaster).__name__}, {setup}",
                "smape": smape(test, yhat),
                "mase": mase(test, yhat, train),
                "epochs": int(forecaster.n_epochs_),
                "best_epoch": int(forecaster.best_epoch_),
                "fit_seconds": seconds,
                "train_loss": forecaster.history_["train_loss"].round(5).tolist(),
                "val_loss": forecaster.history_["val_loss"].round(5).tolist(),
                "torch_threads": torch.get_num_threads(),
                "command": command,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            with open(records, "a") as log:
                log.write(json.dumps(row) + "\n")
            print(row, flush=True)

    latest = {}
    for line in records.read_text().splitlines():
        row = json.loads(line)
        latest[row["system"]] = row
    rows += list(latest.values())
    results = {
        "benchmark": "early stopping on M4 Weekly (global model)",
        "common": COMMON,
        "setups": SETUPS,
        "rows": rows,
    }
    (args.output_dir / "early_stopping.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| system | sMAPE | MASE | epochs (best) | fit s |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        best = f" ({row['best_epoch']})" if "best_epoch" in row else ""
        lines.append(
            f"| {row['system']} | {row['smape']:.3f} | {row['mase']:.3f} | "
            f"{row['epochs']}{best} | {row['fit_seconds']:.1f} |"
        )
    table = "\n".join(lines)
    commands = sorted({row["command"] for row in rows if "command" in row})
    (args.output_dir / "early_stopping.md").write_text(
        "Commands: " + "; ".join(f"`{c}`" for c in commands) + f"\n\n{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()
