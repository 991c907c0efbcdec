"""M4 Weekly data, shared by the benchmarks (the M4 metrics are in
:mod:`gatedforecast.metrics`).

The Weekly files ship with the repository in ``examples/data/m4_weekly/`` (see the
README there for their source). Set ``GATEDFORECAST_M4_DIR`` or pass ``data_dir`` to
read them from elsewhere.

Run ``python benchmarks/m4_data.py`` to check the loader and the metrics against
the reference scores of the naive (last value) forecast: sMAPE 9.161, MASE 2.777.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from gatedforecast.metrics import mase, smape

__all__ = [
    "DEFAULT_DATA_DIR",
    "HORIZON",
    "data_dir_path",
    "load_m4_weekly",
    "naive_forecast",
    "to_long_frame",
    "to_panel",
    "QUIET_TRAINER",
    "quiet_lightning",
]

DEFAULT_DATA_DIR = (
    Path(__file__).resolve().parents[1] / "examples" / "data" / "m4_weekly"
)
HORIZON = 13


def data_dir_path(data_dir=None) -> Path:
    """Folder of the M4 files: ``data_dir``, else ``$GATEDFORECAST_M4_DIR``, else
    :data:`DEFAULT_DATA_DIR`."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("GATEDFORECAST_M4_DIR")
    return Path(env) if env else DEFAULT_DATA_DIR


def _read(path: Path) -> tuple[list[str], np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found. Point GATEDFORECAST_M4_DIR (or data_dir) at the "
            "folder holding Weekly-train.csv and Weekly-test.csv."
        )
    frame = pd.read_csv(path, index_col=0)
    return [str(i) for i in frame.index], frame.to_numpy(dtype=np.float64)


def load_m4_weekly(data_dir=None) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """The M4 Weekly subset.

    Returns
    -------
    train : list of ndarray
        One float64 array per series, oldest value first, padding dropped.
    test : ndarray of shape (n_series, 13)
        The next 13 values of each series.
    ids : list of str
        Series ids (``"W1"`` ... ``"W359"``), in the order of ``train`` and ``test``.
    """
    folder = data_dir_path(data_dir)
    train_ids, train_values = _read(folder / "Weekly-train.csv")
    test_ids, test = _read(folder / "Weekly-test.csv")
    if train_ids != test_ids:
        raise ValueError("Weekly-train.csv and Weekly-test.csv list different ids.")
    train = []
    for row in train_values:
        values = row[~np.isnan(row)]
        train.append(np.ascontiguousarray(values))
    if np.isnan(test).any():
        raise ValueError("Weekly-test.csv has missing values.")
    return train, test, train_ids


def naive_forecast(train, horizon: int = HORIZON) -> np.ndarray:
    """Repeat the last value of each series: shape ``(n_series, horizon)``."""
    return np.stack([np.full(horizon, series[-1]) for series in train])


def to_panel(train, ids=None) -> pd.DataFrame:
    """The series as an sktime ``pd-multiindex`` panel.

    Index levels: series id and an integer time index ``0 .. n-1`` per series; one
    column ``"y"``.
    """
    if ids is None:
        ids = [f"W{i + 1}" for i in range(len(train))]
    lengths = [len(series) for series in train]
    index = pd.MultiIndex.from_arrays(
        [
            np.repeat(np.asarray(ids, dtype=object), lengths),
            np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]),
        ],
        names=["series", "time"],
    )
    values = np.concatenate([np.asarray(s, dtype=np.float64) for s in train])
    return pd.DataFrame({"y": values}, index=index)


def to_long_frame(train, ids) -> pd.DataFrame:
    """The series in neuralforecast's long format: ``unique_id``, an integer
    ``ds`` from 0 per series, and float32 ``y``."""
    lengths = [len(s) for s in train]
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(ids, dtype=object), lengths),
            "ds": np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]),
            "y": np.concatenate(train).astype(np.float32),
        }
    )


#: the Lightning trainer switches the peers run with: the CPU, and no progress
#: bar, model summary, logger or checkpoints (nothing that changes training)
QUIET_TRAINER = {
    "accelerator": "cpu",
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "logger": False,
    "enable_checkpointing": False,
}


def quiet_lightning() -> None:
    """Keep Lightning's info messages out of the benchmarks' output."""
    import logging

    for name in ("pytorch_lightning", "lightning", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":
    train, test, ids = load_m4_weekly()
    lengths = np.array([len(s) for s in train])
    print(
        f"M4 Weekly: {len(train)} series, lengths {lengths.min()} to {lengths.max()}, "
        f"{lengths.sum()} observations, test {test.shape}"
    )
    forecast = naive_forecast(train)
    print(
        f"Naive (last value): sMAPE {smape(test, forecast):.3f}, "
        f"MASE {mase(test, forecast, train):.3f} (reference 9.161, 2.777)"
    )
