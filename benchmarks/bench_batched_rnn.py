"""Per-step time of the ensemble recurrent layers against nn.GRU / nn.LSTM.

One training step's forward and backward, in milliseconds (the fastest of
``--repeats`` timings of ``--number`` steps each, the arms taking turns so that
a busy machine slows them alike), with one torch thread: the
PyTorch modules for one network, and :func:`gatedforecast.batched_rnn.recurrent_layer`
for an ensemble of k = 1 and k = 5 networks on a shared input (an expanded
view), for each window length. The loss reads the last state, as the top of a
stack does. Writes ``batched_rnn.md`` and ``batched_rnn.json`` to
``--output-dir`` (default ``benchmarks/results``).

Usage::

    python benchmarks/bench_batched_rnn.py [--windows 24 52] [--hidden 64]
        [--batch 32] [--number 20] [--repeats 5]
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

from machine import load_average, machine_info  # noqa: E402

from gatedforecast.batched_rnn import recurrent_layer  # noqa: E402

MODULES = {"gru": (torch.nn.GRU, 3), "lstm": (torch.nn.LSTM, 4)}


def timed(steps: dict, number: int, repeats: int) -> dict:
    """Per arm, the fastest over ``repeats`` rounds of the mean milliseconds of
    ``number`` calls; in each round every arm runs once, in turn."""
    for step in steps.values():
        step()
        step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            started = time.perf_counter()
            for _ in range(number):
                step()
            times[name].append((time.perf_counter() - started) / number * 1000)
    return {name: min(values) for name, values in times.items()}


def torch_step(cell: str, x: torch.Tensor, hidden: int):
    net = MODULES[cell][0](x.shape[-1], hidden, batch_first=True)

    def step():
        out, _ = net(x)
        out[:, -1].sum().backward()

    return step


def batched_step(cell: str, x: torch.Tensor, hidden: int, k: int):
    gates = MODULES[cell][1]
    inputs = x.shape[-1]
    scale = hidden**-0.5
    weights = [
        (scale * torch.randn(k, inputs, gates * hidden)).requires_grad_(),
        (scale * torch.randn(k, gates * hidden)).requires_grad_(),
        (scale * torch.randn(k, hidden, gates * hidden)).requires_grad_(),
        (scale * torch.randn(k, gates * hidden)).requires_grad_(),
    ]
    shared = x.expand(k, *x.shape)

    def step():
        out = recurrent_layer(cell, shared, *weights)
        out[:, :, -1].sum().backward()

    return step


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[24, 52])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    load_before = load_average()
    rows = []
    for window in args.windows:
        x = torch.randn(args.batch, window, 1)
        for cell in MODULES:
            steps = {"torch": torch_step(cell, x, args.hidden)}
            for k in (1, 5):
                steps[f"k{k}"] = batched_step(cell, x, args.hidden, k)
            row = {"cell": cell, "window": window}
            row.update(timed(steps, args.number, args.repeats))
            rows.append(row)
            print(
                f"{cell} window {window}: nn {row['torch']:.2f} ms, "
                f"k=1 {row['k1']:.2f} ms, k=5 {row['k5']:.2f} ms",
                flush=True,
            )
    info = machine_info()
    info["load_average_before"] = load_before
    info["load_average_after"] = load_average()
    command = "python benchmarks/bench_batched_rnn.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "output_dir"}
    (args.output_dir / "batched_rnn.json").write_text(
        json.dumps(
            {
                "command": command.strip(),
                "settings": settings,
                "machine": info,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    lines = [
        "# Ensemble recurrent layers: one training step",
        "",
        "Written by `benchmarks/bench_batched_rnn.py`. Command:",
        "",
        "```",
        command.strip(),
        "```",
        "",
        f"Forward and backward of one step in ms (the fastest of {args.repeats} "
        f"timings of {args.number} steps, the three arms taking turns), "
        f"batch {args.batch}, hidden size {args.hidden}, one "
        "input, one torch thread; the loss reads the last state. `nn`: "
        "`torch.nn.GRU`/`torch.nn.LSTM` (one network); `k=1`, `k=5`: "
        "`gatedforecast.batched_rnn.recurrent_layer` for an ensemble of k networks "
        "on a shared (expanded) input. `k=5 / nn`: the ensemble's time over one "
        "torch network's (5.0 would be five separate networks). The load averages "
        "before and after the run are in the machine block: on a shared machine "
        "the ratios within a row are the numbers to compare.",
        "",
        "| cell | window | nn ms | k=1 ms | k=5 ms | k=1 / nn | k=5 / nn |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cell']} | {r['window']} | {r['torch']:.2f} | {r['k1']:.2f} | "
            f"{r['k5']:.2f} | {r['k1'] / r['torch']:.2f} | {r['k5'] / r['torch']:.2f} |"
        )
    lines += ["", "Machine:", "", "```", json.dumps(info, indent=2), "```", ""]
    (args.output_dir / "batched_rnn.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
