"""The dev suite: short real series, our forecasters beside AutoETS, Theta and
seasonal naive (DESIGN.md, section 5).

Series (each with its last ``HORIZON = 12`` steps held out: one season of the
monthly series, and the same twelve steps of the yearly ones):

* ``airline``: sktime's ``load_airline``, monthly, 144 points.
* ``shampoo``: sktime's ``load_shampoo_sales``, monthly, 36 points (24 to train).
* ``lynx``: sktime's ``load_lynx``, yearly, 114 points.
* ``co2``: statsmodels' weekly ``co2``, as monthly means (``resample("MS")``); the
  5 months without any observation are filled by linear interpolation; 526 points.
* ``sunspots``: statsmodels' yearly ``sunspots``, 309 points.

The season given to the references (``SEASON``) is the calendar one: 12 for the
monthly series, 1 (none) for the yearly ones.

Contestants:

* ``gru``, ``lstm``: ``GRUForecaster``/``LSTMForecaster`` with only
  ``random_state`` (seeds ``--seeds``, default 0 1 2), or the parameters of
  ``--params`` (a JSON object) for a variant, named by ``--label``.
* ``autoets``: sktime's ``AutoETS(auto=True, sp=SEASON)``.
* ``theta``: sktime's ``ThetaForecaster(sp=SEASON)``.
* ``snaive``: sktime's ``NaiveForecaster(strategy="last", sp=SEASON)``.

Metrics: sMAPE (M4 definition) and MASE scaled by the in-sample seasonal naive
(``m = SEASON``), fit seconds. The summary gives, per contestant, the mean MASE and
mean sMAPE over the series (for ours: over series and seeds) and the MASE ratio to
AutoETS.

``--m4`` adds the M4 Weekly panel (359 series, horizon 13, one global network per
seed; minutes per fit) for ``gru``/``lstm``, beside the naive forecast.

Everything runs in this one process with one torch thread. Every fit appends a
record to ``suite_runs.jsonl`` in ``--output-dir`` (label, series, contestant, seed,
scores, fit seconds, the fitted ``window_length_``/``seasonal_period_``/
``baseline_``, load average); ``suite.md``/``suite.json`` are then built from the
latest record of each (label, series, contestant, seed), with a table of every
seed on airline and M4 Weekly (the sMAPE of each seed, the mean and spread over
seeds, beside the references); ``benchmarks/suite_tables.py`` builds them.
``--table-only`` rebuilds them without fitting.

Usage::

    python benchmarks/bench_suite.py [--models gru lstm autoets theta snaive]
        [--series airline shampoo lynx co2 sunspots] [--seeds 0 1 2]
        [--params '{"window_length": 24}'] [--label NAME] [--m4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from m4_data import load_m4_weekly, to_panel  # noqa: E402
from machine import load_average, machine_info  # noqa: E402
from suite_tables import OURS, markdown, seed_tables, summarise  # noqa: E402

from gatedforecast.metrics import mase, smape  # noqa: E402

HORIZON = 12
M4_HORIZON = 13
SEASON = {"airline": 12, "shampoo": 12, "lynx": 1, "co2": 12, "sunspots": 1}
ALL_SERIES = list(SEASON)
REFERENCES = ("autoets", "theta", "snaive")
ALL_MODELS = [*OURS, *REFERENCES]
LABELS = {
    "gru": "GRUForecaster",
    "lstm": "LSTMForecaster",
    "autoets": "AutoETS(auto=True, sp)",
    "theta": "ThetaForecaster(sp)",
    "snaive": "seasonal naive",
    "naive": "naive (last value)",
}
RECORDS = "suite_runs.jsonl"


# ---------------------------------------------------------------------- data
def load_series(name: str) -> pd.Series:
    """The whole series (training part and the held-out ``HORIZON`` steps)."""
    if name == "airline":
        from sktime.datasets import load_airline

        return load_airline()
    if name == "shampoo":
        from sktime.datasets import load_shampoo_sales

        return load_shampoo_sales()
    if name == "lynx":
        from sktime.datasets import load_lynx

        return load_lynx()
    if name == "co2":
        import statsmodels.api as sm

        weekly = sm.datasets.co2.load_pandas().data["co2"]
        monthly = weekly.resample("MS").mean().interpolate("linear")
        return monthly.to_period("M").rename("co2")
    if name == "sunspots":
        import statsmodels.api as sm

        data = sm.datasets.sunspots.load_pandas().data
        index = pd.PeriodIndex(data["YEAR"].astype(int), freq="Y")
        return pd.Series(data["SUNACTIVITY"].to_numpy(), index=index, name="sunspots")
    raise ValueError(f"unknown series {name!r}; choose from {ALL_SERIES}")


def split(y: pd.Series, horizon: int = HORIZON) -> tuple[pd.Series, pd.Series]:
    return y.iloc[:-horizon], y.iloc[-horizon:]


# ------------------------------------------------------------------- models
def make_model(model: str, season: int, seed: int | None, params: dict):
    if model in OURS:
        from gatedforecast import GRUForecaster, LSTMForecaster

        cls = GRUForecaster if model == "gru" else LSTMForecaster
        return cls(**params, random_state=seed)
    if model == "autoets":
        from sktime.forecasting.ets import AutoETS

        return AutoETS(auto=True, sp=season, n_jobs=1)
    if model == "theta":
        from sktime.forecasting.theta import ThetaForecaster

        # with no season there is nothing to deseasonalise (and its
        # multiplicative test refuses series with zeros, such as sunspots)
        return ThetaForecaster(sp=season, deseasonalize=season > 1)
    if model == "snaive":
        from sktime.forecasting.naive import NaiveForecaster

        return NaiveForecaster(strategy="last", sp=season)
    raise ValueError(f"unknown model {model!r}; choose from {ALL_MODELS}")


def fitted_choices(forecaster) -> dict:
    """The data-driven choices a fitted forecaster of ours shows (when it has them)."""
    out = {}
    for name in ("window_length_", "seasonal_period_", "baseline_", "horizon_"):
        value = getattr(forecaster, name, None)
        if value is not None or hasattr(forecaster, name):
            out[name] = value
    if hasattr(forecaster, "n_epochs_"):
        out["n_epochs_"] = int(forecaster.n_epochs_)
    return out


def run_one(series: str, model: str, seed, params: dict) -> dict:
    y = load_series(series)
    train, test = split(y)
    season = SEASON[series]
    fh = np.arange(1, HORIZON + 1)
    with warnings.catch_warnings():
        # sktime's remember_data notice at construction, statsmodels' fit notes
        warnings.simplefilter("ignore")
        forecaster = make_model(model, season, seed, params)
        load = load_average()
        started = time.perf_counter()
        forecaster.fit(train, fh=fh)
        fit_seconds = time.perf_counter() - started
        y_pred = forecaster.predict()
    yhat = np.asarray(y_pred, dtype=np.float64).reshape(1, -1)
    truth = test.to_numpy(dtype=np.float64).reshape(1, -1)
    history = [train.to_numpy(dtype=np.float64)]
    record = {
        "series": series,
        "model": model,
        "seed": seed,
        "smape": smape(truth, yhat),
        "mase": mase(truth, yhat, history, season=season),
        "fit_seconds": fit_seconds,
        "n_train": len(train),
        "season": season,
        "load_average_before_fit": load,
    }
    if model in OURS:
        record["fitted"] = fitted_choices(forecaster)
    return record


def run_m4(model: str, seed, params: dict) -> dict:
    train, test, ids = load_m4_weekly()
    load = load_average()
    if model == "naive":
        started = time.perf_counter()
        yhat = np.stack([np.repeat(s[-1], M4_HORIZON) for s in train])
        fit_seconds = time.perf_counter() - started
        record = {}
    else:
        forecaster = make_model(model, 1, seed, params)
        panel = to_panel(train, ids)
        started = time.perf_counter()
        forecaster.fit(panel, fh=np.arange(1, M4_HORIZON + 1))
        fit_seconds = time.perf_counter() - started
        y_pred = forecaster.predict()
        yhat = np.stack([y_pred.loc[i].iloc[:, 0].to_numpy() for i in ids])
        record = {"fitted": fitted_choices(forecaster)}
    return {
        "series": "m4_weekly",
        "model": model,
        "seed": seed,
        "smape": smape(test, yhat),
        "mase": mase(test, yhat, train, season=1),
        "fit_seconds": fit_seconds,
        "n_series": len(train),
        "season": 1,
        "load_average_before_fit": load,
        **record,
    }


# ------------------------------------------------------------------- tables
def read_records(output_dir: Path) -> list[dict]:
    path = output_dir / RECORDS
    if not path.exists():
        return []
    latest = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        latest[(r["label"], r["series"], r["model"], r["seed"])] = r
    return list(latest.values())


def write_tables(args) -> None:
    records = read_records(args.output_dir)
    if args.labels:
        # every M4 run is shown: each is minutes of evidence
        records = [
            r
            for r in records
            if r["model"] not in OURS
            or r["label"] in args.labels
            or r["series"] == "m4_weekly"
        ]
    import torch

    torch.set_num_threads(args.threads)
    results = {
        "horizon": HORIZON,
        "season": SEASON,
        "machine": machine_info(),
        **summarise(records, SEASON),
        "seed_tables": seed_tables(records),
        "notes": args.note or [],
        "records": records,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "suite.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.output_dir / "suite.md").write_text(markdown(results, args.command))
    print(f"wrote {args.output_dir / 'suite.md'} and suite.json")


# --------------------------------------------------------------------- main
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=ALL_MODELS, choices=ALL_MODELS)
    parser.add_argument("--series", nargs="*", default=ALL_SERIES, choices=ALL_SERIES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--params", default="{}", help="JSON parameters of ours")
    parser.add_argument("--label", default="defaults")
    parser.add_argument("--m4", action="store_true", help="add M4 Weekly (slow)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument(
        "--labels",
        nargs="+",
        help="labels of ours shown in the dev-suite table (default all; M4 runs "
        "are always shown)",
    )
    parser.add_argument(
        "--note", action="append", help="a paragraph for the table's header"
    )
    parser.add_argument(
        "--command",
        default="python benchmarks/bench_suite.py",
        help="the command(s) shown in the table's header",
    )
    args = parser.parse_args(argv)
    if not args.table_only:
        import torch

        torch.set_num_threads(args.threads)
        import torch._dynamo  # imported once, outside any fit time

        params = json.loads(args.params)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        jobs = []
        for series in args.series:
            for model in args.models:
                seeds = args.seeds if model in OURS else [None]
                jobs += [(series, model, seed) for seed in seeds]
        if args.m4:
            jobs += [("m4_weekly", "naive", None)]
            jobs += [
                ("m4_weekly", m, seed)
                for m in args.models
                if m in OURS
                for seed in args.seeds
            ]
        for series, model, seed in jobs:
            try:
                if series == "m4_weekly":
                    record = run_m4(model, seed, params)
                else:
                    record = run_one(series, model, seed, params)
            except Exception as error:  # a reference that cannot fit a series
                record = {
                    "series": series,
                    "model": model,
                    "seed": seed,
                    "failed": f"{type(error).__name__}: {error}"[:300],
                }
            record["label"] = args.label if model in OURS else "reference"
            record["params"] = params if model in OURS else None
            record["commit"] = machine_info()["commit"]
            record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            shown = {
                k: round(v, 3) if isinstance(v, float) else v
                for k, v in record.items()
                if k in ("smape", "mase", "fit_seconds", "failed", "fitted")
            }
            print(f"{series} {model} seed={seed}: {shown}", flush=True)
            with open(args.output_dir / RECORDS, "a") as log:
                log.write(json.dumps(record) + "\n")
    write_tables(args)


if __name__ == "__main__":
    main()
