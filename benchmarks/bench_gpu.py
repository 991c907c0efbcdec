"""M4 Weekly on a CUDA GPU: our forecasters against a bare cuDNN loop.

For each cell (GRU, LSTM), on one CUDA device:

* ``ours``: ``GRUForecaster``/``LSTMForecaster`` at the benchmark's settings
  (``window_length=52``, everything else at its defaults, ``device="cuda"``) fitted
  once on all 359 series: fit seconds, optimizer steps and training windows per
  second (steps counted with a global optimizer-step hook, so the calibration fit
  and the final fit of the default conformal intervals both count), sMAPE, MASE and
  predict milliseconds for all series (median of ``--predict-repeats``).
* ``bare``: the same network (``nn.GRU``/``nn.LSTM`` through cuDNN, 64 units, a
  linear head of 13), each window normalised by its own mean and spread, the target
  taken relative to the last value, MAE loss, Adam 1e-3, gradient clipping at 1.0,
  windows drawn at random from a tensor of all training windows kept on the GPU:
  training windows per second at batch 32 (the forecasters' default) and 256.
* ``options``: the forecaster again with each accelerator option of
  ``--options`` (``bf16``: ``mixed_precision="bf16"``, ``fp16``:
  ``mixed_precision="fp16"``, ``compile``: ``torch_compile=True``): the same
  figures, and the largest relative difference of its forecasts from the float32
  fit's.
* ``cpu equality``: the fitted forecaster's forecasts computed on the GPU and on the
  CPU from the same weights (largest relative difference), and two short fits
  (``max_epochs=2``) from the same seed, one on each device.

The figures are written to ``gpu.md`` and ``gpu.json`` in ``--output-dir``.

Usage::

    python benchmarks/bench_gpu.py [--cells gru lstm] [--seed 0]
        [--bare-steps 2000] [--options bf16 fp16 compile]
        [--output-dir benchmarks/results]

The M4 files are read as ``m4_data.py`` says (``GATEDFORECAST_M4_DIR``).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_m4 import _median_ms, forecast_matrix, scores  # noqa: E402
from m4_data import HORIZON, load_m4_weekly, to_panel  # noqa: E402
from machine import machine_info  # noqa: E402

WINDOW = 52
HIDDEN = 64
#: ``--options``: the accelerator parameters each arm sets
OPTIONS = {
    "bf16": {"mixed_precision": "bf16"},
    "fp16": {"mixed_precision": "fp16"},
    "compile": {"torch_compile": True},
}


def _forecaster(cell: str, **params):
    from gatedforecast import GRUForecaster, LSTMForecaster

    cls = {"gru": GRUForecaster, "lstm": LSTMForecaster}[cell]
    return cls(window_length=WINDOW, **params)


class _StepCounter:
    """Counts every optimizer step in the process while it is active."""

    def __enter__(self):
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.steps = 0

        def hook(optimizer, args, kwargs):
            self.steps += 1

        self._handle = register_optimizer_step_post_hook(hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()


def run_ours(
    cell: str, seed: int, panel, test, train, ids, repeats: int, **options
) -> dict:
    import torch

    forecaster = _forecaster(cell, device="cuda", random_state=seed, **options)
    fh = np.arange(1, HORIZON + 1)
    torch.cuda.synchronize()
    with _StepCounter() as counter:
        started = time.perf_counter()
        forecaster.fit(panel, fh=fh)
        torch.cuda.synchronize()
        fit_seconds = time.perf_counter() - started
    yhat = forecast_matrix(forecaster.predict(), ids)
    predict_ms, _ = _median_ms(forecaster.predict, repeats)
    windows = counter.steps * forecaster.batch_size
    return {
        **scores(test, yhat, train),
        "fit_seconds": fit_seconds,
        "optimizer_steps": counter.steps,
        "windows_per_second": windows / fit_seconds,
        "predict_ms": predict_ms,
        "device": str(forecaster.device_),
        "forecaster": forecaster,
        "yhat": yhat,
    }


def cpu_equality(cell: str, seed: int, fitted, panel, ids) -> dict:
    """Largest relative differences between GPU and CPU forecasts."""
    import torch

    on_cpu = copy.deepcopy(fitted)
    on_cpu.device_ = torch.device("cpu")
    same_weights = _relative_difference(
        forecast_matrix(on_cpu.predict(), ids), forecast_matrix(fitted.predict(), ids)
    )
    fh = np.arange(1, HORIZON + 1)
    short = {}
    for device in ("cuda", "cpu"):
        model = _forecaster(cell, device=device, max_epochs=2, random_state=seed)
        short[device] = forecast_matrix(model.fit(panel, fh=fh).predict(), ids)
    return {
        "same_weights_max_rel_diff": same_weights,
        "two_epoch_fit_max_rel_diff": _relative_difference(short["cpu"], short["cuda"]),
    }


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-9)))


def _all_windows(train) -> np.ndarray:
    """Every ``WINDOW + HORIZON`` slice of every series, as one float32 matrix."""
    from numpy.lib.stride_tricks import sliding_window_view

    length = WINDOW + HORIZON
    parts = [
        sliding_window_view(np.asarray(s, dtype=np.float32), length)
        for s in train
        if len(s) >= length
    ]
    return np.ascontiguousarray(np.concatenate(parts))


def run_bare(cell: str, seed: int, train, batch: int, steps: int) -> dict:
    import torch
    from torch import nn

    device = torch.device("cuda")
    torch.manual_seed(seed)
    windows = torch.from_numpy(_all_windows(train)).to(device)
    rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell](1, HIDDEN, batch_first=True)
    head = nn.Linear(HIDDEN, HORIZON)
    rnn, head = rnn.to(device), head.to(device)
    parameters = [*rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    loss_fn = nn.L1Loss()

    def step():
        rows = windows[torch.randint(len(windows), (batch,), device=device)]
        inputs, future = rows[:, :WINDOW], rows[:, WINDOW:]
        level = inputs.mean(dim=1, keepdim=True)
        spread = inputs.std(dim=1, keepdim=True).clamp_min(1e-6)
        scaled = (inputs - level) / spread
        last = scaled[:, -1:]
        target = (future - level) / spread - last
        states, _ = rnn(scaled.unsqueeze(-1))
        loss = loss_fn(head(states[:, -1]), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()

    for _ in range(20):  # warm-up: cuDNN plans, allocator
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "batch_size": batch,
        "steps": steps,
        "seconds": seconds,
        "ms_per_step": 1000 * seconds / steps,
        "windows_per_second": batch * steps / seconds,
    }


def write_tables(results: dict, out: Path) -> None:
    lines = [
        "# M4 Weekly on a CUDA GPU",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Device: {results['gpu']}; torch {results['machine']['torch']}, "
        f"CUDA {results['cuda']}, cuDNN {results['cudnn']}; "
        f"{results['machine']['cpu_count']} CPUs.",
        "",
        "| cell | system | sMAPE | MASE | fit s | optimizer steps | windows/s "
        "| predict ms (359 series) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cell, r in results["cells"].items():
        o = r["ours"]
        lines.append(
            f"| {cell} | forecaster, defaults, `device='cuda'` | {o['smape']:.3f} "
            f"| {o['mase']:.3f} | {o['fit_seconds']:.1f} | {o['optimizer_steps']:,} "
            f"| {o['windows_per_second']:,.0f} | {o['predict_ms']:.1f} |"
        )
        for name, a in r.get("options", {}).items():
            lines.append(
                f"| {cell} | forecaster, `{_describe(OPTIONS[name])}` "
                f"| {a['smape']:.3f} | {a['mase']:.3f} | {a['fit_seconds']:.1f} "
                f"| {a['optimizer_steps']:,} | {a['windows_per_second']:,.0f} "
                f"| {a['predict_ms']:.1f} |"
            )
        for b in r["bare"]:
            lines.append(
                f"| {cell} | bare cuDNN loop, batch {b['batch_size']} | | | "
                f"{b['seconds']:.1f} | {b['steps']:,} "
                f"| {b['windows_per_second']:,.0f} | |"
            )
    if any(r.get("options") for r in results["cells"].values()):
        lines += [
            "",
            "Accelerator options against the float32 fit on the GPU (largest "
            "relative difference of the forecasts):",
            "",
            "| cell | option | max relative difference |",
            "|---|---|---:|",
        ]
        for cell, r in results["cells"].items():
            for name, a in r.get("options", {}).items():
                lines.append(
                    f"| {cell} | `{_describe(OPTIONS[name])}` "
                    f"| {a['max_rel_diff_to_float32']:.2e} |"
                )
    lines += [
        "",
        "GPU against CPU forecasts (largest relative difference over all 359 x 13 "
        "values):",
        "",
        "| cell | same weights, predicted on each device | two-epoch fits from the "
        "same seed, one per device |",
        "|---|---:|---:|",
    ]
    for cell, r in results["cells"].items():
        e = r["cpu_equality"]
        lines.append(
            f"| {cell} | {e['same_weights_max_rel_diff']:.2e} "
            f"| {e['two_epoch_fit_max_rel_diff']:.2e} |"
        )
    (out / "gpu.md").write_text("\n".join(lines) + "\n")


def _describe(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bare-steps", type=int, default=2000)
    parser.add_argument("--predict-repeats", type=int, default=5)
    parser.add_argument(
        "--options", nargs="*", default=list(OPTIONS), choices=list(OPTIONS)
    )
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA device; none is visible.")
    train, test, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    results = {
        "command": "python benchmarks/bench_gpu.py " + " ".join(argv or sys.argv[1:]),
        "gpu": torch.cuda.get_device_name(0),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "machine": machine_info(),
        "cells": {},
    }
    for cell in args.cells:
        ours = run_ours(cell, args.seed, panel, test, train, ids, args.predict_repeats)
        fitted = ours.pop("forecaster")
        reference = ours.pop("yhat")
        print(cell, "ours", json.dumps(ours), flush=True)
        options = {}
        for name in args.options:
            arm = run_ours(
                cell,
                args.seed,
                panel,
                test,
                train,
                ids,
                args.predict_repeats,
                **OPTIONS[name],
            )
            arm.pop("forecaster")
            arm["max_rel_diff_to_float32"] = _relative_difference(
                arm.pop("yhat"), reference
            )
            options[name] = arm
            print(cell, name, json.dumps(arm), flush=True)
        bare = [
            run_bare(cell, args.seed, train, batch, args.bare_steps)
            for batch in (32, 256)
        ]
        print(cell, "bare", json.dumps(bare), flush=True)
        equality = cpu_equality(cell, args.seed, fitted, panel, ids)
        print(cell, "equality", json.dumps(equality), flush=True)
        results["cells"][cell] = {
            "ours": ours,
            "options": options,
            "bare": bare,
            "cpu_equality": equality,
        }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "gpu.json").write_text(json.dumps(results, indent=2) + "\n")
    write_tables(results, args.output_dir)
    print((args.output_dir / "gpu.md").read_text())


if __name__ == "__main__":
    main()
