"""A panel driven by a past-only covariate: accuracy with the feature and without.

The evidence for ``past_covariates`` (issue 14, item 1). A synthetic daily panel of
20 series of 300 points, ``y_{i,t} = 10 + a_i x_{i,t-1} + s_i(t) + e_{i,t}``: the
covariate ``x_i`` is an AR(1) process (coefficient 0.5, unit innovations), known
only up to each forecast's origin; ``a_i`` is drawn from [1, 3], ``s_i`` is a
weekly sine of amplitude 2 with its own phase, ``e`` is normal noise of standard
deviation 0.1. Each forecaster is fitted on the first 280 points of every series
(``fh=1``), then the last 20 points of each are forecast one step ahead from the
window before each (``update(..., update_params=False)`` with the observed values,
then in-sample steps), as a rolling origin would. With ``X`` the model gets
``past_covariates=["x"]``: ``x`` enters its input window only. Without, it sees
``y`` alone, from which ``x_{t-1}`` is predictable only through the covariate's
autocorrelation. Both cells at the defaults but ``max_epochs=20`` (a fifth of
the default's training, so the twelve fits take minutes on one thread, not an
hour) and ``interval_method=None`` (only point forecasts are measured), seeds
0-2, one torch thread. MAE and sMAPE (M4's definition) over the 20 x 20 forecasts, and the
ratio of the errors with the feature to those without.

Command (from the repository root)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_past_covariates.py

Writes ``benchmarks/results/past_covariates.md`` and ``.json``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import load_average, machine_info, machine_lines, peak_rss_mb

RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = "OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_past_covariates.py"
N_SERIES, LENGTH, TEST = 20, 300, 20
SEEDS = (0, 1, 2)
MAX_EPOCHS = 20
DATA_SEED = 2026


def panel(seed: int = DATA_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel's ``y`` and ``X`` (column ``x``), indexed by (series, day)."""
    rng = np.random.default_rng(seed)
    days = pd.period_range("2020-01-01", periods=LENGTH, freq="D")
    ys, xs = [], []
    for _ in range(N_SERIES):
        x = np.zeros(LENGTH)
        innovations = rng.normal(size=LENGTH)
        x[0] = innovations[0] / np.sqrt(1 - 0.5**2)
        for t in range(1, LENGTH):
            x[t] = 0.5 * x[t - 1] + innovations[t]
        a = rng.uniform(1, 3)
        phase = rng.uniform(0, 2 * np.pi)
        season = 2 * np.sin(2 * np.pi * np.arange(LENGTH) / 7 + phase)
        y = 10 + season + 0.1 * rng.normal(size=LENGTH)
        y[1:] += a * x[:-1]
        ys.append(y)
        xs.append(x)
    index = pd.MultiIndex.from_product(
        [[f"s{i:02d}" for i in range(N_SERIES)], days], names=["series", "day"]
    )
    y = pd.DataFrame({"y": np.concatenate(ys)}, index=index)
    X = pd.DataFrame({"x": np.concatenate(xs)}, index=index)
    return y, X


def _split(frame: pd.DataFrame, train: bool) -> pd.DataFrame:
    position = frame.groupby(level=0).cumcount()
    return (
        frame[position < LENGTH - TEST] if train else frame[position >= LENGTH - TEST]
    )


