"""Scaling of a global fit with the number of series, on a synthetic panel.

N series x 1,000 points each (N = 1,000, 3,000, 10,000 by default): per series a
level, a sine of its own period, amplitude and phase, and Gaussian noise. One
``GRUForecaster`` per N, with the work per epoch bounded: ``batch_size=256``,
``steps_per_epoch=50``, ``max_epochs=2`` (25,600 windows processed whatever N
is), ``hidden_sizes=32``, ``window_length=52``, horizon 13, other parameters at
their defaults (so the conformal default holds out one calibration window per
series).

Each N runs in its own child process (``--n-series N``), which prints one JSON
line, so the peak resident memory (``ru_maxrss``) is that of the fit of that N
alone. Reported per N:

* peak RSS of the process, and the RSS once the panel is built (before fit);
* fit seconds end to end through sktime, and the parts: the forecaster's own
  ``_fit`` (timed by wrapping the bound method), the training loop (sum of the
  epochs' ``seconds`` in ``history_``), and the rest (sktime's input checks and
  conversion: fit minus ``_fit``);
* seconds per processed window: fit seconds / 25,600, and training-loop seconds /
  25,600 (this one should stay flat across N);
* predict seconds for all series (median of ``--predict-repeats`` after a
  warm-up), end to end through sktime and the forecaster's own ``_predict``.

Usage::

    python benchmarks/bench_scale.py [--n-series 1000 3000 10000] [--threads N]
        [--output-dir benchmarks/results]
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
from machine import load_average, machine_info, peak_rss_mb  # noqa: E402

LENGTH = 1000
HORIZON = 13
SETTINGS = {
    "window_length": 52,
    "hidden_sizes": 32,
    "batch_size": 256,
    "steps_per_epoch": 50,
    "max_epochs": 2,
    "random_state": 0,
}
WINDOWS_PROCESSED = (
    SETTINGS["batch_size"] * SETTINGS["steps_per_epoch"] * SETTINGS["max_epochs"]
)
RSS_LIMIT_MB = 3 * 1024


def rss_mb() -> float:
    """Current resident memory of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_panel(n_series: int, length: int = LENGTH, seed: int = 0):
    """``n_series`` x ``length`` sktime ``pd-multiindex`` panel (one column ``y``)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    level = rng.uniform(10, 1000, size=(n_series, 1))
    amplitude = level * rng.uniform(0.05, 0.3, size=(n_series, 1))
    period = rng.uniform(7, 60, size=(n_series, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n_series, 1))
    noise = rng.normal(0.0, 1.0, size=(n_series, length)) * amplitude * 0.2
    values = level + amplitude * np.sin(2 * np.pi * t / period + phase) + noise
    index = pd.MultiIndex.from_arrays(
        [
            np.repeat(np.arange(n_series, dtype=np.int64), length),
            np.tile(np.arange(length, dtype=np.int64), n_series),
        ],
        names=["series", "time"],
    )
    return pd.DataFrame({"y": values.ravel()}, index=index)


def _timed(method, sink: list, cpu_sink: list | None = None):
    """Wrap a callable so each call's wall seconds are appended to ``sink`` (and
    its process CPU seconds to ``cpu_sink``)."""

    def wrapper(*args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - started)
            if cpu_sink is not None:
                cpu_sink.append(time.process_time() - cpu)

    return wrapper


def child(n_series: int, predict_repeats: int) -> dict:
    import torch

    from gatedforecast import GRUForecaster
    from gatedforecast.engine import SeriesEngine, fitting

    rss_start = rss_mb()
    started = time.perf_counter()
    panel = synthetic_panel(n_series)
    build_seconds = time.perf_counter() - started
    rss_data = rss_mb()

    forecaster = GRUForecaster(**SETTINGS)
    # where fit's time goes, wall and CPU seconds: sktime's checks around _fit,
    # reading the panel into arrays (_collect), the training loop
    # (train_network) and the calibration of intervals (SeriesEngine.calibrate).
    # The wrappers sit on this instance and on the engine's names, in this child
    # process only; the package is unchanged.
    parts = {name: ([], []) for name in ("_fit", "_collect", "loop", "_calibrate")}
    for name in ("_fit", "_collect"):
        setattr(forecaster, name, _timed(getattr(forecaster, name), *parts[name]))
    SeriesEngine.calibrate = _timed(SeriesEngine.calibrate, *parts["_calibrate"])
    fitting.train_network = _timed(fitting.train_network, *parts["loop"])
    inner_predict = []
    load = load_average()
    started, cpu = time.perf_counter(), time.process_time()
    forecaster.fit(panel, fh=np.arange(1, HORIZON + 1))
    fit_seconds = time.perf_counter() - started
    fit_cpu = time.process_time() - cpu
    rss_after_fit = rss_mb()
    peak_fit = peak_rss_mb()
    loop = float(forecaster.history_["seconds"].sum())
    inner_fit = parts["_fit"][0]

    forecaster._predict = _timed(forecaster._predict, inner_predict)
    y_pred = forecaster.predict()  # warm-up
    inner_predict.clear()
    runs, cpu_runs = [], []
    for _ in range(predict_repeats):
        started, cpu = time.perf_counter(), time.process_time()
        y_pred = forecaster.predict()
        runs.append(time.perf_counter() - started)
        cpu_runs.append(time.process_time() - cpu)
    assert len(y_pred) == n_series * HORIZON, len(y_pred)
    return {
        "n_series": n_series,
        "n_observations": n_series * LENGTH,
        "panel_build_seconds": build_seconds,
        "rss_start_mb": rss_start,
        "rss_with_panel_mb": rss_data,
        "rss_after_fit_mb": rss_after_fit,
        "peak_rss_fit_mb": peak_fit,
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu,
        "inner_fit_seconds": inner_fit[0],
        "sktime_fit_overhead_seconds": fit_seconds - inner_fit[0],
        "training_loop_seconds": loop,
        "fit_outside_loop_seconds": fit_seconds - loop,
        "windows_processed": WINDOWS_PROCESSED,
        "seconds_per_window": fit_seconds / WINDOWS_PROCESSED,
        "loop_seconds_per_window": loop / WINDOWS_PROCESSED,
        "fit_parts_seconds": {k: sum(v[0]) for k, v in parts.items()},
        "fit_parts_cpu_seconds": {k: sum(v[1]) for k, v in parts.items()},
        "sktime_fit_overhead_cpu_seconds": fit_cpu - sum(parts["_fit"][1]),
        "loop_cpu_seconds_per_window": sum(parts["loop"][1]) / WINDOWS_PROCESSED,
        "predict_seconds": statistics.median(runs),
        "predict_cpu_seconds": statistics.median(cpu_runs),
        "predict_seconds_runs": runs,
        "inner_predict_seconds": statistics.median(inner_predict),
        "load_average_before_fit": load,
        "torch_threads": torch.get_num_threads(),
    }


def spawn(n_series: int, args) -> dict:
    command = [sys.executable, __file__, "--child", str(n_series)]
    command += ["--predict-repeats", str(args.predict_repeats)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    print(f"$ {' '.join(command[1:])}  (load {load_average()})", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-2000:]
        print(tail, file=sys.stderr)
        return {
            "n_series": n_series,
            "failed": f"exit {done.returncode}: {tail[-500:]}",
        }
    record = json.loads(lines[-1][len("RESULT ") :])
    print(
        "  "
        + json.dumps(
            {
                k: round(record[k], 6)
                for k in (
                    "peak_rss_mb",
                    "fit_seconds",
                    "training_loop_seconds",
                    "loop_seconds_per_window",
                    "predict_seconds",
                )
            }
        ),
        flush=True,
    )
    return record


def markdown(results: dict) -> str:
    lines = [
        f"Synthetic panel, N series x {LENGTH} points; GRUForecaster "
        f"(hidden 32, window 52, horizon 13, batch 256, 50 steps x 2 epochs = "
        f"{WINDOWS_PROCESSED:,} windows processed), one child process per N.",
        "",
        "| N series | peak RSS MB | RSS with panel MB | fit s | fit CPU s | of which "
        "sktime checks s | training loop s | fit µs/window | loop µs/window | "
        "predict s (all series) | _predict s | load before fit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        if "failed" in r:
            lines.append(f"| {r['n_series']:,} | failed: {r['failed'][:100]} |")
            continue
        lines.append(
            f"| {r['n_series']:,} | {r['peak_rss_mb']:.0f} | "
            f"{r['rss_with_panel_mb']:.0f} | {r['fit_seconds']:.1f} | "
            f"{r['fit_cpu_seconds']:.1f} | "
            f"{r['sktime_fit_overhead_seconds']:.1f} | "
            f"{r['training_loop_seconds']:.1f} | "
            f"{1e6 * r['seconds_per_window']:.0f} | "
            f"{1e6 * r['loop_seconds_per_window']:.0f} | "
            f"{r['predict_seconds']:.2f} | {r['inner_predict_seconds']:.2f} | "
            f"{r['load_average_before_fit']} |"
        )
    with_parts = [r for r in results["rows"] if "fit_parts_cpu_seconds" in r]
    lines += (
        []
        if not with_parts
        else [
            "",
            "CPU seconds of the process (the machine may be shared, so wall seconds "
            "above include waiting for a core; CPU seconds do not):",
            "",
            "| N series | fit CPU s | sktime checks | _collect (panel to arrays) | "
            "training loop | _calibrate | loop CPU µs/window | predict CPU s |",
            "|---|---|---|---|---|---|---|---|",
        ]
    )
    for r in with_parts:
        cpu = r["fit_parts_cpu_seconds"]
        lines.append(
            f"| {r['n_series']:,} | {r['fit_cpu_seconds']:.1f} | "
            f"{r['sktime_fit_overhead_cpu_seconds']:.1f} | {cpu['_collect']:.1f} | "
            f"{cpu['loop']:.1f} | {cpu['_calibrate']:.1f} | "
            f"{1e6 * r['loop_cpu_seconds_per_window']:.0f} | "
            f"{r['predict_cpu_seconds']:.2f} |"
        )
    good = [r for r in results["rows"] if "failed" not in r]
    if good:
        largest = max(good, key=lambda r: r["n_series"])
        verdict = "under" if largest["peak_rss_mb"] < RSS_LIMIT_MB else "OVER"
        lines += [
            "",
            f"Peak RSS at N = {largest['n_series']:,}: {largest['peak_rss_mb']:.0f} MB, "
            f"{verdict} the 3 GB target.",
        ]
        if len(good) > 1 and all("loop_cpu_seconds_per_window" in r for r in good):
            cpu_loops = [r["loop_cpu_seconds_per_window"] for r in good]
            lines.append(
                f"Training-loop CPU time per window, largest N / smallest N: "
                f"{cpu_loops[-1] / cpu_loops[0]:.2f}x."
            )
        if len(good) > 1:
            loops = [r["loop_seconds_per_window"] for r in good]
            fits = [r["seconds_per_window"] for r in good]
            lines.append(
                f"Training-loop wall time per window, largest / smallest N: "
                f"{max(loops) / min(loops):.2f}x; whole fit per window: "
                f"{fits[-1] / fits[0]:.2f}x from N = {good[0]['n_series']:,} to "
                f"{good[-1]['n_series']:,}."
            )
    machine = results["machine"]
    lines += [
        "",
        f"Torch threads: {results['torch_threads']}. Machine: {machine['cpu_count']} "
        f"CPUs, torch {machine['torch']}, Python {machine['python']}, commit "
        f"{(machine['commit'] or '')[:10]}.",
        "",
        f"Command: `{results['command']}`",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-series", nargs="+", type=int, default=[1000, 3000, 10000])
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--predict-repeats", type=int, default=3)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild scale.md from scale.json without running anything",
    )
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads((args.output_dir / "scale.json").read_text())
        (args.output_dir / "scale.md").write_text(markdown(results))
        print(markdown(results))
        return
    if args.child is not None:
        import torch

        if args.threads is not None:
            torch.set_num_threads(args.threads)
        # torch imports torch._dynamo when the first optimizer is built (seconds
        # on a loaded machine, whatever N is): import it before timing the fit
        started = time.perf_counter()
        import torch._dynamo

        dynamo_seconds = time.perf_counter() - started
        record = child(args.child, args.predict_repeats)
        record["torch_dynamo_import_seconds"] = dynamo_seconds
        record["peak_rss_mb"] = peak_rss_mb()
        print("RESULT " + json.dumps(record), flush=True)
        return
    rows = [spawn(n, args) for n in args.n_series]
    results = {
        "benchmark": "global fit scaling with the number of series (synthetic)",
        "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
        "settings": {**SETTINGS, "length": LENGTH, "horizon": HORIZON},
        "torch_threads": args.threads or "torch default",
        "machine": machine_info(),
        "rows": rows,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.output_dir / "scale.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
