"""Fit-time overhead of the package's training machinery over a bare PyTorch loop.

Both systems do the same work on M4 Weekly in one process: a GRU 64x1 with a
Linear(64, 13) head, input window 52, horizon 13, ``--steps`` Adam steps (lr 1e-3)
of 256 windows drawn at random from all windows of all series, MAE loss, gradient
norm clipped at 1. Each series is standardised with its own mean and std (float64)
and stored end to end in one float32 buffer; windows are gathered by start index.
Each input window is normalised by its own mean and spread (floored at
``1e-5 * |mean| + 1e-8``) and the target is ``(future - last value) / spread``.

* ``bare``: the loop written inline with ``nn.GRU`` and ``nn.Linear``.
* ``ours``: the package core wired as ``GRUForecaster`` wires it
  (``SeriesScaler``, ``WindowIndex``, ``WindowTransform``, ``gather_windows``,
  ``ForecastNetwork``, ``TrainingConfig``, ``Batches``, ``train_network``).
* ``GRUForecaster.fit (end to end)``: the public forecaster on the whole panel,
  timed only when it fits the panel with one network (a probe on two series runs
  first; a forecaster that sktime vectorises over series is skipped).

The systems run interleaved (bare, ours, bare, ours, ...) after a short warm-up
each. Fit time covers everything from the list of training arrays to the trained
network. Each trained network then forecasts the 13 test steps from the last 52
values of each series, scored with the M4 sMAPE and MASE.

Usage::

    python benchmarks/bench_overhead.py [--steps 2000] [--repeats 3] [--threads N]
        [--output-dir benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from m4_data import HORIZON, load_m4_weekly, to_panel
from machine import load_average, machine_info

from gatedforecast import GRUForecaster
from gatedforecast.metrics import mase, smape
from gatedforecast.networks import ForecastNetwork
from gatedforecast.scaling import SeriesScaler, WindowTransform
from gatedforecast.training import Batches, TrainingConfig, train_network
from gatedforecast.windows import WindowIndex, gather_windows

WINDOW = 52
SPAN = WINDOW + HORIZON
HIDDEN = 64
BATCH = 256
LEARNING_RATE = 1e-3
CLIP = 1.0
STEPS_PER_EPOCH = 100
WARMUP_STEPS = 20
SEED = 0

BARE = "bare PyTorch loop"
OURS = "gatedforecast core (train_network)"
END_TO_END = "GRUForecaster.fit (end to end)"


# --------------------------------------------------------------------------- bare
def fit_bare(train: list[np.ndarray], steps: int):
    """Train a GRU on ``steps`` random batches with a plain loop."""
    torch.manual_seed(SEED)
    loc = np.array([s.mean() for s in train])
    scale = np.array([s.std() for s in train])
    scale = np.where(scale > 0, scale, 1.0)
    buffer = torch.from_numpy(
        np.concatenate([(s - m) / d for s, m, d in zip(train, loc, scale)]).astype(
            np.float32
        )
    )
    ends = np.cumsum([len(s) for s in train])
    starts = torch.from_numpy(
        np.concatenate(
            [np.arange(e - len(s), e - SPAN + 1) for s, e in zip(train, ends)]
        )
    )
    offsets = torch.arange(SPAN)

    gru = nn.GRU(1, HIDDEN, batch_first=True)
    head = nn.Linear(HIDDEN, HORIZON)
    params = [*gru.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=LEARNING_RATE)
    for _ in range(steps):
        pick = starts[torch.randint(len(starts), (BATCH,))]
        values = buffer[pick[:, None] + offsets]
        x, y = values[:, :WINDOW], values[:, WINDOW:]
        level = x.mean(dim=1, keepdim=True)
        spread = x.std(dim=1, keepdim=True, unbiased=False)
        spread = torch.maximum(spread, 1e-5 * level.abs() + 1e-8)
        inputs = ((x - level) / spread).unsqueeze(-1)
        target = (y - x[:, -1:]) / spread
        _, h_n = gru(inputs)
        loss = (head(h_n[-1]) - target).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, CLIP)
        optimizer.step()
    return {"gru": gru, "head": head, "loc": loc, "scale": scale}


@torch.no_grad()
def forecast_bare(model, train: list[np.ndarray]) -> np.ndarray:
    x = np.stack(
        [(s[-WINDOW:] - m) / d for s, m, d in zip(train, model["loc"], model["scale"])]
    )
    x = torch.from_numpy(x.astype(np.float32))
    level = x.mean(dim=1, keepdim=True)
    spread = x.std(dim=1, keepdim=True, unbiased=False)
    spread = torch.maximum(spread, 1e-5 * level.abs() + 1e-8)
    _, h_n = model["gru"](((x - level) / spread).unsqueeze(-1))
    out = x[:, -1:] + model["head"](h_n[-1]) * spread
    return out.double().numpy() * model["scale"][:, None] + model["loc"][:, None]


# --------------------------------------------------------------------------- ours
def _schedule(steps: int) -> tuple[int, int]:
    """``(steps_per_epoch, max_epochs)`` giving ``steps`` gradient steps."""
    if steps % STEPS_PER_EPOCH == 0:
        return STEPS_PER_EPOCH, steps // STEPS_PER_EPOCH
    return steps, 1


def fit_ours(train: list[np.ndarray], steps: int):
    """Train with the package core, wired as ``_RecurrentForecaster._train`` does."""
    steps_per_epoch, epochs = _schedule(steps)
    series = [s.reshape(-1, 1) for s in train]
    scaler = SeriesScaler("standard").fit(series)
    scaled = np.concatenate([scaler.transform(s, i) for i, s in enumerate(series)])
    transform = WindowTransform(
        normalize=True, baseline="last", seasonal_period=None, horizon=HORIZON
    )
    generator = torch.Generator().manual_seed(SEED)
    network = ForecastNetwork(1, 1, HORIZON, (HIDDEN,), "gru").initialize(generator)
    index = WindowIndex.build([len(s) for s in series], WINDOW, HORIZON)
    train_starts, val_starts = index.split_validation(None)
    buffer = torch.as_tensor(scaled, dtype=torch.float32)

    def make(starts):
        values = gather_windows(buffer, starts, SPAN)
        inputs, context = transform.inputs(values[:, :WINDOW])
        return inputs, transform.targets(values[:, WINDOW:], context)

    batches = Batches(
        make=make,
        train=torch.as_tensor(train_starts),
        validation=torch.as_tensor(val_starts),
    )
    config = TrainingConfig(
        loss="mae",
        learning_rate=LEARNING_RATE,
        batch_size=BATCH,
        max_epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        gradient_clip=CLIP,
        verbose=0,
    )
    result = train_network(network, batches, config, generator, generator)
    return {
        "network": network,
        "scaler": scaler,
        "transform": transform,
        "best_epoch": result.best_epoch,
        "n_epochs": result.n_epochs,
    }


@torch.no_grad()
def forecast_ours(model, train: list[np.ndarray]) -> np.ndarray:
    scaler, transform = model["scaler"], model["transform"]
    context = np.stack(
        [scaler.transform(s[-WINDOW:].reshape(-1, 1), i) for i, s in enumerate(train)]
    )
    context = torch.as_tensor(context, dtype=torch.float32)
    inputs, ctx = transform.inputs(context)
    out = transform.invert(model["network"](inputs, dropout=False), ctx)
    values = scaler.inverse_transform(out.double().numpy(), np.arange(len(train)))
    return values[:, :, 0]


# --------------------------------------------------------------------- end to end
def _forecaster(steps: int) -> GRUForecaster:
    steps_per_epoch, epochs = _schedule(steps)
    return GRUForecaster(
        window_length=WINDOW,
        horizon=HORIZON,
        hidden_sizes=HIDDEN,
        loss="mae",
        batch_size=BATCH,
        max_epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        device="cpu",
        random_state=SEED,
    )


def probe_end_to_end(train, ids) -> str | None:
    """Why ``GRUForecaster.fit`` on the panel is skipped, or None to time it."""
    panel = to_panel(train[:2], ids[:2])
    started = time.perf_counter()
    try:
        forecaster = _forecaster(1).fit(panel, fh=range(1, HORIZON + 1))
    except Exception as error:  # any failure means the panel is not supported
        return f"fit on a 2-series panel raised {type(error).__name__}: {error}"
    seconds = time.perf_counter() - started
    if getattr(forecaster, "forecasters_", None) is not None:
        return (
            "sktime vectorises the forecaster over series (one network per series, "
            f"forecasters_ is set); one step per series on 2 series took "
            f"{seconds:.1f} s, so the full panel would train 359 networks"
        )
    return None


def fit_end_to_end(panel, steps: int):
    return _forecaster(steps).fit(panel, fh=range(1, HORIZON + 1))


def forecast_end_to_end(forecaster, ids) -> np.ndarray:
    pred = forecaster.predict()
    return np.stack([pred.loc[i].iloc[:, 0].to_numpy() for i in ids])


# --------------------------------------------------------------------------- run
def run(steps: int, repeats: int, output_dir: Path) -> dict:
    train, test, ids = load_m4_weekly()
    n_windows = sum(len(s) - SPAN + 1 for s in train)
    print(
        f"M4 Weekly: {len(train)} series, {n_windows} windows; {steps} steps x "
        f"{BATCH} windows, {repeats} repeats, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        flush=True,
    )

    systems = {
        BARE: (fit_bare, forecast_bare, train),
        OURS: (fit_ours, forecast_ours, train),
    }
    skipped = probe_end_to_end(train, ids)
    if skipped is None:
        panel = to_panel(train, ids)
        systems[END_TO_END] = (
            fit_end_to_end,
            lambda model, _train: forecast_end_to_end(model, ids),
            panel,
        )
    else:
        print(f"skipping {END_TO_END}: {skipped}", flush=True)

    for name, (fit, _, data) in systems.items():
        if name == END_TO_END:
            continue  # the probe above warmed it up
        started = time.perf_counter()
        fit(data, WARMUP_STEPS)
        print(f"warm-up {name}: {time.perf_counter() - started:.1f} s", flush=True)

    records = {name: {"seconds": [], "smape": [], "mase": []} for name in systems}
    # wall-clock seconds are the measure; process CPU seconds and the load average
    # before each fit show whether other processes competed for the cores
    for repeat in range(repeats):
        for name, (fit, forecast, data) in systems.items():
            load_before = load_average()
            started, cpu_started = time.perf_counter(), time.process_time()
            model = fit(data, steps)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            yhat = forecast(model, train)
            record = records[name]
            record["seconds"].append(seconds)
            record.setdefault("cpu_seconds", []).append(cpu_seconds)
            record["smape"].append(smape(test, yhat))
            record["mase"].append(mase(test, yhat, train))
            record.setdefault("load_average_before", []).append(load_before)
            if isinstance(model, dict) and "best_epoch" in model:
                record["best_epoch"] = model["best_epoch"]
                record["n_epochs"] = model["n_epochs"]
            elif hasattr(model, "best_epoch_"):
                record["best_epoch"] = int(model.best_epoch_)
                record["n_epochs"] = int(model.n_epochs_)
            print(
                f"[{repeat + 1}/{repeats}] {name}: {seconds:.1f} s, sMAPE "
                f"{record['smape'][-1]:.3f}, MASE {record['mase'][-1]:.3f} "
                f"(load {load_before})",
                flush=True,
            )

        # written after every repeat, so a run cut short keeps what it measured
        results = summarise(
            records, steps, repeats, repeat + 1, skipped, len(train), n_windows
        )
        write(results, output_dir, final=repeat + 1 == repeats)
    return results


def summarise(
    records: dict,
    steps: int,
    repeats: int,
    completed: int,
    skipped: str | None,
    n_series: int,
    n_windows: int,
) -> dict:
    """The results document of a run after ``completed`` repeats."""
    for record in records.values():
        record["median_seconds"] = statistics.median(record["seconds"])
        record["ms_per_step"] = 1000 * record["median_seconds"] / steps
    overhead = records[OURS]["median_seconds"] / records[BARE]["median_seconds"] - 1
    return {
        "benchmark": "fit-time overhead, M4 Weekly",
        "command": "python benchmarks/bench_overhead.py " + " ".join(sys.argv[1:]),
        "settings": {
            "window_length": WINDOW,
            "horizon": HORIZON,
            "network": f"GRU {HIDDEN}x1 + Linear({HIDDEN}, {HORIZON})",
            "steps": steps,
            "batch_size": BATCH,
            "learning_rate": LEARNING_RATE,
            "loss": "mae",
            "gradient_clip": CLIP,
            "warmup_steps": WARMUP_STEPS,
            "repeats": repeats,
            "completed_repeats": completed,
            "n_series": n_series,
            "n_windows": n_windows,
        },
        "machine": machine_info(),
        "systems": records,
        "overhead_percent": 100 * overhead,
        "skipped": {END_TO_END: skipped} if skipped else {},
        "load_average_after": load_average(),
    }


def markdown(results: dict) -> str:
    settings, machine = results["settings"], results["machine"]
    done = settings.get("completed_repeats", settings["repeats"])
    progress = "." if done >= settings["repeats"] else f" ({done} completed so far)."
    lines = [
        f"Fit time on M4 Weekly ({settings['n_series']} series, "
        f"{settings['n_windows']} windows): {settings['network']}, window "
        f"{settings['window_length']}, horizon {settings['horizon']}, "
        f"{settings['steps']} steps x {settings['batch_size']} windows, "
        f"{settings['repeats']} interleaved repeats{progress}",
        "",
        "| system | median fit s | ms/step | all runs s | sMAPE | MASE |",
        "|---|---|---|---|---|---|",
    ]
    for name, record in results["systems"].items():
        runs = ", ".join(f"{s:.1f}" for s in record["seconds"])
        lines.append(
            f"| {name} | {record['median_seconds']:.1f} | "
            f"{record['ms_per_step']:.1f} | {runs} | "
            f"{statistics.mean(record['smape']):.3f} | "
            f"{statistics.mean(record['mase']):.3f} |"
        )
    lines += [
        "",
        f"Overhead of the package core: median(ours) / median(bare) - 1 = "
        f"**{results['overhead_percent']:+.1f}%**.",
    ]
    for name, record in results["systems"].items():
        if "best_epoch" in record:
            lines += [
                "",
                f"{name}: {record['n_epochs']} epochs, the lowest training loss "
                f"at epoch {record['best_epoch']}; a fixed-epoch run without "
                "validation or patience keeps the last epoch's weights.",
            ]
    for name, reason in results["skipped"].items():
        lines += ["", f"{name}: not timed; {reason}."]
    lines += [
        "",
        f"Machine: torch {machine['torch']}, {machine['torch_threads']} torch "
        f"threads, {machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"{machine['platform']}.",
        "",
        f"Command: `{results['command'].strip()}`",
        "",
    ]
    return "\n".join(lines)


def write(results: dict, output_dir: Path, final: bool = True) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "overhead.json").write_text(json.dumps(results, indent=2) + "\n")
    (output_dir / "overhead.md").write_text(markdown(results))
    if final:
        print(f"wrote {output_dir / 'overhead.json'} and {output_dir / 'overhead.md'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="gradient steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per system")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="where overhead.json and overhead.md go",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    results = run(args.steps, args.repeats, args.output_dir)
    print(markdown(results))


if __name__ == "__main__":
    main()
