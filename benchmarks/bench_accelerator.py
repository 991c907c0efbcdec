"""Accelerator options on the CPU: one training step in float32, under bfloat16
autocast, and compiled with ``torch.compile``.

The forecasters' network (``ForecastNetwork``, ``--hidden`` units, a direct head
of 13 steps, one input) trains on a batch of ``--batch`` windows of ``--window``
steps with Adam and the MAE, through the package's :class:`Accelerator` with the
CPU let in (so the step is the one the training loop runs). For each cell, arm
and ``--repeats`` timings of ``--number`` steps, the fastest per-step time is
kept; the arms take turns. The compiled arm reports the time of its first step
(the compilation) separately. One torch thread.

Writes ``accelerator.md`` and ``accelerator.json`` to ``--output-dir``.

Usage::

    python benchmarks/bench_accelerator.py [--cells gru lstm] [--window 52]
        [--batch 32] [--hidden 64] [--number 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import load_average, machine_info, machine_lines  # noqa: E402

from gatedforecast import accelerate  # noqa: E402
from gatedforecast.accelerate import Accelerator  # noqa: E402
from gatedforecast.networks import ForecastNetwork  # noqa: E402

ARMS = {
    "float32": (None, False),
    "bf16 autocast": ("bf16", False),
    "torch.compile": (None, True),
}


def _step_maker(cell: str, arm: str, args):
    precision, compiled = ARMS[arm]
    network = ForecastNetwork(1, 1, horizon=13, hidden_sizes=(args.hidden,), cell=cell)
    network.initialize(torch.Generator().manual_seed(0))
    accelerator = Accelerator(torch.device("cpu"), precision, compiled)
    model = accelerator.model(network)
    optimizer = torch.optim.Adam(network.parameters(), 1e-3)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, args.window, 1, generator=generator)
    y = torch.randn(args.batch, 13, 1, generator=generator)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with accelerator.autocast():
            prediction = model(x)
        loss = (prediction.float() - y).abs().mean()
        accelerator.backward(loss)
        accelerator.unscale(optimizer)
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        accelerator.step(optimizer)

    return step


def measure(cells, args) -> list[dict]:
    rows = []
    for cell in cells:
        steps, first = {}, {}
        for arm in ARMS:
            steps[arm] = _step_maker(cell, arm, args)
            started = time.perf_counter()
            steps[arm]()
            first[arm] = time.perf_counter() - started
            for _ in range(3):
                steps[arm]()
        best = {arm: float("inf") for arm in ARMS}
        for _ in range(args.repeats):
            for arm, step in steps.items():
                started = time.perf_counter()
                for _ in range(args.number):
                    step()
                elapsed = (time.perf_counter() - started) / args.number * 1e3
                best[arm] = min(best[arm], elapsed)
        for arm in ARMS:
            rows.append(
                {
                    "cell": cell,
                    "arm": arm,
                    "step_ms": round(best[arm], 2),
                    "ratio_to_float32": round(best[arm] / best["float32"], 2),
                    "first_step_s": round(first[arm], 2),
                }
            )
            print(rows[-1], flush=True)
    return rows


def write(rows, args, machine, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(args, k) for k in ("window", "batch", "hidden", "number")}
    settings["repeats"] = args.repeats
    (out / "accelerator.json").write_text(
        json.dumps({"settings": settings, "rows": rows, "machine": machine}, indent=2)
        + "\n"
    )
    lines = [
        "# Accelerator options on the CPU",
        "",
        "Written by `benchmarks/bench_accelerator.py`. Command:",
        "",
        "```",
        "python benchmarks/bench_accelerator.py",
        "```",
        "",
        f"One training step (forward, backward, clipping, Adam) of the forecasters' "
        f"network: batch {args.batch}, window {args.window}, {args.hidden} units, a "
        "13-step head, one torch thread; the fastest of "
        f"{args.repeats} timings of {args.number} steps, the arms taking turns. "
        "`torch.compile` is the default inductor backend; its first step includes "
        "the compilation.",
        "",
        "| cell | arm | ms per step | / float32 | first step s |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['cell']} | {row['arm']} | {row['step_ms']:.2f} | "
            f"{row['ratio_to_float32']:.2f} | {row['first_step_s']:.2f} |"
        )
    lines += [
        "",
        "Neither option makes a CPU step faster, so `mixed_precision` and "
        "`torch_compile` act on CUDA devices only; a CPU fit with them warns and "
        "trains in float32 eagerly.",
        "",
        *machine_lines(machine),
    ]
    (out / "accelerator.md").write_text("\n".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--window", type=int, default=52)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    accelerate.ACCELERATED_DEVICES = ("cuda", "cpu")
    before = load_average()
    rows = measure(args.cells, args)
    machine = machine_info()
    machine["load_average_before"] = before
    machine["load_average_after"] = load_average()
    write(rows, args, machine, args.output_dir)


if __name__ == "__main__":
    main()
