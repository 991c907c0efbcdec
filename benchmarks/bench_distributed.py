"""M4 Weekly fitted by one process and by two data-parallel processes (gloo).

The same forecaster (``LSTMForecaster`` or ``GRUForecaster``, ``window_length=52``,
one torch thread per process, the same seed) is fitted on all 359 series, in each
setting of :data:`SETTINGS` (the defaults, and batches of 128), by:

* one plain process (no process group), and
* ``torchrun --standalone --nproc_per_node=2`` (two processes, gloo backend,
  ``distributed="auto"`` picks the group up): each process trains on half of
  every batch and the gradients are all-reduced.

Each run is a child process that prints one JSON line (fit seconds measured from
a barrier before ``fit`` to its end on rank 0, after the one-time import of
torch's optimizer machinery; the training loop's share of them, sMAPE/MASE, the
forecasts); the parent writes ``benchmarks/results/distributed.md`` and ``.json``
with the speed-ups, the largest difference between the two runs' forecasts, and
an estimate of the scaling on more processes from the measured time of one
training step at the shares ``32 / P`` of a batch of 32 plus the measured
all-reduce of the gradient.

The machine may be shared: the load average before each fit is recorded.

Usage::

    python benchmarks/bench_distributed.py [--cell lstm] [--seed 0]
        [--processes 1 2] [--settings defaults "batch 128"]
        [--output-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from m4_data import HORIZON, load_m4_weekly, to_panel  # noqa: E402
from machine import load_average, machine_info, peak_rss_mb  # noqa: E402

from gatedforecast.metrics import mase, smape  # noqa: E402

WINDOW = 52
#: the settings fitted: the defaults, and a larger batch whose steps leave
#: more work to share (a quarter of the epochs: the same windows seen)
SETTINGS = {
    "defaults": {},
    "batch 128": {"batch_size": 128, "max_epochs": 25, "learning_rate": 2e-3},
}


# ---------------------------------------------------------------------- child
def nudge_initial_weights(factor: float) -> None:
    """Make every network start from its seeded weights times ``1 + factor``:
    a run whose weights differ from the plain one's by rounding, to show how far
    two trainings drift apart from a rounding difference alone."""
    import torch

    from gatedforecast.networks import ForecastNetwork

    initialize = ForecastNetwork.initialize

    def nudged(self, generator):
        network = initialize(self, generator)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.mul_(1 + factor)
        return network

    ForecastNetwork.initialize = nudged


def child(args) -> None:
    """One fit; under torchrun every process runs this and rank 0 prints."""
    import torch

    torch.set_num_threads(1)
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if distributed:
        import torch.distributed as dist

        dist.init_process_group("gloo")
    from gatedforecast import GRUForecaster, LSTMForecaster

    cls = {"gru": GRUForecaster, "lstm": LSTMForecaster}[args.cell]
    train, test, ids = load_m4_weekly()
    panel = to_panel(train, ids)
    params = json.loads(args.params)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    forecaster = cls(window_length=WINDOW, random_state=args.seed, **params)
    if args.nudge_weights:
        nudge_initial_weights(args.nudge_weights)
    # torch imports its compiler machinery when the first optimizer is built
    # (seconds, once per process): not part of the fit's work
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    load = load_average()
    if distributed:
        dist.barrier()
    started, cpu = time.perf_counter(), time.process_time()
    forecaster.fit(panel, fh=np.arange(1, HORIZON + 1))
    fit_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    y_pred = forecaster.predict()
    yhat = np.stack([y_pred.loc[i].to_numpy().ravel() for i in ids])
    rank = dist.get_rank() if distributed else 0
    record = {
        "processes": dist.get_world_size() if distributed else 1,
        "nudge_weights": args.nudge_weights,
        "rank": rank,
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": cpu_seconds,
        "training_loop_seconds": float(forecaster.history_["seconds"].sum()),
        "n_epochs": int(forecaster.n_epochs_),
        "smape": smape(test, yhat),
        "mase": mase(test, yhat, train),
        "load_average_before_fit": load,
        "peak_rss_mb": peak_rss_mb(),
        "forecasts": yhat.tolist(),
    }
    if distributed:
        # every process holds the same forecaster: check it against rank 0's
        mine = torch.as_tensor(yhat)
        first = mine.clone()
        dist.broadcast(first, 0)
        record["max_abs_difference_to_rank_0"] = float((mine - first).abs().max())
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, record["max_abs_difference_to_rank_0"])
        record["max_abs_difference_between_ranks"] = max(gathered)
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps(record), flush=True)


# ---------------------------------------------------------------------- scaling
def step_seconds(cell: str, batch: int, repeats: int = 60) -> float:
    """Median seconds of one training step of the default network (64 units,
    window 52, head 13, MAE, Adam, clipping) on ``batch`` windows, one thread."""
    import torch

    from gatedforecast.networks import ForecastNetwork

    torch.set_num_threads(1)
    network = ForecastNetwork(1, 1, HORIZON, (64,), cell=cell)
    optimizer = torch.optim.Adam(network.parameters())
    x, y = torch.randn(batch, WINDOW, 1), torch.randn(batch, HORIZON, 1)
    times = []
    for i in range(repeats + 5):
        started = time.perf_counter()
        optimizer.zero_grad()
        loss = (network(x).reshape(y.shape) - y).abs().mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        if i >= 5:
            times.append(time.perf_counter() - started)
    return float(np.median(times))


def allreduce_child(args) -> None:
    """Median seconds of one all-reduce of the default network's gradient
    buffer between the processes of a torchrun group (gloo)."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    from gatedforecast.networks import ForecastNetwork

    network = ForecastNetwork(1, 1, HORIZON, (64,), cell=args.cell)
    n = sum(p.numel() for p in network.parameters())
    flat = torch.zeros(n + len(list(network.parameters())))
    times = []
    for i in range(205):
        dist.barrier()
        started = time.perf_counter()
        dist.all_reduce(flat)
        if i >= 5:
            times.append(time.perf_counter() - started)
    if dist.get_rank() == 0:
        print(json.dumps({"allreduce_seconds": float(np.median(times)), "floats": n}))
    dist.destroy_process_group()