def run(cls, seed: int, with_x: bool, y, X) -> dict:
    """Fit one forecaster, forecast the test points one step ahead; its errors."""
    from gatedforecast.metrics import smape

    kwargs = {"past_covariates": ["x"]} if with_x else {}
    forecaster = cls(
        max_epochs=MAX_EPOCHS,
        interval_method=None,
        random_state=seed,
        device="cpu",
        **kwargs,
    )
    start = time.perf_counter()
    forecaster.fit(_split(y, True), X=_split(X, True) if with_x else None, fh=[1])
    fit_s = time.perf_counter() - start
    forecaster.update(
        _split(y, False), X=_split(X, False) if with_x else None, update_params=False
    )
    forecast = forecaster.predict(fh=np.arange(-TEST + 1, 1))
    actual = _split(y, False)["y"].to_numpy().reshape(N_SERIES, TEST)
    predicted = forecast.loc[_split(y, False).index, "y"].to_numpy()
    predicted = predicted.reshape(N_SERIES, TEST)
    return {
        "cell": cls.__name__,
        "seed": seed,
        "with_x": with_x,
        "mae": float(np.mean(np.abs(predicted - actual))),
        "smape": float(smape(actual, predicted)),
        "fit_s": round(fit_s, 1),
        "window_length": int(forecaster.window_length_),
        "n_epochs": int(forecaster.n_epochs_),
    }


def table(runs: list[dict]) -> list[str]:
    lines = [
        "| cell | seed | MAE with x | MAE without | ratio | sMAPE with x | "
        "sMAPE without | ratio | fit s with / without |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cells = sorted({r["cell"] for r in runs}, key=lambda c: c != "GRUForecaster")
    for cell in cells:
        pairs = []
        for seed in SEEDS:
            by = {
                r["with_x"]: r for r in runs if r["cell"] == cell and r["seed"] == seed
            }
            if len(by) < 2:
                continue
            w, o = by[True], by[False]
            pairs.append((w, o))
            lines.append(
                f"| {cell} | {seed} | {w['mae']:.3f} | {o['mae']:.3f} | "
                f"{w['mae'] / o['mae']:.2f} | {w['smape']:.2f} | {o['smape']:.2f} | "
                f"{w['smape'] / o['smape']:.2f} | {w['fit_s']:.0f} / {o['fit_s']:.0f} |"
            )
        if pairs:
            mae = [np.mean([p[k]["mae"] for p in pairs]) for k in (0, 1)]
            sm = [np.mean([p[k]["smape"] for p in pairs]) for k in (0, 1)]
            lines.append(
                f"| {cell} | mean | {mae[0]:.3f} | {mae[1]:.3f} | "
                f"{mae[0] / mae[1]:.2f} | {sm[0]:.2f} | {sm[1]:.2f} | "
                f"{sm[0] / sm[1]:.2f} | |"
            )
    return lines


def main() -> None:
    from gatedforecast import GRUForecaster, LSTMForecaster

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    load_before = load_average()
    y, X = panel()
    runs = []
    for cls in (GRUForecaster, LSTMForecaster):
        for seed in SEEDS:
            for with_x in (True, False):
                runs.append(run(cls, seed, with_x, y, X))
                print(runs[-1], flush=True)
    machine = machine_info() | {
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    lines = table(runs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "past_covariates.json").write_text(
        json.dumps({"command": COMMAND, "runs": runs, "machine": machine}, indent=2)
        + "\n"
    )
    text = [
        "# A panel driven by a past-only covariate",
        "",
        "Written by `benchmarks/bench_past_covariates.py`. Command:",
        "",
        "```",
        COMMAND,
        "```",
        "",
        f"{N_SERIES} daily series of {LENGTH} points, "
        "`y_{i,t} = 10 + a_i x_{i,t-1} + s_i(t) + e_{i,t}` with `x_i` an AR(1) "
        "process (coefficient 0.5), `a_i` in [1, 3], a weekly sine of amplitude 2 "
        "and noise of standard deviation 0.1. Fitted on the first "
        f"{LENGTH - TEST} points of each series (`fh=1`); the last {TEST} points "
        "of each are forecast one step ahead from the window before each. *with "
        "x*: `past_covariates=['x']` (x in the input window only, never at the "
        "forecast step); *without*: y alone. Both cells at the defaults but "
        f"`max_epochs={MAX_EPOCHS}` and `interval_method=None`, one torch "
        "thread. The ratio is with / without: below 1, the feature helps.",
        "",
        *lines,
        "",
        *machine_lines(machine),
    ]
    (RESULTS / "past_covariates.md").write_text("\n".join(text))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
