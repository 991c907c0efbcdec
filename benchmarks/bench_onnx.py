"""Latency of a forecast: sktime's predict, the bare network and onnxruntime.

One series and all 359 series of M4 Weekly, forecast 13 steps from the last 52
values, on one CPU thread. For each model (GRU and LSTM with a direct 13-step head,
and a GRU with the recursive strategy, rolled out 13 one-step passes) two
forecasters are fitted briefly (latency does not depend on how well a network is
trained): one on series W1 alone, one global network on the whole panel. Each is
timed four ways:

* ``sktime predict``: ``forecaster.predict()``, the public path (pandas in and out);
* ``bare network``: one forward pass of the torch network on windows already
  scaled and normalised (no scaling, no roll-out, no pandas);
* ``torch forecast path``: :class:`gatedforecast.export.ForecastPath`, the path
  the ONNX file holds (raw windows in, raw forecasts out), run in torch;
* ``onnxruntime``: the exported file, raw windows in, raw forecasts out, one
  intra-op and one inter-op thread.

Each timing is the median of repeated calls after a warm-up (enough calls to fill
about half a second, at least 5). onnxruntime's forecasts of the whole panel are
compared with ``predict``'s: the largest absolute and relative differences.

Usage::

    python benchmarks/bench_onnx.py [--epochs 2] [--output-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from m4_data import HORIZON, load_m4_weekly, to_panel
from machine import load_average, machine_info

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.export import export_onnx, forecast_path

WINDOW = 52
MODELS = {
    "GRU direct": (GRUForecaster, "direct"),
    "LSTM direct": (LSTMForecaster, "direct"),
    "GRU recursive": (GRUForecaster, "recursive"),
}
#: seconds of calls each timing aims for
BUDGET = 0.5


def median_ms(call, budget: float = BUDGET, least: int = 5) -> dict:
    """Median and fastest milliseconds of ``call()`` after three warm-up calls."""
    for _ in range(3):
        call()
    times = []
    started = time.perf_counter()
    while len(times) < least or time.perf_counter() - started < budget:
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
        if len(times) >= 2000:
            break
    return {
        "median_ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
        "calls": len(times),
    }


def _fit(cls, strategy, y, epochs):
    forecaster = cls(
        window_length=WINDOW,
        strategy=strategy,
        max_epochs=epochs,
        steps_per_epoch=20,
        interval_method=None,
        device="cpu",
        n_threads=1,
        random_state=0,
    )
    return forecaster.fit(y, fh=np.arange(1, HORIZON + 1))


def _session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options)


def time_model(forecaster, windows: np.ndarray, folder: Path, name: str) -> dict:
    """The four timings of one fitted forecaster on its own series, whose last
    raw windows are ``windows`` ``(n_series, WINDOW, 1)``."""
    n = len(windows)
    engine = forecaster._engine
    series = np.arange(n, dtype=np.int64)

    network = engine.network
    contexts = torch.as_tensor(engine.contexts(), dtype=torch.float32)
    inputs, _ = engine.setup.transform.inputs(contexts)

    def bare():
        with torch.no_grad():
            network(inputs, dropout=False)

    module = forecast_path(forecaster, HORIZON)
    y_raw, s_raw = torch.as_tensor(windows), torch.as_tensor(series)

    def path_in_torch():
        with torch.no_grad():
            module(y_raw, s_raw)

    path = folder / f"{name}.onnx"
    started = time.perf_counter()
    export_onnx(forecaster, path, horizon=HORIZON)
    export_s = time.perf_counter() - started
    session = _session(path)
    feed = {"y": windows, "series": series}

    def onnxruntime():
        session.run(["forecast"], feed)

    predicted = forecaster.predict().to_numpy().reshape(n, HORIZON)
    served = session.run(["forecast"], feed)[0].reshape(n, HORIZON)
    difference = np.abs(served - predicted)
    return {
        "n_series": n,
        "sktime predict": median_ms(forecaster.predict),
        "bare network": median_ms(bare),
        "torch forecast path": median_ms(path_in_torch),
        "onnxruntime": median_ms(onnxruntime),
        "max_abs_difference": float(difference.max()),
        "max_rel_difference": float((difference / np.abs(predicted)).max()),
        # in the units the network computes in: per series' scale
        "max_scaled_difference": float(
            (difference / engine.scaler.scale_[:, :1]).max()
        ),
        "onnx_bytes": path.stat().st_size,
        "export_s": export_s,
        "head": forecaster.horizon_,
    }


def run(epochs: int, output_dir: Path) -> dict:
    torch.set_num_threads(1)
    train, _, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    single = to_panel(train[:1], ids[:1])
    results = {
        "settings": {
            "window_length": WINDOW,
            "horizon": HORIZON,
            "hidden_sizes": 64,
            "epochs": epochs,
            "steps_per_epoch": 20,
            "torch_threads": 1,
            "onnxruntime_threads": 1,
            "budget_s": BUDGET,
        },
        "models": {},
        "load_average_before": load_average(),
    }
    import onnxruntime

    results["onnxruntime"] = onnxruntime.__version__
    with tempfile.TemporaryDirectory() as folder:
        for name, (cls, strategy) in MODELS.items():
            rows = {}
            for label, y, series in (("1", single, train[:1]), ("359", panel, train)):
                forecaster = _fit(cls, strategy, y, epochs)
                windows = np.stack([s[-WINDOW:] for s in series])[..., None]
                rows[label] = time_model(
                    forecaster, windows, Path(folder), f"{name}-{label}"
                )
                print(name, label, json.dumps(rows[label]), flush=True)
            results["models"][name] = rows
    results["machine"] = machine_info()
    results["load_average_after"] = load_average()
    write(results, output_dir)
    return results


SYSTEMS = ["sktime predict", "bare network", "torch forecast path", "onnxruntime"]


def markdown(results: dict) -> str:
    settings, machine = results["settings"], results["machine"]
    lines = [
        "# Forecast latency: sktime predict, the bare network, onnxruntime",
        "",
        f"M4 Weekly, window {settings['window_length']}, {settings['horizon']} steps, "
        f"hidden size {settings['hidden_sizes']}, one torch thread and one "
        "onnxruntime thread. Median milliseconds per call (fastest in brackets), "
        "for one series (a forecaster fitted on W1) and for all 359 series in one "
        "call (one global network).",
        "",
        "| model | series | " + " | ".join(SYSTEMS) + " | max abs diff | "
        "max rel diff | max scaled diff |",
        "|---|---|" + "---|" * (len(SYSTEMS) + 3),
    ]
    for name, rows in results["models"].items():
        for label, row in rows.items():
            cells = [
                f"{row[s]['median_ms']:.3f} ({row[s]['min_ms']:.3f})" for s in SYSTEMS
            ]
            lines.append(
                f"| {name} (head {row['head']}) | {label} | "
                + " | ".join(cells)
                + f" | {row['max_abs_difference']:.2g} | "
                f"{row['max_rel_difference']:.2g} | "
                f"{row['max_scaled_difference']:.2g} |"
            )
    lines += [
        "",
        "`bare network`: one forward pass of the torch network on windows already "
        "scaled and normalised (the recursive GRU needs 13 such passes for 13 "
        "steps). `torch forecast path` and `onnxruntime`: raw windows in, raw "
        "13-step forecasts out (scaling, network, roll-out, inverse scaling), the "
        "graph `export_onnx` writes. `max abs/rel/scaled diff`: onnxruntime's "
        "forecasts against `predict`'s over every series and step, absolute, "
        "relative to the forecast, and divided by the series' scale (the units "
        "the float32 network computes in).",
        "",
        f"Machine: torch {machine['torch']}, onnxruntime {results['onnxruntime']}, "
        f"{machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"{machine['platform']}; load average before "
        f"{results['load_average_before']}, after {results['load_average_after']} "
        "(the machine was shared).",
        "",
        "Command: `OMP_NUM_THREADS=1 python benchmarks/bench_onnx.py --epochs "
        f"{settings['epochs']}`",
        "",
    ]
    return "\n".join(lines)


def write(results: dict, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "onnx.json").write_text(json.dumps(results, indent=2) + "\n")
    (output_dir / "onnx.md").write_text(markdown(results))
    print(f"wrote {output_dir / 'onnx.json'} and {output_dir / 'onnx.md'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
    )
    args = parser.parse_args(argv)
    run(args.epochs, args.output_dir)


if __name__ == "__main__":
    main()
