"""Long windows: training memory and time per window from 52 to 2,016 steps, with
and without ``bptt_chunk``, and accuracy on a long-context task.

**Memory and time.** For each cell, window length and mode (whole windows, or
chunks of ``--chunk`` steps), a fresh child process (one torch thread) trains the
forecasters' network (``ForecastNetwork``, ``--hidden`` units, a direct head of
48 steps) for two steps on a batch of ``--batch`` windows and reports the peak
resident memory the steps added over the process's memory before them
(``ru_maxrss`` against ``/proc/self/statm``), per window of the batch, once as
the process runs and once with glibc's mmap threshold fixed (see
:data:`FIXED_THRESHOLD`), and the time of the second step (forward, backward,
optimizer), per window.

**Accuracy.** Half-hourly data (48 steps a day) with a daily and a weekly
pattern (weekends lower) and noise; ``--series`` series of ``--weeks`` weeks;
forecast the next day (48 steps) of each. Arms: GRUForecaster with a one-day
window (48), and with a two-week window (672) read whole and in chunks of
``--chunk``; ``--epochs`` epochs of ``--steps-per-epoch`` steps (a reduced
budget, the same for every arm; the defaults are 100 epochs). MAE over the
series and steps, and the fit time.

Writes ``long_windows.md`` and ``long_windows.json`` to ``--output-dir``.

Usage::

    python benchmarks/bench_long_windows.py [--windows 52 168 336 672 1344 2016]
        [--chunk 52] [--batch 128] [--hidden 64] [--seeds 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import load_average, machine_info  # noqa: E402

HEAD = 48


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(cell: str, window: int, chunk: int | None, batch: int, hidden: int, steps):
    """Run in a fresh process: peak memory and time of training steps."""
    import torch

    from gatedforecast.chunked_bptt import bptt_chunks
    from gatedforecast.networks import ForecastNetwork

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    net = ForecastNetwork(1, 1, HEAD, (hidden,), cell=cell).initialize(generator)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, window, 1, generator=generator)
    y = torch.randn(batch, HEAD, 1, generator=generator)
    # a small step first, in chunks (both modes alike): torch's one-off
    # allocations and imports are not the window's
    with bptt_chunks(net, 4):
        net(torch.randn(2, 6, 1)).sum().backward()
    optimizer.zero_grad()
    before = _rss_mb()
    times = []
    with bptt_chunks(net, chunk):
        for _ in range(steps):
            started = time.perf_counter()
            loss = (net(x) - y).abs().mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            times.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "cell": cell,
        "window": window,
        "chunk": chunk,
        "memory_mb_per_window": max(peak - before, 0.0) / batch,
        "ms_per_window": float(np.median(times[1:] or times)) * 1000 / batch,
    }


#: glibc's malloc raises its mmap threshold after freeing a large block, and
#: then keeps later blocks of that size on its heap: resident memory that no
#: tensor holds. A fixed threshold measures what the tensors take.
FIXED_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def measure(args) -> list[dict]:
    rows = []
    for cell in args.cells:
        for window in args.windows:
            for chunk in (None, args.chunk):
                for allocator, extra in (("default", {}), ("fixed", FIXED_THRESHOLD)):
                    command = [
                        sys.executable,
                        __file__,
                        "--child",
                        json.dumps([cell, window, chunk, args.batch, args.hidden, 2]),
                    ]
                    env = {**os.environ, "OMP_NUM_THREADS": "1", **extra}
                    done = subprocess.run(
                        command, capture_output=True, text=True, check=True, env=env
                    )
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    row["allocator"] = allocator
                    print(row, flush=True)
                    rows.append(row)
    return rows


def half_hourly_panel(n_series: int, weeks: int, seed: int):
    """Series with a daily shape, lower weekends and noise, and their next day."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = weeks * 336 + HEAD
    t = np.arange(n)
    day = np.sin(2 * np.pi * t / 48)
    weekend = ((t // 48) % 7 >= 5).astype(float)
    frames, futures = [], []
    index = pd.period_range("2024-01-01 00:00", periods=n, freq="30min")
    for i in range(n_series):
        level = 10 + 2 * i
        values = level + 2 * day - 4 * weekend + rng.normal(0, 0.3, n)
        series = pd.DataFrame({"load": values[:-HEAD]}, index=index[:-HEAD])
        series.index = pd.MultiIndex.from_arrays(
            [np.full(n - HEAD, f"s{i}"), series.index], names=["series", "time"]
        )
        frames.append(series)
        futures.append(values[-HEAD:])
    return pd.concat(frames), np.array(futures)


def accuracy(args) -> list[dict]:
    import torch

    from gatedforecast import GRUForecaster

    torch.set_num_threads(1)
    rows = []
    arms = [("one day (48)", 48, None), ("two weeks (672)", 672, None)]
    arms.append((f"two weeks (672), bptt_chunk={args.chunk}", 672, args.chunk))
    for seed in args.seeds:
        y, future = half_hourly_panel(args.series, args.weeks, seed)
        for name, window, chunk in arms:
            forecaster = GRUForecaster(
                window_length=window,
                bptt_chunk=chunk,
                max_epochs=args.epochs,
                steps_per_epoch=args.steps_per_epoch,
                random_state=seed,
            )
            started = time.perf_counter()
            forecaster.fit(y, fh=np.arange(1, HEAD + 1))
            seconds = time.perf_counter() - started
            pred = forecaster.predict().to_numpy().reshape(args.series, HEAD)
            row = {
                "arm": name,
                "seed": seed,
                "window": window,
                "chunk": chunk,
                "mae": float(np.abs(pred - future).mean()),
                "fit_s": seconds,
                "seasonal_period_": forecaster.seasonal_period_,
            }
            print(row, flush=True)
            rows.append(row)
    return rows


def write(args, memory, scores, machine):
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python benchmarks/bench_long_windows.py", *sys.argv[1:]])
    payload = {
        "command": command,
        "machine": machine,
        "memory": memory,
        "accuracy": scores,
    }
    (out / "long_windows.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Long windows: memory, time and accuracy",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, "
        f"{machine['platform']}, torch {machine['torch']}, commit "
        f"{machine['commit']}, "
        f"one torch thread per process; load average at the start "
        f"{machine.get('load_average_start')}, at the end "
        f"{machine.get('load_average_end')} (the machine was shared: times are "
        "noisy, memory is not).",
        "",
        f"## Training memory and time per window (batch {args.batch}, "
        f"{args.hidden} units, head of {HEAD} steps)",
        "",
        "Peak resident memory a training step adds, per window of the batch; the "
        "ratio is to the 52-step window read whole. *glibc default*: the "
        "process as it runs; *fixed threshold*: with "
        "`MALLOC_MMAP_THRESHOLD_=65536`, which stops glibc's malloc from keeping "
        "freed large blocks on its heap, so the figure is what the tensors take. "
        "Time per window is the median step over the batch size (both allocator "
        "runs, the faster).",
        "",
        "| cell | window | whole (glibc default) | whole (fixed threshold) | "
        f"bptt_chunk={args.chunk} (glibc default) | bptt_chunk={args.chunk} "
        "(fixed threshold) | whole: ms/window | chunked: ms/window |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def pick(rows, window, chunked, allocator):
        return next(
            r
            for r in rows
            if r["window"] == window
            and (r["chunk"] is not None) == chunked
            and r["allocator"] == allocator
        )

    for cell in args.cells:
        rows = [r for r in memory if r["cell"] == cell]
        cells = []
        for window in args.windows:
            line = [cell, str(window)]
            for chunked in (False, True):
                for allocator in ("default", "fixed"):
                    mb = pick(rows, window, chunked, allocator)["memory_mb_per_window"]
                    base = pick(rows, min(args.windows), False, allocator)
                    ratio = mb / base["memory_mb_per_window"]
                    line.append(f"{mb:.3f} MB ({ratio:.2f}x)")
            for chunked in (False, True):
                ms = min(
                    pick(rows, window, chunked, a)["ms_per_window"]
                    for a in ("default", "fixed")
                )
                line.append(f"{ms:.2f}")
            cells.append("| " + " | ".join(line) + " |")
        lines += cells
    if scores:
        lines += [
            "",
            f"## Accuracy: a weekly pattern in half-hourly data ({args.series} "
            f"series of {args.weeks} weeks, forecast the next day)",
            "",
            f"GRUForecaster at the defaults but {args.epochs} epochs of "
            f"{args.steps_per_epoch} steps (a reduced budget, the same for every "
            "arm); MAE over the series and the 48 steps (the noise alone has an "
            "MAE of 0.24).",
            "",
            "| arm | seed | MAE | fit s |",
            "|---|---|---|---|",
        ]
        for row in scores:
            lines.append(
                f"| {row['arm']} | {row['seed']} | {row['mae']:.3f} | "
                f"{row['fit_s']:.0f} |"
            )
    (out / "long_windows.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument(
        "--windows", type=int, nargs="+", default=[52, 168, 336, 672, 1344, 2016]
    )
    parser.add_argument("--chunk", type=int, default=52)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--series", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps-per-epoch", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--output-dir", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    machine = machine_info()
    machine["load_average_start"] = load_average()
    memory = measure(args)
    scores = [] if args.no_accuracy else accuracy(args)
    machine["load_average_end"] = load_average()
    write(args, memory, scores, machine)


if __name__ == "__main__":
    main()
