"""Which windows calibrate the intervals, and in what spread residuals are measured.

One job, on numpy arrays: from scaled series ``(n_t, n_channels)`` (targets
first, then covariates) choose the last windows of each series to hold out from
training (:func:`hold_out`), cut them into contexts, true values and known
covariates (:func:`calibration_set`), and give the spread that residuals are
divided by and interval offsets multiplied by (:func:`window_spread`). The
residuals themselves come from the engine's forecasts of these windows
(:meth:`gatedforecast.engine.SeriesEngine.calibrate`); the conformal quantile math
is in :mod:`gatedforecast.intervals`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..intervals import calibration_windows, normalizing_spread
from ..scaling import WindowTransform
from .setup import _Setup

__all__ = [
    "REFIT_SHARE",
    "CalibrationSet",
    "HeldOut",
    "calibration_set",
    "hold_out",
    "pad_rows",
    "window_spread",
]

#: when more than this share of the windows is held out for calibration, the
#: network is trained again on all windows after calibrating
REFIT_SHARE = 0.05


def pad_rows(values: np.ndarray, multiple: int) -> np.ndarray:
    """Repeat the last row of ``values`` up to a multiple of ``multiple`` rows."""
    missing = -len(values) % multiple
    if not missing or values.shape[1] == 0:
        return values
    return np.concatenate([values, np.repeat(values[-1:], missing, axis=0)])


@dataclass(frozen=True)
class HeldOut:
    """The split of scaled series into training data and calibration windows.

    ``counts[i]`` windows of series ``i`` are held out, each forecast over
    ``horizon`` steps; ``training`` holds what is left of each series to train
    on; ``refit`` says the held-out windows are so large a share of all windows
    that the point forecasts come from a network trained again on everything.
    """

    counts: np.ndarray
    training: list[np.ndarray]
    horizon: int
    refit: bool


def hold_out(
    scaled: list[np.ndarray], setup: _Setup, horizon: int, size, calibrate: bool
) -> HeldOut:
    """Hold out the last windows of each series for calibration (none unless
    ``calibrate``); ``size`` is ``calibration_size`` and ``horizon`` the steps
    each held-out window is forecast over."""
    counts = np.zeros(len(scaled), dtype=int)
    if calibrate:
        counts = calibration_windows(
            [len(v) for v in scaled],
            setup.window_length,
            setup.horizon,
            horizon,
            size,
        )
    training = [
        v[: len(v) - horizon - n + 1] if n else v for v, n in zip(scaled, counts)
    ]
    n_windows = sum(len(v) - setup.window_length - setup.horizon + 1 for v in scaled)
    refit = bool(counts.sum() > REFIT_SHARE * n_windows)
    return HeldOut(counts, training, horizon, refit)


@dataclass(frozen=True)
class CalibrationSet:
    """The held-out windows: ``contexts`` ``(n, window, channels)``, ``truths``
    ``(n, horizon, n_targets)``, known ``future`` covariates ``(n, steps,
    n_future)`` (the future-known ones) or None, and the number of each window's ``series``."""

    contexts: np.ndarray
    truths: np.ndarray
    future: np.ndarray | None
    series: np.ndarray


def calibration_set(
    scaled: list[np.ndarray], held_out: HeldOut, setup: _Setup
) -> CalibrationSet:
    """Cut the held-out windows out of the scaled series, last window first."""
    window, horizon, n_targets = setup.window_length, held_out.horizon, setup.n_targets
    contexts, truths, futures = [], [], []
    for values, n in zip(scaled, held_out.counts):
        for j in range(n):
            start = len(values) - window - horizon - j
            contexts.append(values[start : start + window])
            following = values[start + window : start + window + horizon]
            truths.append(following[:, :n_targets])
            futures.append(pad_rows(following[:, setup.future_channels], setup.horizon))
    return CalibrationSet(
        contexts=np.stack(contexts),
        truths=np.stack(truths),
        future=np.stack(futures) if setup.n_future else None,
        series=np.repeat(np.arange(len(scaled)), held_out.counts),
    )


def window_spread(
    transform: WindowTransform,
    contexts: np.ndarray,
    typical: np.ndarray | None,
    series: np.ndarray,
) -> np.ndarray:
    """The spread that calibration residuals are measured in, for windows of
    the series numbered ``series``: ``(n, 1, n_targets)``.

    The spread each window's forecast is scaled with; with the ``typical``
    window spread of each series (window normalisation), a flat window takes
    its series' one (see :func:`gatedforecast.intervals.normalizing_spread`).
    """
    _, (_, spread) = transform.inputs(torch.as_tensor(contexts))
    spread = spread.numpy()
    if typical is None:
        return spread
    return normalizing_spread(spread, typical[series])
