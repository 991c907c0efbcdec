"""M4 Weekly, side by side: Naive, our global GRU/LSTM, neuralforecast and Darts.

Horizon 13, input window 52, all 359 series (see ``m4_data.py``). Every system runs
in its own child process (``--system NAME``), which prints one JSON line; the
parent collects them, so each system's peak memory (``ru_maxrss`` of its own
process) is its own and not a delta inside a shared process.

Systems:

* ``naive``: repeat the last value.
* ``gru``, ``lstm``: ``GRUForecaster``/``LSTMForecaster`` fitted once on the whole
  panel (one global network) through sktime at their defaults
  (:data:`RECOMMENDED`: only ``window_length=52``, the benchmark's input window),
  one child per seed; the table shows medians over the seeds.
* ``nf-lstm``, ``nf-gru``: neuralforecast ``LSTM``/``GRU`` at their defaults with
  ``h=13, input_size=52`` (1,000 steps), through ``NeuralForecast(freq=1)``.
* ``darts-gru``, ``darts-lstm``: Darts ``BlockRNNModel`` at its defaults
  (``hidden_dim=25``, one layer, MSE) with ``input_chunk_length=52``,
  ``output_chunk_length=13``, each series min-max scaled with Darts' ``Scaler``,
  and the bare recipe's training budget (20 epochs of the 72 most recent windows
  of each series, 256 windows a batch: about 2,000 steps x 256 windows); Darts'
  own default (100 epochs over all 343,936 windows in batches of 32) would be
  over a million steps.

Peers run only when importable; install them into a separate environment (see
``benchmarks/README.md``) and run this script with that environment's Python.

For each system: sMAPE, MASE (m=1), fit seconds, predict milliseconds for all 359
series (ours: end to end through sktime's ``predict``, and separately the
network's own share, ``engine.forecast(engine.contexts(), 13, ...)``; medians of
``--predict-repeats`` calls after one warm-up), peak RSS of the process, torch
threads, and the load average before the fit (the machine may be shared).

``--variants`` instead fits the variants of :data:`VARIANTS` (GRU, one child
each) and writes ``m4_variants.md``/``.json``: the search behind the
recommended setting.

``--profile-predict`` adds a cProfile of one end-to-end ``predict`` of the first
GRU seed to the results.

Usage::

    python benchmarks/bench_m4.py [--systems naive gru lstm ...] [--seeds 0 1 2]
        [--threads N] [--output-dir benchmarks/results]
    python benchmarks/bench_m4.py --variants [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from m4_data import (  # noqa: E402
    HORIZON,
    QUIET_TRAINER,
    load_m4_weekly,
    naive_forecast,
    quiet_lightning,
    to_long_frame,
    to_panel,
)
from machine import load_average, machine_info, peak_rss_mb  # noqa: E402

from gatedforecast.metrics import mase, smape  # noqa: E402

WINDOW = 52
TARGETS = {
    "naive": {"smape": 9.161, "mase": 2.777},
    "bare PyTorch recipe (DESIGN.md 5)": {"smape": 6.855, "mase": 2.043},
}

#: the setting the main table fits: the forecasters' defaults (100 epochs of at
#: most 100 steps of 32 windows, ``steps_per_epoch="auto"``); ``window_length`` is
#: the benchmark's input window, not a tuning choice. The variant search
#: (``--variants``) compares it with the alternatives.
DEFAULTS = {"window_length": WINDOW}
RECOMMENDED = DEFAULTS

#: the variants compared by ``--variants`` (GRU); each is a full set of the
#: parameters that differ from the forecaster's defaults, plus the seed
VARIANTS = [
    ("defaults (loss=mae)", {}, 0),
    ("loss=mse (the default before this search)", {"loss": "mse"}, 0),
    ("hidden_sizes=128", {"hidden_sizes": 128}, 0),
    ("scaler=standard", {"scaler": "standard"}, 0),
    (
        "interval_method=None (no calibration window held out)",
        {"interval_method": None},
        0,
    ),
    ("max_epochs=200", {"max_epochs": 200}, 0),
    ("dropout=0.1", {"dropout": 0.1}, 0),
    ("dropout=0.2", {"dropout": 0.2}, 0),
]
#: settings the docs recommend beside the defaults, shown in the main table when
#: their seeds have run (``--params``); per seeded system
SETTINGS = {
    "gru": [
        ("GRUForecaster, dropout=0.1", {"dropout": 0.1}),
        ("GRUForecaster, dropout=0.2", {"dropout": 0.2}),
    ],
    "lstm": [
        ("LSTMForecaster, dropout=0.1", {"dropout": 0.1}),
        ("LSTMForecaster, dropout=0.2 (recommended for the LSTM)", {"dropout": 0.2}),
    ],
}
#: the variant that the main run's GRU seeds stand in for (not refitted by default)
RECOMMENDED_VARIANT = 0

LABELS = {
    "naive": "Naive (last value)",
    "gru": "GRUForecaster, defaults",
    "lstm": "LSTMForecaster, defaults",
    "nf-lstm": "neuralforecast LSTM, defaults",
    "nf-gru": "neuralforecast GRU, defaults",
    "darts-gru": "Darts BlockRNNModel GRU",
    "darts-lstm": "Darts BlockRNNModel LSTM",
}
ALL_SYSTEMS = list(LABELS)
#: every child appends its record here (in ``--output-dir``); the tables are built
#: from it, the latest record per system, parameters and seed
RECORDS = "m4_runs.jsonl"
SEEDED = ("gru", "lstm")


# ------------------------------------------------------------------- helpers
def scores(test, yhat, train) -> dict:
    return {"smape": smape(test, yhat), "mase": mase(test, yhat, train)}


def forecast_matrix(y_pred, ids) -> np.ndarray:
    """``(n_series, 13)`` from sktime's panel forecast, rows in the order of ``ids``."""
    keys = y_pred.index.get_level_values(0)
    order = list(dict.fromkeys(keys))
    values = y_pred.iloc[:, 0].to_numpy()
    if order == list(ids) and len(values) == len(ids) * HORIZON:
        return values.reshape(len(ids), HORIZON)
    return np.stack([y_pred.loc[i].iloc[:, 0].to_numpy() for i in ids])


