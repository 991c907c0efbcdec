"""Attention over the recurrent states beside the plain cell, at the defaults.

Arms: ``gru`` and ``lstm`` (``GRUForecaster``/``LSTMForecaster``) and the same
forecasters with ``attention=True``, whose encoder is
``"gru+attention"``/``"lstm+attention"``
(:class:`gatedforecast.networks.AttentionRNN`: the last hidden state attends over
the top layer's states of the window). Every other parameter is the default.

Data and scoring are the dev suite's (``bench_suite.py``): airline with its last
``HORIZON = 12`` months held out (seeds ``--seeds``, default 0 1 2), and M4
Weekly, the 359 series as one global panel with horizon 13 (seed ``--m4-seeds``,
default 0). Metrics: sMAPE (M4 definition) and MASE scaled by the in-sample
(seasonal) naive, fit seconds.

``--max-epochs`` / ``--m4-max-epochs`` lower the number of epochs for every arm
alike (to fit a time budget); the results file says when they did.

Everything runs in this one process with one torch thread. Every fit appends a
record to ``attention_runs.jsonl`` in ``--output-dir``; ``attention.md`` and
``attention.json`` are then built from the latest record of each (arm, series,
seed). ``--table-only`` rebuilds them without fitting.

Usage::

    python benchmarks/bench_attention.py [--arms gru gru+attention lstm
        lstm+attention] [--seeds 0 1 2] [--m4-seeds 0] [--max-epochs N]
        [--m4-max-epochs N] [--no-m4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_suite import (  # noqa: E402
    HORIZON,
    M4_HORIZON,
    SEASON,
    fitted_choices,
    load_series,
    split,
)
from m4_data import load_m4_weekly, to_panel  # noqa: E402
from machine import load_average, machine_info  # noqa: E402

from gatedforecast.metrics import mase, smape  # noqa: E402

ARMS = ("gru", "gru+attention", "lstm", "lstm+attention")
RECORDS = "attention_runs.jsonl"


def make_forecaster(arm: str, seed: int, max_epochs: int | None):
    """The forecaster of ``arm``: the plain cell, or with ``attention=True`` the
    registered attention encoder of the same cell."""
    from gatedforecast import GRUForecaster, LSTMForecaster

    cls = GRUForecaster if arm.startswith("gru") else LSTMForecaster
    params = {} if max_epochs is None else {"max_epochs": max_epochs}
    return cls(**params, attention="+attention" in arm, random_state=seed)


def run_airline(arm: str, seed: int, max_epochs: int | None) -> dict:
    y = load_series("airline")
    train, test = split(y)
    season = SEASON["airline"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster = make_forecaster(arm, seed, max_epochs)
        load = load_average()
        started = time.perf_counter()
        forecaster.fit(train, fh=np.arange(1, HORIZON + 1))
        fit_seconds = time.perf_counter() - started
        y_pred = forecaster.predict()
    yhat = np.asarray(y_pred, dtype=np.float64).reshape(1, -1)
    truth = test.to_numpy(dtype=np.float64).reshape(1, -1)
    return {
        "series": "airline",
        "smape": smape(truth, yhat),
        "mase": mase(truth, yhat, [train.to_numpy(dtype=np.float64)], season=season),
        "fit_seconds": fit_seconds,
        "n_parameters": int(forecaster.n_parameters_),
        "load_average_before_fit": load,
        "fitted": fitted_choices(forecaster),
    }


def run_m4(arm: str, seed: int, max_epochs: int | None) -> dict:
    train, test, ids = load_m4_weekly()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster = make_forecaster(arm, seed, max_epochs)
        panel = to_panel(train, ids)
        load = load_average()
        started = time.perf_counter()
        forecaster.fit(panel, fh=np.arange(1, M4_HORIZON + 1))
        fit_seconds = time.perf_counter() - started
        y_pred = forecaster.predict()
    yhat = np.stack([y_pred.loc[i].iloc[:, 0].to_numpy() for i in ids])
    return {
        "series": "m4_weekly",
        "smape": smape(test, yhat),
        "mase": mase(test, yhat, train, season=1),
        "fit_seconds": fit_seconds,
        "n_parameters": int(forecaster.n_parameters_),
        "load_average_before_fit": load,
        "fitted": fitted_choices(forecaster),
    }


# ------------------------------------------------------------------- tables
def read_records(output_dir: Path) -> list[dict]:
    path = output_dir / RECORDS
    if not path.exists():
        return []
    latest = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            latest[(r["arm"], r["series"], r["seed"])] = r
    return list(latest.values())


def summarise(records: list[dict]) -> list[dict]:
    """One row per (series, arm): means over seeds, and the change of the
    attention arm against its plain cell on the same seeds."""
    rows = []
    by_key = {(r["series"], r["arm"], r["seed"]): r for r in records}
    for series in ("airline", "m4_weekly"):
        for arm in ARMS:
            runs = [r for r in records if r["series"] == series and r["arm"] == arm]
            if not runs:
                continue
            row = {
                "series": series,
                "arm": arm,
                "seeds": sorted(r["seed"] for r in runs),
                "max_epochs": runs[0]["max_epochs"],
                "n_epochs": sorted({r["fitted"]["n_epochs_"] for r in runs}),
                "n_parameters": runs[0]["n_parameters"],
                "smape": statistics.fmean(r["smape"] for r in runs),
                "mase": statistics.fmean(r["mase"] for r in runs),
                "fit_seconds": statistics.fmean(r["fit_seconds"] for r in runs),
            }
            if "+" in arm:
                plain = arm.split("+")[0]
                pairs = [
                    (r, by_key[(series, plain, r["seed"])])
                    for r in runs
                    if (series, plain, r["seed"]) in by_key
                ]
                if pairs:
                    row["mase_change_vs_plain"] = statistics.fmean(
                        a["mase"] / p["mase"] - 1 for a, p in pairs
                    )
                    row["attention_wins"] = sum(a["mase"] < p["mase"] for a, p in pairs)
                    row["paired_seeds"] = len(pairs)
            rows.append(row)
    return rows


def _default_max_epochs() -> int:
    from gatedforecast import GRUForecaster

    return GRUForecaster().get_params()["max_epochs"]


def markdown(
    rows: list[dict], records: list[dict], command: str, machine, notes=()
) -> str:
    lines = [
        "# Attention over the recurrent states beside the plain cell",
        "",
        "Written by `benchmarks/bench_attention.py`. Command:",
        "",
        "```",
        command,
        "```",
        "",
        "Arms: `GRUForecaster`/`LSTMForecaster` at the defaults, and the same "
        "forecasters with the encoder `gru+attention`/`lstm+attention` (the last "
        "hidden state attends over the top layer's states of the window; "
        "`AttentionRNN` in `gatedforecast/networks.py`). Airline: last 12 months "
        "held out, as in the dev suite; M4 Weekly: 359 series as one global "
        "panel, horizon 13. MASE against the in-sample (seasonal) naive; "
        "'vs plain': mean over seeds of MASE(attention) / MASE(plain) - 1 on the "
        "same seed, and on how many seeds attention had the lower MASE.",
        "",
    ]
    for note in notes:
        lines += [note, ""]
    reduced = sorted(
        {(r["series"], r["max_epochs"]) for r in records if r["max_epochs"]}
    )
    if reduced:
        lines += [
            "**Reduced epochs** (the same for every arm, to fit the time budget of a "
            "shared 2-core machine): "
            + "; ".join(f"{s}: max_epochs={e}" for s, e in reduced)
            + f" instead of the default {_default_max_epochs()}. The other settings "
            "are the defaults.",
            "",
        ]
    lines += [
        "| series | arm | seeds | epochs run | parameters | MASE | sMAPE | "
        "vs plain (MASE) | attention wins | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        change = row.get("mase_change_vs_plain")
        wins = (
            f"{row['attention_wins']}/{row['paired_seeds']}"
            if "attention_wins" in row
            else ""
        )
        lines.append(
            f"| {row['series']} | {row['arm']} | "
            f"{','.join(map(str, row['seeds']))} | "
            f"{','.join(map(str, row['n_epochs']))} | {row['n_parameters']} | "
            f"{row['mase']:.3f} | {row['smape']:.2f} | "
            f"{'' if change is None else f'{change:+.1%}'} | {wins} | "
            f"{row['fit_seconds']:.1f} |"
        )
    lines += ["", "Per fit:", "", "| series | arm | seed | MASE | sMAPE | fit s |"]
    lines.append("|---|---|---|---|---|---|")
    for r in sorted(records, key=lambda r: (r["series"], r["arm"], r["seed"])):
        lines.append(
            f"| {r['series']} | {r['arm']} | {r['seed']} | {r['mase']:.3f} | "
            f"{r['smape']:.2f} | {r['fit_seconds']:.1f} |"
        )
    loads = [r["load_average_before_fit"] for r in records]
    loads = [load[0] for load in loads if load]
    lines += [
        "",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, "
        f"{machine['platform']}, Python {machine['python']}, torch "
        f"{machine['torch']}, {machine['torch_threads']} torch thread; commit "
        f"{machine['commit']}"
        + (" with local edits" if machine.get("package_has_local_edits") else "")
        + ".",
    ]
    if loads:
        lines += [
            f"The machine was shared: 1-minute load average {min(loads):.1f} to "
            f"{max(loads):.1f} before the fits, so the fit seconds are only rough.",
        ]
    return "\n".join(lines) + "\n"


def write_tables(args) -> None:
    records = read_records(args.output_dir)
    rows = summarise(records)
    # the machine and commit the fits ran on, recorded when the run started
    machine = records[-1]["machine"] if records else machine_info()
    (args.output_dir / "attention.json").write_text(
        json.dumps(
            {
                "command": args.command,
                "notes": args.note or [],
                "machine": machine,
                "summary": rows,
            },
            indent=2,
        )
        + "\n"
    )
    (args.output_dir / "attention.md").write_text(
        markdown(rows, records, args.command, machine, args.note or ())
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--m4-seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--no-m4", action="store_true")
    parser.add_argument("--max-epochs", type=int, help="airline, every arm")
    parser.add_argument("--m4-max-epochs", type=int, help="M4 Weekly, every arm")
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--note", action="append", help="a paragraph for the header")
    parser.add_argument(
        "--command",
        default=" ".join(["python benchmarks/bench_attention.py", *sys.argv[1:]]),
        help="the command shown in the results file",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import torch._dynamo  # imported once, outside any fit time

    if not args.table_only:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        machine = machine_info()
        # the plain cell and its attention arm side by side, airline first
        pairs = [a for a in ARMS if a in args.arms]
        jobs = [("airline", arm, s) for arm in pairs for s in args.seeds]
        if not args.no_m4:
            jobs += [("m4_weekly", arm, s) for arm in pairs for s in args.m4_seeds]
        jobs.sort(key=lambda job: (job[1].split("+")[0], job[0] != "airline"))
        for series, arm, seed in jobs:
            m4 = series == "m4_weekly"
            max_epochs = args.m4_max_epochs if m4 else args.max_epochs
            run = run_m4 if m4 else run_airline
            record = {"arm": arm, "seed": seed, "max_epochs": max_epochs}
            record.update(run(arm, seed, max_epochs))
            record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            record["machine"] = machine
            print(
                f"{series} {arm} seed={seed}: MASE {record['mase']:.3f} sMAPE "
                f"{record['smape']:.2f} ({record['fit_seconds']:.0f} s)",
                flush=True,
            )
            with open(args.output_dir / RECORDS, "a") as log:
                log.write(json.dumps(record) + "\n")
            write_tables(args)
    write_tables(args)


if __name__ == "__main__":
    main()