# ---------------------------------------------------------------------- parent
def _run(command: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def _torchrun(n: int) -> list[str]:
    runner = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    return [runner, "--standalone", f"--nproc_per_node={n}"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output-dir", type=Path, default=HERE / "results")
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="every setting's epochs (a quick check)",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(SETTINGS),
        choices=list(SETTINGS),
        help="the settings to fit (default: all)",
    )
    parser.add_argument(
        "--nudge",
        type=float,
        default=1e-7,
        help="also fit one process whose initial weights are multiplied by "
        "1 + NUDGE (0: no such run)",
    )
    parser.add_argument(
        "--nudge-weights", type=float, default=0.0, help=argparse.SUPPRESS
    )
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--allreduce", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.allreduce:
        return allreduce_child(args)

    script = [str(Path(__file__).resolve()), "--cell", args.cell]
    script += ["--seed", str(args.seed)]
    if args.max_epochs is not None:
        script += ["--max-epochs", str(args.max_epochs)]
    runs = {}
    for setting in args.settings:
        params = ["--params", json.dumps(SETTINGS[setting])]
        runs[setting] = {}
        jobs = [(str(n), n, []) for n in args.processes]
        if args.nudge:
            nudged = ["--nudge-weights", str(args.nudge)]
            jobs.append((f"1, weights x (1 + {args.nudge:g})", 1, nudged))
        for label, n, extra in jobs:
            prefix = [sys.executable] if n == 1 else _torchrun(n)
            print(f"{setting}: fitting with {label} process(es) ...", flush=True)
            run = _run([*prefix, *script, *params, *extra, "--child"])
            runs[setting][label] = {"label": label, **run}
            print(f"  fit {run['fit_seconds']:.1f} s, sMAPE {run['smape']:.3f}")
    steps = {b: step_seconds(args.cell, b) for b in (32, 16, 8, 4)}
    reduce = _run([*_torchrun(2), *script, "--allreduce"])
    report = summarise(args, runs, steps, reduce)
    write(args.output_dir, report)


def summarise(args, runs, steps, reduce) -> dict:
    rows = []
    for setting, by_count in runs.items():
        one = by_count.get("1")
        for run in by_count.values():
            row = {"setting": setting, "params": SETTINGS[setting]}
            row.update({k: v for k, v in run.items() if k != "forecasts"})
            if one is not None:
                row["speedup"] = one["fit_seconds"] / run["fit_seconds"]
                row["training_loop_speedup"] = (
                    one["training_loop_seconds"] / run["training_loop_seconds"]
                )
                difference = np.array(run["forecasts"]) - np.array(one["forecasts"])
                row["max_abs_difference_to_1_process"] = float(np.abs(difference).max())
                row["max_relative_difference_to_1_process"] = float(
                    (np.abs(difference) / np.abs(np.array(one["forecasts"]))).max()
                )
            rows.append(row)
    # a step on 32 / P windows plus one all-reduce (the 2-process one; a ring
    # all-reduce of a fixed buffer grows little with P on a fast network)
    expected = {
        p: steps[32] / (steps[32 // p] + (reduce["allreduce_seconds"] if p > 1 else 0))
        for p in (1, 2, 4, 8)
    }
    return {
        "command": "python benchmarks/bench_distributed.py "
        + f"--cell {args.cell} --seed {args.seed} --processes "
        + " ".join(map(str, args.processes))
        + " --settings "
        + " ".join(args.settings)
        + ("" if args.max_epochs is None else f" --max-epochs {args.max_epochs}")
        + ("" if args.nudge == 1e-7 else f" --nudge {args.nudge:g}"),
        "cell": args.cell,
        "seed": args.seed,
        "runs": rows,
        "step_seconds": {str(b): s for b, s in steps.items()},
        "allreduce": reduce,
        "expected_training_speedup": {str(p): s for p, s in expected.items()},
        "machine": machine_info(),
        "load_average_at_end": load_average(),
    }


def write(folder: Path, report: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "distributed.json").write_text(json.dumps(report, indent=2) + "\n")
    machine = report["machine"]
    lines = [
        "# Data-parallel training on M4 Weekly (torch.distributed, gloo)",
        "",
        f"Command: `{report['command']}`",
        "",
        f"{report['cell'].upper()}Forecaster, seed {report['seed']}, all 359 "
        "series, `window_length=52`; *defaults*: batch 32, 100 epochs of at most 100 "
        "steps; *batch 128*: `batch_size=128, max_epochs=25, learning_rate=2e-3` (the "
        "same windows seen in a quarter of the steps). One torch thread per "
        "process. One process: a plain process; P processes: `torchrun --standalone "
        "--nproc_per_node=P` with the gloo backend (each trains on 1 / P of every "
        "batch, gradients all-reduced). The fit's clock starts after torch's "
        "one-time import of its optimizer machinery.",
        "",
        f"Machine: {machine['cpu_count']} CPUs, torch {machine['torch']}, Python "
        f"{machine['python']}, commit {str(machine['commit'])[:10]}. The machine was "
        "shared with other jobs while this ran (see the load averages): the timings "
        "are noisy.",
        "",
        "| setting | processes | fit s | speed-up | training loop s | its speed-up "
        "| sMAPE | MASE | max abs (relative) diff to 1 process | max abs diff "
        "between ranks | load before fit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["runs"]:
        lines.append(
            f"| {row['setting']} | {row['label']} | {row['fit_seconds']:.1f} | "
            f"{row.get('speedup', 1):.2f}x | {row['training_loop_seconds']:.1f} | "
            f"{row.get('training_loop_speedup', 1):.2f}x | "
            f"{row['smape']:.3f} | {row['mase']:.3f} | "
            f"{row.get('max_abs_difference_to_1_process', 0):.2g} "
            f"({row.get('max_relative_difference_to_1_process', 0):.2g}) | "
            f"{row.get('max_abs_difference_between_ranks', 0):.2g} | "
            f"{row['load_average_before_fit']} |"
        )
    steps = report["step_seconds"]
    reduce = report["allreduce"]
    lines += [
        "",
        "The row `1, weights x (1 + ...)` is one process whose initial weights are "
        "the seeded ones times 1 + 1e-7, a difference of rounding: how far two "
        "trainings drift apart over the epochs from rounding alone. The P-process "
        "runs sum each gradient in another order than one process does; their "
        "forecasts differ from one process's by as much as such a nudged run's do "
        "(see docs/distributed.md, 'What equals what').",
        "",
        "One training step of the default network, one thread (median ms): "
        + ", ".join(f"{b} windows {1e3 * s:.2f}" for b, s in steps.items())
        + f". One all-reduce of its gradient ({reduce['floats']} floats) between "
        f"two gloo processes: {1e3 * reduce['allreduce_seconds']:.2f} ms.",
        "",
        "Expected speed-up of the training loop with P processes on P free cores "
        "(a step on 32 / P windows plus one all-reduce, against a step on 32): "
        + ", ".join(
            f"P={p}: {s:.2f}x" for p, s in report["expected_training_speedup"].items()
        )
        + ". The step time falls less than in proportion to its windows (each of "
        "the 52 time steps of the recurrence costs a fixed overhead whatever the "
        "batch), so at the default batch of 32 the gain flattens beyond 2 to 4 "
        "processes; a larger batch_size (with a learning rate to match) scales "
        "further. The work outside the training loop (windows, calibration "
        "forecasts, sktime's checks) runs on every process and does not shrink.",
        "",
        f"Load average at the end: {report['load_average_at_end']}.",
        "",
    ]
    (folder / "distributed.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