def _median_ms(fn, repeats: int, cpu: list | None = None) -> tuple[float, list]:
    """Median wall milliseconds of ``repeats`` calls after a warm-up; with ``cpu``,
    the median process CPU milliseconds is appended to it."""
    fn()  # warm-up
    runs, cpu_runs = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        runs.append(1000 * (time.perf_counter() - started))
        cpu_runs.append(1000 * (time.process_time() - cpu_started))
    if cpu is not None:
        cpu.append(statistics.median(cpu_runs))
    return statistics.median(runs), runs


# ----------------------------------------------------------------- children
def run_naive(args) -> dict:
    train, test, _ = load_m4_weekly()
    started = time.perf_counter()
    yhat = naive_forecast(train)
    predict_ms = 1000 * (time.perf_counter() - started)
    return {**scores(test, yhat, train), "fit_seconds": 0.0, "predict_ms": predict_ms}


def _ours_class(cell: str):
    from gatedforecast import GRUForecaster, LSTMForecaster

    return {"gru": GRUForecaster, "lstm": LSTMForecaster}[cell]


def run_ours(args, cell: str, params: dict) -> dict:
    import torch

    train, test, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    fh = np.arange(1, HORIZON + 1)
    forecaster = _ours_class(cell)(**params, random_state=args.seed)
    load = load_average()
    started, cpu = time.perf_counter(), time.process_time()
    forecaster.fit(panel, fh=fh)
    fit_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    y_pred = forecaster.predict()
    yhat = forecast_matrix(y_pred, ids)
    cpu = []
    predict_ms, predict_runs = _median_ms(forecaster.predict, args.predict_repeats, cpu)
    engine = forecaster._engine
    contexts = engine.contexts()
    network_ms, network_runs = _median_ms(
        lambda: engine.forecast(contexts, HORIZON, None, forecaster._runtime()),
        args.predict_repeats,
        cpu,
    )
    history = forecaster.history_
    record = {
        **scores(test, yhat, train),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": cpu_seconds,
        "training_loop_seconds": float(history["seconds"].sum()),
        "predict_ms": predict_ms,
        "predict_ms_runs": predict_runs,
        "predict_cpu_ms": cpu[0],
        "network_predict_cpu_ms": cpu[1],
        "network_predict_ms": network_ms,
        "network_predict_ms_runs": network_runs,
        "n_epochs": int(forecaster.n_epochs_),
        "best_epoch": int(forecaster.best_epoch_),
        "n_parameters": int(forecaster.n_parameters_),
        "params": params,
        "seed": args.seed,
        "load_average_before_fit": load,
        "torch_threads": torch.get_num_threads(),
    }
    if args.profile_predict:
        record["predict_profile"] = profile_predict(forecaster)
    return record


