"""M4 Weekly with missing values: the mask channel against linear imputation.

Horizon 13, input window 52, all 359 series (see ``m4_data.py``), the GRU at the
defaults of ``bench_m4.py`` (:data:`PARAMS`: only ``window_length=52``), one
global network. Three arms, each fitted on the whole panel:

* ``complete``: the training series as they are;
* ``masked``: the same series with :data:`SHARE` of their training values removed
  at random (the same points for every seed, drawn from ``--data-seed``; the last
  value of each series is kept, so every series has a value to forecast from),
  given to the forecaster with their ``NaN``: it fills each window forward and
  reads a mask channel (see ``docs/user_guide/missing.md``);
* ``imputed``: the same removed points filled by linear interpolation between
  their neighbours (``pandas.Series.interpolate``, the nearest value before the
  first or after the last observed one), then fitted as complete series.

The test values are never removed. sMAPE and MASE (m=1) are those of the M4
competition (``gatedforecast.metrics``); MASE's scale is the complete training
series' for every arm, so the arms are scored on the same yardstick. The table
gives each arm's scores, fit seconds and the ratio of its sMAPE and MASE to the
complete arm's (same seed).

Every arm appends its record to ``missing_runs.jsonl`` in ``--output-dir``; the
tables (``missing.md``, ``missing.json``) are rebuilt from it after each run,
from the latest record per arm and seed, so arms and seeds can be run
separately (or at once, in separate processes; ``--tables-only`` rebuilds the
tables from the records afterwards). One torch thread by default
(``--threads``); the load average before each fit is recorded (the machine may
be shared).

Usage::

    python benchmarks/bench_missing.py [--arms complete masked imputed]
        [--seeds 0 1] [--threads 1] [--series N] [--max-epochs N]
        [--output-dir benchmarks/results] [--tables-only]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from m4_data import HORIZON, load_m4_weekly, to_panel  # noqa: E402
from machine import load_average, machine_info, peak_rss_mb  # noqa: E402

from gatedforecast.metrics import mase, smape  # noqa: E402

WINDOW = 52
#: the share of training values removed
SHARE = 0.1
#: the forecaster's parameters: its defaults with the benchmark's input window
PARAMS = {"window_length": WINDOW}
ARMS = ("complete", "masked", "imputed")
LABELS = {
    "complete": "complete data",
    "masked": f"{SHARE:.0%} missing, mask channel",
    "imputed": f"{SHARE:.0%} missing, linearly imputed",
}
RECORDS = "missing_runs.jsonl"


def remove_values(train, share: float, seed: int) -> list[np.ndarray]:
    """Copies of the series with ``share`` of their values set to NaN at random
    (the last value of each kept)."""
    rng = np.random.default_rng(seed)
    out = []
    for series in train:
        values = np.array(series, dtype=np.float64)
        drop = rng.random(len(values)) < share
        drop[-1] = False
        values[drop] = np.nan
        out.append(values)
    return out


def interpolate(series: np.ndarray) -> np.ndarray:
    """Linear interpolation between observed neighbours; the nearest observed
    value before the first or after the last one."""
    filled = pd.Series(series).interpolate(method="linear", limit_direction="both")
    return filled.to_numpy()


def arm_data(arm: str, train, data_seed: int) -> list[np.ndarray]:
    if arm == "complete":
        return train
    gaps = remove_values(train, SHARE, data_seed)
    if arm == "masked":
        return gaps
    return [interpolate(s) for s in gaps]


def run_arm(arm: str, seed: int, args) -> dict:
    import torch

    from gatedforecast import GRUForecaster

    train, test, ids = load_m4_weekly(args.data_dir)
    if args.series:
        train, test, ids = train[: args.series], test[: args.series], ids[: args.series]
    data = arm_data(arm, train, args.data_seed)
    panel = to_panel(data, ids)
    params = dict(PARAMS)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    forecaster = GRUForecaster(**params, random_state=seed)
    load = load_average()
    started, cpu = time.perf_counter(), time.process_time()
    forecaster.fit(panel, fh=np.arange(1, HORIZON + 1))
    fit_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    y_pred = forecaster.predict()
    yhat = np.stack([y_pred.loc[i].iloc[:, 0].to_numpy() for i in ids])
    if not np.isfinite(yhat).all():
        raise RuntimeError(f"arm {arm!r}: the forecasts are not all finite")
    n_missing = int(sum(np.isnan(s).sum() for s in data))
    return {
        "arm": arm,
        "seed": seed,
        "smape": smape(test, yhat),
        "mase": mase(test, yhat, train),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": cpu_seconds,
        "n_epochs": int(forecaster.n_epochs_),
        "masked_network": bool(forecaster._engine.setup.masked),
        "n_series": len(ids),
        "n_values": int(sum(len(s) for s in data)),
        "n_missing_given": n_missing,
        "n_removed": int(
            sum(np.isnan(s).sum() for s in remove_values(train, SHARE, args.data_seed))
        ),
        "data_seed": args.data_seed,
        "params": params,
        "load_average_before_fit": load,
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": machine_info(),
    }


def _setting(record: dict) -> str:
    """The parameters of a record, as a key."""
    return json.dumps(record["params"], sort_keys=True)


def latest(records: list[dict]) -> dict:
    """The latest record per (arm, seed, n_series, parameters)."""
    out = {}
    for record in records:
        key = (record["arm"], record["seed"], record["n_series"], _setting(record))
        out[key] = record
    return out


def tables(records: list[dict]) -> tuple[str, dict]:
    chosen = latest(records)
    rows = []
    for (arm, seed, n_series, setting), r in sorted(
        chosen.items(),
        key=lambda kv: (kv[0][3], kv[0][2], kv[0][1], ARMS.index(kv[0][0])),
    ):
        base = chosen.get(("complete", seed, n_series, setting))
        rows.append(
            {
                "arm": arm,
                "label": LABELS[arm]
                + "".join(
                    f", {k}={v}" for k, v in r["params"].items() if k != "window_length"
                ),
                "seed": seed,
                "n_series": n_series,
                "smape": r["smape"],
                "mase": r["mase"],
                "smape_ratio": None if base is None else r["smape"] / base["smape"],
                "mase_ratio": None if base is None else r["mase"] / base["mase"],
                "fit_seconds": r["fit_seconds"],
                "n_epochs": r["n_epochs"],
                "n_missing_given": r["n_missing_given"],
                "params": r["params"],
                "load_average_before_fit": r["load_average_before_fit"],
            }
        )
    commands = sorted({r["command"] for r in chosen.values()})
    lines = [
        "# M4 Weekly with missing values",
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in commands),
        "",
        f"GRUForecaster at its defaults with window_length={WINDOW}, one global "
        "network on the panel. The masked and imputed arms remove the same "
        f"{SHARE:.0%} of the training values at random (data seed "
        f"{records[-1]['data_seed']}); the test values are complete. MASE is "
        "scaled by the complete training series for every arm. Ratios are to the "
        "complete arm of the same seed (1.05 = 5 % worse).",
        "",
        "| arm | series | seed | sMAPE | MASE | sMAPE / complete | MASE / complete "
        "| epochs | fit s | load before fit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def ratio(value):
        return "" if value is None else f"{value:.3f}"

    for row in rows:
        lines.append(
            f"| {row['label']} | {row['n_series']} | {row['seed']} | "
            f"{row['smape']:.3f} | {row['mase']:.3f} | {ratio(row['smape_ratio'])} | "
            f"{ratio(row['mase_ratio'])} | {row['n_epochs']} | "
            f"{row['fit_seconds']:.1f} | {row['load_average_before_fit']} |"
        )
    medians = {}
    for arm in ARMS:
        group = [row for row in rows if row["arm"] == arm and not _short(row)]
        if len({row["seed"] for row in group}) > 1:
            medians[arm] = {
                key: statistics.median(row[key] for row in group)
                for key in ("smape", "mase")
            }
    if medians:
        lines += ["", "Medians over the seeds:", ""]
        lines += ["| arm | sMAPE | MASE |", "|---|---|---|"]
        for arm, m in medians.items():
            lines.append(f"| {LABELS[arm]} | {m['smape']:.3f} | {m['mase']:.3f} |")
    machine = records[-1]["machine"]
    lines += [
        "",
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, torch "
        f"{machine['torch']} with {records[-1]['torch_threads']} thread(s), "
        f"commit {machine['commit']} (local edits in gatedforecast/: "
        f"{machine['package_has_local_edits']}). The machine is shared: the load "
        "average before each fit is in the table.",
        "",
    ]
    return "\n".join(lines), {"rows": rows, "medians": medians, "machine": machine}


def _short(row: dict) -> bool:
    """A run with fewer epochs than the defaults (``--max-epochs``)."""
    return "max_epochs" in row["params"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--series", type=int, default=None, help="first N series")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="a shorter run (not the default)"
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="rebuild the tables from the records, fitting nothing",
    )
    args = parser.parse_args(argv)
    runs = args.output_dir / RECORDS
    if args.tables_only:
        write_tables(runs, args.output_dir)
        return

    import torch

    torch.set_num_threads(args.threads)
    # torch._dynamo is imported when the first optimizer is built: not in a fit
    import torch._dynamo

    args.output_dir.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for arm in args.arms:
            record = run_arm(arm, seed, args)
            print(
                f"{arm} seed {seed}: sMAPE {record['smape']:.3f} MASE "
                f"{record['mase']:.3f} fit {record['fit_seconds']:.0f} s",
                flush=True,
            )
            with runs.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            write_tables(runs, args.output_dir)


def write_tables(runs: Path, output_dir: Path) -> None:
    """``missing.md`` and ``missing.json`` from the records in ``runs``."""
    records = [json.loads(line) for line in runs.read_text().splitlines()]
    markdown, summary = tables(records)
    (output_dir / "missing.md").write_text(markdown)
    (output_dir / "missing.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
