"""The GRU's CPU training step against the LSTM's, and what it does to an M4 fit.

PyTorch's CPU build runs ``nn.LSTM`` through a fused oneDNN kernel and
``nn.GRU`` through one small operation per gate and step, recorded by autograd.
A GRU stack of gatedforecast trains on a CPU through its own GRU
(:mod:`gatedforecast.batched_rnn`: one matmul per step, a hand-written backward
through time, buffers kept between steps); predictions, CUDA and exports keep
``nn.GRU``.

**Steps.** One training step of a :class:`~gatedforecast.networks.ForecastNetwork`
(one input, 13 outputs, Adam, absolute error), in milliseconds, for three arms
taking turns: ``lstm`` (``nn.LSTM``), ``gru`` (the package's training path) and
``gru, nn.GRU`` (the same network trained through its ``nn.GRU`` modules, what
the package did before; the benchmark switches the package's path off for it).
Forward (with the loss), backward, and the whole step (with the optimizer) are
timed separately; each figure is the median over ``--rounds`` rounds of
``--number`` steps per arm. The sizes are ``batch,window,hidden[,layers]``.

**M4 Weekly** (``--m4``): the three arms fit the 359 series at the defaults
(window 52, seed 0, one torch thread, each in its own process), through
``benchmarks/bench_m4.py``'s fit; the table gives the fit seconds, the training
loop's seconds per optimizer step and the scores.

Writes ``gru_step.md`` and ``gru_step.json`` to ``--output-dir`` (default
``benchmarks/results``).

Usage::

    python benchmarks/bench_gru_step.py [--sizes 32,52,64 32,168,64,2 ...]
        [--number 5] [--rounds 20] [--m4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import load_average, machine_info, machine_lines  # noqa: E402

DEFAULT_SIZES = [
    "32,52,64",
    "32,52,32",
    "32,52,128",
    "128,52,64",
    "32,168,64",
    "32,52,64,2",
]
ARMS = ("lstm", "gru", "gru, nn.GRU")
HORIZON = 13


def _use_torch_gru(on: bool) -> None:
    """Train GRU stacks through their ``nn.GRU`` modules (what the package did
    before it had its own CPU training path) when ``on``."""
    import gatedforecast.encoders as encoders

    if not hasattr(encoders, "_package_trains_fast_gru"):
        encoders._package_trains_fast_gru = encoders._trains_fast_gru
    encoders._trains_fast_gru = (
        (lambda layer, x: False) if on else encoders._package_trains_fast_gru
    )


def _arm(name: str, batch: int, window: int, hidden: int, layers: int):
    import torch

    from gatedforecast.networks import ForecastNetwork

    torch.manual_seed(0)
    cell = "lstm" if name == "lstm" else "gru"
    network = ForecastNetwork(1, 1, HORIZON, (hidden,) * layers, cell=cell)
    network.initialize(torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(network.parameters())
    x = torch.randn(batch, window, 1)
    y = torch.randn(batch, HORIZON, 1)
    torch_gru = name == "gru, nn.GRU"

    def step() -> tuple[float, float, float]:
        _use_torch_gru(torch_gru)
        started = time.perf_counter()
        optimizer.zero_grad()
        loss = (network(x).reshape(y.shape) - y).abs().mean()
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        done = time.perf_counter()
        return forward - started, backward - forward, done - started

    return step


def time_size(size: str, number: int, rounds: int) -> dict:
    batch, window, hidden, *rest = (int(v) for v in size.split(","))
    layers = rest[0] if rest else 1
    steps = {name: _arm(name, batch, window, hidden, layers) for name in ARMS}
    for step in steps.values():
        for _ in range(3):
            step()
    runs = {name: [] for name in ARMS}
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(number):
                runs[name].append(step())
    _use_torch_gru(False)
    row = {"batch": batch, "window": window, "hidden": hidden, "layers": layers}
    for name in ARMS:
        for i, part in enumerate(("forward", "backward", "step")):
            row[f"{name}|{part}"] = 1000 * statistics.median(r[i] for r in runs[name])
    return row


def m4_child(arm: str, threads: int) -> None:
    """Fit M4 Weekly with one arm and print the record as one JSON line."""
    import bench_m4
    import torch

    torch.set_num_threads(threads)
    _use_torch_gru(arm == "gru, nn.GRU")
    cell = "lstm" if arm == "lstm" else "gru"
    args = argparse.Namespace(seed=0, predict_repeats=3, profile_predict=False)
    record = bench_m4.run_ours(args, cell, dict(bench_m4.RECOMMENDED))
    keep = (
        "smape",
        "mase",
        "fit_seconds",
        "training_loop_seconds",
        "n_epochs",
        "best_epoch",
        "load_average_before_fit",
        "torch_threads",
    )
    out = {k: record[k] for k in keep if k in record}
    out["arm"] = arm
    print(json.dumps(out))


def m4_fits(threads: int) -> list[dict]:
    rows = []
    for arm in ARMS:
        done = subprocess.run(
            [sys.executable, __file__, "--m4-child", arm, "--threads", str(threads)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    return rows


def markdown(command: str, args, rows: list[dict], fits: list[dict], info) -> str:
    lines = [
        "# The GRU's CPU training step against the LSTM's",
        "",
        "Written by `benchmarks/bench_gru_step.py`. Command:",
        "",
        "```",
        command,
        "```",
        "",
        "One training step of a `ForecastNetwork` (one input, 13 outputs, Adam, "
        "absolute error) in ms, one torch thread: the median over "
        f"{args.rounds} rounds of {args.number} steps per arm, the arms taking "
        "turns (on a shared machine the ratios within a row are the figures to "
        "compare). `gru`: the package's CPU training path for GRU stacks; "
        "`nn.GRU`: the same network trained through its `torch.nn.GRU` modules, "
        "as before that path existed; `lstm`: `torch.nn.LSTM` (oneDNN). "
        "Forward includes the loss; step = zero_grad, forward, backward and "
        "Adam's update.",
        "",
        "| batch | window | hidden | layers | part | lstm ms | gru ms | nn.GRU ms "
        "| gru / lstm | nn.GRU / lstm |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for part in ("forward", "backward", "step"):
            lstm, gru, torch_gru = (r[f"{a}|{part}"] for a in ARMS)
            lines.append(
                f"| {r['batch']} | {r['window']} | {r['hidden']} | {r['layers']} | "
                f"{part} | {lstm:.2f} | {gru:.2f} | {torch_gru:.2f} | "
                f"{gru / lstm:.2f} | {torch_gru / lstm:.2f} |"
            )
    if fits:
        lines += [
            "",
            "## M4 Weekly fit at the defaults",
            "",
            "359 series, window 52, seed 0, one torch thread, each arm in its own "
            "process, run one after another (`--m4`). Seconds per epoch: the "
            "training loop's seconds over its epochs (early stopping may end the "
            "arms at different epochs).",
            "",
            "| arm | fit s | training loop s | epochs | s per epoch | sMAPE | MASE |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for f in fits:
            lines.append(
                f"| {f['arm']} | {f['fit_seconds']:.1f} | "
                f"{f['training_loop_seconds']:.1f} | {f['n_epochs']} | "
                f"{f['training_loop_seconds'] / f['n_epochs']:.2f} | "
                f"{f['smape']:.3f} | {f['mase']:.3f} |"
            )
    lines += ["", *machine_lines(info)]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--number", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--m4", action="store_true")
    parser.add_argument("--m4-child", help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.m4_child:
        m4_child(args.m4_child, args.threads)
        return
    import torch

    torch.set_num_threads(args.threads)
    load_before = load_average()
    rows = []
    for size in args.sizes:
        rows.append(time_size(size, args.number, args.rounds))
        r = rows[-1]
        print(
            size,
            " ".join(f"{a}={r[f'{a}|step']:.2f}" for a in ARMS),
            flush=True,
        )
    fits = m4_fits(args.threads) if args.m4 else []
    info = machine_info()
    info["load_average_before"] = load_before
    info["load_average_after"] = load_average()
    command = "python benchmarks/bench_gru_step.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    settings = {k: v for k, v in vars(args).items() if k not in ("output_dir",)}
    settings.pop("m4_child", None)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "gru_step.json").write_text(
        json.dumps(
            {
                "command": command.strip(),
                "settings": settings,
                "machine": info,
                "rows": rows,
                "m4": fits,
            },
            indent=2,
        )
        + "\n"
    )
    (args.output_dir / "gru_step.md").write_text(
        markdown(command.strip(), args, rows, fits, info)
    )


if __name__ == "__main__":
    main()