def profile_predict(forecaster, top: int = 25) -> list[dict]:
    """cProfile of one end-to-end ``predict``: the top entries by cumulative time."""
    import cProfile
    import pstats

    forecaster.predict()
    profiler = cProfile.Profile()
    profiler.enable()
    forecaster.predict()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_, nc, tt, ct, _) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(filename).name}:{line}({name})",
                "path": filename,
                "ncalls": nc,
                "tottime_ms": 1000 * tt,
                "cumtime_ms": 1000 * ct,
            }
        )
    rows.sort(key=lambda r: r["cumtime_ms"], reverse=True)
    return rows[:top]


def run_neuralforecast(args, cell: str) -> dict:
    import torch

    quiet_lightning()
    from neuralforecast import NeuralForecast
    from neuralforecast.models import GRU, LSTM

    train, test, ids = load_m4_weekly()
    frame = to_long_frame(train, ids)
    model_cls = {"lstm": LSTM, "gru": GRU}[cell]
    # defaults, plus only the trainer switches that keep the log quiet
    model = model_cls(
        h=HORIZON,
        input_size=WINDOW,
        random_seed=args.seed if args.seed is not None else 1,
        **QUIET_TRAINER,
        **({"max_steps": 5} if args.smoke else {}),
    )
    nf = NeuralForecast(models=[model], freq=1)
    load = load_average()
    started, cpu = time.perf_counter(), time.process_time()
    nf.fit(frame)
    fit_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    started = time.perf_counter()
    forecast = nf.predict()
    predict_ms = 1000 * (time.perf_counter() - started)
    predict_ms_median, runs = _median_ms(nf.predict, max(1, args.predict_repeats // 4))
    column = [c for c in forecast.columns if c not in ("unique_id", "ds")][0]
    forecast = forecast.reset_index() if "unique_id" not in forecast else forecast
    forecast = forecast.sort_values(["unique_id", "ds"])
    by_id = {k: g[column].to_numpy() for k, g in forecast.groupby("unique_id")}
    yhat = np.stack([by_id[i] for i in ids])
    return {
        **scores(test, yhat, train),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": cpu_seconds,
        "predict_ms": predict_ms_median,
        "predict_ms_first": predict_ms,
        "predict_ms_runs": runs,
        "seed": model.random_seed,
        "max_steps": model.max_steps,
        "load_average_before_fit": load,
        "torch_threads": torch.get_num_threads(),
    }


def run_darts(args, cell: str) -> dict:
    import torch

    quiet_lightning()
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel

    train, test, ids = load_m4_weekly()
    seed = args.seed if args.seed is not None else 0
    epochs, batch, per_series = (1, 256, 4) if args.smoke else (20, 256, 72)
    load = load_average()
    started, cpu = time.perf_counter(), time.process_time()
    series = [TimeSeries.from_values(s.astype(np.float32)) for s in train]
    scaler = Scaler()
    scaled = scaler.fit_transform(series)
    model = BlockRNNModel(
        input_chunk_length=WINDOW,
        output_chunk_length=HORIZON,
        model=cell.upper(),
        n_epochs=epochs,
        batch_size=batch,
        random_state=seed,
        pl_trainer_kwargs=QUIET_TRAINER,
    )
    model.fit(scaled, max_samples_per_ts=per_series, verbose=False)
    fit_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu

    def predict():
        out = model.predict(n=HORIZON, series=scaled, verbose=False)
        return scaler.inverse_transform(out)

    started = time.perf_counter()
    forecast = predict()
    predict_ms_first = 1000 * (time.perf_counter() - started)
    predict_ms, runs = _median_ms(predict, max(1, args.predict_repeats // 4))
    yhat = np.stack([f.values()[:, 0] for f in forecast])
    return {
        **scores(test, yhat, train),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": cpu_seconds,
        "predict_ms": predict_ms,
        "predict_ms_first": predict_ms_first,
        "predict_ms_runs": runs,
        "seed": seed,
        "settings": {
            "n_epochs": epochs,
            "batch_size": batch,
            "max_samples_per_ts": per_series,
            "scaler": "darts Scaler (min-max per series)",
        },
        "load_average_before_fit": load,
        "torch_threads": torch.get_num_threads(),
    }


def child(args) -> None:
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    # torch imports torch._dynamo when the first optimizer is built (many seconds
    # on a loaded machine); Lightning-based peers import it with their package.
    # Import it here for every system so no fit time includes it.
    started = time.perf_counter()
    import torch._dynamo

    dynamo_seconds = time.perf_counter() - started
    name = args.system
    try:
        if name == "naive":
            record = run_naive(args)
        elif name in SEEDED:
            params = RECOMMENDED if args.params is None else json.loads(args.params)
            if args.smoke:
                params = {**params, "steps_per_epoch": 5, "max_epochs": 1}
            record = run_ours(args, name, params)
        elif name.startswith("nf-"):
            record = run_neuralforecast(args, name[3:])
        elif name.startswith("darts-"):
            record = run_darts(args, name[6:])
        else:
            raise ValueError(f"unknown system {name!r}")
    except ImportError as error:
        record = {"skipped": f"not installed: {error}"}
    record["system"] = name
    record["torch_dynamo_import_seconds"] = dynamo_seconds
    record["peak_rss_mb"] = peak_rss_mb()
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if not args.smoke:
        # every child's record, appended: survives an interrupted parent
        args.output_dir.mkdir(parents=True, exist_ok=True)
        with open(args.output_dir / RECORDS, "a") as log:
            log.write(json.dumps({k: v for k, v in record.items()}) + "\n")
    print("RESULT " + json.dumps(record), flush=True)


# ------------------------------------------------------------------- parent
def spawn(system: str, args, seed=None, params=None) -> dict:
    command = [sys.executable, __file__, "--system", system]
    command += ["--predict-repeats", str(args.predict_repeats)]
    command += ["--output-dir", str(args.output_dir)]
    if seed is not None:
        command += ["--seed", str(seed)]
    if params is not None:
        command += ["--params", json.dumps(params)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.smoke:
        command += ["--smoke"]
    if args.profile_predict and system == "gru" and seed == args.seeds[0]:
        command += ["--profile-predict"]
    print(f"$ {' '.join(command[1:])}  (load {load_average()})", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-2000:]
        print(tail, file=sys.stderr)
        return {"system": system, "failed": f"exit {done.returncode}: {tail[-500:]}"}
    record = json.loads(lines[-1][len("RESULT ") :])
    shown = {
        k: record[k]
        for k in ("smape", "mase", "fit_seconds", "predict_ms", "peak_rss_mb")
        if k in record
    }
    print(f"  {json.dumps(shown)}", flush=True)
    return record


def _median(records, key):
    values = [r[key] for r in records if key in r]
    return statistics.median(values) if values else None


def summarise(system: str, records: list[dict], label: str | None = None) -> dict:
    """One table row: medians over seeds for the seeded systems."""
    label = label or LABELS[system]
    if len(records) == 1:
        return {"label": label, **records[0]}
    keys = (
        "smape",
        "mase",
        "fit_seconds",
        "fit_cpu_seconds",
        "predict_ms",
        "network_predict_ms",
        "peak_rss_mb",
    )
    row = {"label": label, "system": system, "seeds": len(records)}
    for key in keys:
        row[key] = _median(records, key)
        row[f"{key}_all"] = [r.get(key) for r in records]
    row["load_average_before_fit"] = [r.get("load_average_before_fit") for r in records]
    row["torch_threads"] = records[0].get("torch_threads")
    return row


PARTIAL = "summary line only"


def _mark(row) -> str:
    """A footnote mark for a record kept only as a summary line."""
    return " ¹" if PARTIAL in row.get("note", "") else ""


def _footnote(rows) -> list[str]:
    if not any(_mark(r) for r in rows):
        return []
    return [
        "",
        "¹ Kept only as the summary line (sMAPE, MASE, fit s, predict ms, peak RSS) "
        "its parent printed: the full record was lost when the parent process was "
        "killed; the load is the one before the child started.",
    ]


def _fmt(value, digits):
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(results: dict) -> str:
    rows = results["rows"]
    lines = [
        "M4 Weekly (359 series), horizon 13, input window 52. One child process per "
        "system and seed; medians over seeds where several ran (range in brackets).",
        "",
        "| system | sMAPE | MASE | fit s | fit CPU s | predict ms (all series) | "
        "network ms | peak RSS MB | load before fit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        label = row["label"] + _mark(row)
        if "skipped" in row or "failed" in row:
            why = row.get("skipped") or row.get("failed")
            lines.append(f"| {label} | not run: {why[:120]} | | | | | | | |")
            continue

        def cell(key, digits, row=row):
            text = _fmt(row.get(key), digits)
            spread = row.get(f"{key}_all")
            if spread and len(spread) > 1 and None not in spread:
                text += f" [{min(spread):.{digits}f}–{max(spread):.{digits}f}]"
            return text

        load = row.get("load_average_before_fit")
        if isinstance(load, list) and load and isinstance(load[0], list):
            load = "; ".join(str(x[0]) for x in load if x)
        elif isinstance(load, list):
            load = load[0]
        lines.append(
            f"| {label} | {cell('smape', 3)} | {cell('mase', 3)} | "
            f"{cell('fit_seconds', 1)} | {cell('fit_cpu_seconds', 1)} | "
            f"{cell('predict_ms', 1)} | "
            f"{cell('network_predict_ms', 1)} | {_fmt(row.get('peak_rss_mb'), 0)} | "
            f"{load} |"
        )
    lines += _footnote(rows)
    lines += [
        "",
        "References (DESIGN.md §5, same machine kind): Naive sMAPE 9.161 / MASE "
        "2.777; bare PyTorch recipe sMAPE 6.855 / MASE 2.043 in 104 s.",
        "",
        f"Our setting: `{results['recommended']}` (defaults otherwise).",
    ]
    machine = results["machine"]
    lines += [
        "",
        f"Torch threads per child: {results['torch_threads']}. Machine: "
        f"{machine['cpu_count']} CPUs, torch {machine['torch']}, Python "
        f"{machine['python']}, commit {machine['commit'][:10]}.",
        "",
        f"Command: `{results['command']}`",
        "",
    ]
    return "\n".join(lines)


def variants_markdown(results: dict) -> str:
    lines = [
        "Variant search on M4 Weekly, GRUForecaster on the whole panel, "
        "window_length=52 in every row; parameters listed are those that differ "
        "from the forecaster's defaults. One fit per row and seed.",
        "",
        "| variant | seed | sMAPE | MASE | fit s (CPU s) | epochs (best) | "
        "load before fit |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        if "failed" in row:
            lines.append(f"| {row['label']} | {row['seed']} | failed | | | | |")
            continue
        lines.append(
            f"| {row['label']}{_mark(row)} | {row['seed']} | {row['smape']:.3f} | "
            f"{row['mase']:.3f} | {row['fit_seconds']:.1f} "
            f"({_fmt(row.get('fit_cpu_seconds'), 1)}) | {row.get('n_epochs', '—')} "
            f"({row.get('best_epoch', '—')}) | {row['load_average_before_fit']} |"
        )
    lines += _footnote(results["rows"])
    lines += [
        "",
        f"Torch threads per child: {results['torch_threads']}.",
        "",
        f"Command: `{results['command']}`",
        "",
    ]
    return "\n".join(lines)


def _threads(rows: list[dict]) -> str:
    """The torch thread counts the rows ran with."""
    counts = {r.get("torch_threads") for r in rows} - {None}
    return ", ".join(str(c) for c in sorted(counts)) or "unknown"


def read_records(output_dir: Path) -> list[dict]:
    """Every child's record from ``m4_runs.jsonl``, oldest first."""
    path = output_dir / RECORDS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _latest(records: list[dict], match) -> dict[int | None, dict]:
    """The latest finished record per seed among those ``match`` accepts."""
    by_seed = {}
    for record in records:
        if match(record) and "failed" not in record:
            by_seed[record.get("seed")] = record
    return by_seed


def variant_rows(records: list[dict]) -> list[dict]:
    """One row per variant and seed: the latest record with its parameters."""
    rows = []
    for i, (label, params, _) in enumerate(VARIANTS):
        wanted = {**DEFAULTS, **params}
        found = _latest(
            records,
            lambda r, wanted=wanted: (
                r.get("system") == "gru" and r.get("params") == wanted
            ),
        )
        for s in sorted(found):
            rows.append({**found[s], "label": label, "variant": i, "seed": s})
    return rows


def write_variants(args) -> dict:
    results = {
        "benchmark": "M4 Weekly variant search (GRUForecaster, global)",
        "command": "python benchmarks/bench_m4.py --variants --variant-ids ..."
        + (f" --threads {args.threads}" if args.threads else " --threads 1"),
        "machine": machine_info(),
        "variants": [
            {"index": i, "label": label, "params": {**DEFAULTS, **params}, "seed": seed}
            for i, (label, params, seed) in enumerate(VARIANTS)
        ],
        "rows": variant_rows(read_records(args.output_dir)),
    }
    results["torch_threads"] = _threads(results["rows"])
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "m4_variants.json").write_text(
        json.dumps(results, indent=2) + "\n"
    )
    (args.output_dir / "m4_variants.md").write_text(variants_markdown(results))
    return results


def run_variants(args) -> None:
    """Fit the variants of ``--variant-ids`` (all but the recommended one, whose
    seeds the main run fits, by default), one child each, then rebuild the table
    from every record in ``m4_runs.jsonl``; ``--variant-ids`` with no index only
    rebuilds it."""
    ids = args.variant_ids
    if ids is None:
        ids = [i for i in range(len(VARIANTS)) if i != RECOMMENDED_VARIANT]
    for i in ids:
        _, params, seed = VARIANTS[i]
        spawn("gru", args, seed=seed, params={**DEFAULTS, **params})
        write_variants(args)
    print(variants_markdown(write_variants(args)))


def main_rows(records: list[dict], systems=ALL_SYSTEMS) -> list[dict]:
    """The side-by-side table: per system the latest record (per seed for ours at
    the recommended setting, summarised over the seeds)."""
    rows = []
    for system in systems:
        if system in SEEDED:
            found = _latest(
                records,
                lambda r, system=system: (
                    r.get("system") == system and r.get("params") == RECOMMENDED
                ),
            )
            if found:
                runs = [found[s] for s in sorted(found)]
                rows.append({**summarise(system, runs), "runs": runs})
            for label, params in SETTINGS.get(system, []):
                wanted = {**DEFAULTS, **params}
                found = _latest(
                    records,
                    lambda r, system=system, wanted=wanted: (
                        r.get("system") == system and r.get("params") == wanted
                    ),
                )
                if found:
                    runs = [found[s] for s in sorted(found)]
                    rows.append({**summarise(system, runs, label), "runs": runs})
            continue
        found = _latest(records, lambda r, system=system: r.get("system") == system)
        if found:
            rows.append({"label": LABELS[system], **list(found.values())[-1]})
    return rows


def write_main(args, command: str) -> dict:
    results = {
        "benchmark": "M4 Weekly, global models side by side",
        "command": command,
        "recommended": RECOMMENDED,
        "targets": TARGETS,
        "machine": machine_info(),
        "rows": main_rows(read_records(args.output_dir)),
    }
    results["torch_threads"] = _threads(results["rows"])
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "m4.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.output_dir / "m4.md").write_text(markdown(results))
    return results


def parent(args) -> None:
    """Run every system (ours once per seed) in its own child, then write the
    table from the records, the latest per system and seed."""
    for system in args.systems:
        if system in SEEDED:
            for seed in args.seeds:
                spawn(system, args, seed=seed)
        else:
            spawn(system, args)
    command = "python benchmarks/bench_m4.py " + " ".join(sys.argv[1:])
    print(markdown(write_main(args, command)))


def report(args) -> None:
    """Rebuild m4.md/json and m4_variants.md/json from ``m4_runs.jsonl``."""
    command = "python benchmarks/bench_m4.py --threads 1 (children run separately)"
    print(markdown(write_main(args, command)))
    print(variants_markdown(write_variants(args)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--systems", nargs="+", default=ALL_SYSTEMS, choices=ALL_SYSTEMS
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--predict-repeats", type=int, default=20)
    parser.add_argument("--profile-predict", action="store_true")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument(
        "--variant-ids",
        nargs="*",
        type=int,
        default=None,
        help="indices into VARIANTS to fit with --variants (none: rebuild the table)",
    )
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument(
        "--report",
        action="store_true",
        help=f"only rebuild the tables from the records in {RECORDS}",
    )
    # child mode
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
    # a few steps per system, to check that every system runs
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.system:
        child(args)
    elif args.report:
        report(args)
    elif args.variants:
        run_variants(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
