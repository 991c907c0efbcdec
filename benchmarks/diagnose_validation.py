"""Why one validation window per series misleads early stopping on M4 Weekly.

Fits the global GRU of ``bench_early_stopping.py`` with ``validation_size=1`` for
12 epochs (no patience, so nothing stops; the best epoch's weights are restored),
prints the validation loss of each epoch, then scores the network and the naive
forecast (last value) on two 13-week slots of every series:

* the validation slot: the 13 weeks before the calibration slot, forecast from
  the 52 weeks before them (what the validation loss measures);
* the calibration slot: the last 13 weeks of the training data (held out for the
  default conformal intervals), forecast the same way.

Writes ``results/validation_diagnosis.md``.

Usage::

    python benchmarks/diagnose_validation.py [--threads N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_early_stopping import COMMON
from m4_data import HORIZON, load_m4_weekly, to_panel

from gatedforecast import GRUForecaster
from gatedforecast.metrics import smape

WINDOW = COMMON["window_length"]


def slot_scores(forecaster, train, offset: int) -> tuple[float, float]:
    """sMAPE of the network and of the naive forecast on the ``HORIZON`` weeks
    that end ``offset - HORIZON`` weeks before each series' end."""
    engine = forecaster._engine
    scaler = engine.scaler  # each series' own scaling, as in fit
    contexts, truths, naive = [], [], []
    for i, series in enumerate(train):
        end = len(series) - offset
        context = series[end - WINDOW : end, None]
        contexts.append(scaler.transform(context, i))
        truths.append(series[end : end + HORIZON])
        naive.append(np.repeat(context[-1], HORIZON))
    scaled = engine.forecast(np.stack(contexts), HORIZON, None, forecaster._runtime())
    forecast = scaler.inverse_transform(scaled, np.arange(len(train)))[:, :, 0]
    truths, naive = np.array(truths), np.array(naive)
    return smape(truths, forecast), smape(truths, naive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--output-dir", type=Path, default=Path(__file__).parent / "results"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train, _, ids = load_m4_weekly()
    forecaster = GRUForecaster(**COMMON, max_epochs=12, validation_size=1)
    forecaster.fit(to_panel(train, ids), fh=np.arange(1, HORIZON + 1))
    history = forecaster.history_[["epoch", "train_loss", "val_loss"]]
    validation = slot_scores(forecaster, train, 2 * HORIZON)
    calibration = slot_scores(forecaster, train, HORIZON)

    lines = [
        "Global GRU on M4 Weekly (settings of bench_early_stopping.py), "
        "validation_size=1, 12 epochs, no patience; the weights of the best "
        f"epoch by validation loss ({forecaster.best_epoch_}) restored.",
        "",
        "| epoch | train loss | validation loss |",
        "|---|---|---|",
    ]
    for row in history.itertuples():
        lines.append(f"| {row.epoch} | {row.train_loss:.4f} | {row.val_loss:.4f} |")
    lines += [
        "",
        "| 13-week slot | network sMAPE | naive sMAPE |",
        "|---|---|---|",
        f"| validation slot | {validation[0]:.3f} | {validation[1]:.3f} |",
        f"| calibration slot (the next 13 weeks) | {calibration[0]:.3f} | "
        f"{calibration[1]:.3f} |",
        "",
        "Command: `python benchmarks/diagnose_validation.py "
        + " ".join(sys.argv[1:])
        + "`",
        "",
    ]
    text = "\n".join(lines)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "validation_diagnosis.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
