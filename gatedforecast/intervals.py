"""Split-conformal quantiles from calibration residuals.

Residuals are measured on windows held out from training (the last ones of each
series), after dividing by the spread the forecast was scaled with, so one set of
residuals serves series of any level. A quantile at level ``alpha`` is the
conformal order statistic of the residuals of its horizon step.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import numpy as np

__all__ = [
    "calibration_windows",
    "conformal_quantiles",
    "extend_to_steps",
    "interpolate_levels",
]

#: total calibration residuals per horizon step that ``calibration_size="auto"`` aims
#: for: enough for a 95 % interval (19) with a little to spare
AUTO_RESIDUALS = 20
#: at most this share of a series' windows is held out for calibration
MAX_CALIBRATION_SHARE = 0.25


def calibration_windows(
    lengths: list[int], window: int, head: int, horizon: int, size
) -> np.ndarray:
    """Windows held out for calibration in each series.

    Parameters
    ----------
    lengths : list of int
        Series lengths.
    window, head : int
        Input length and training head of the network.
    horizon : int
        Steps each calibration window is forecast over.
    size : int or "auto"
        Windows per series; ``"auto"`` aims at :data:`AUTO_RESIDUALS` in total,
        at most a quarter of each series' windows.

    Returns
    -------
    ndarray of int
        Windows per series; the training part of series ``i`` then ends
        ``horizon + n_i - 1`` values before its end.
    """
    lengths = np.asarray(lengths)
    available = lengths - window - horizon + 1
    # training keeps at least one window of its own
    available = np.minimum(available, lengths - window - head - horizon + 1)
    available = np.maximum(available, 0)
    if size == "auto":
        wanted = math.ceil(AUTO_RESIDUALS / len(lengths))
        share = np.floor(MAX_CALIBRATION_SHARE * (lengths - window - head + 1))
        return np.minimum(np.minimum(wanted, np.maximum(share, 1)), available).astype(
            int
        )
    return np.minimum(int(size), available).astype(int)


def conformal_quantiles(residuals: np.ndarray, alpha) -> np.ndarray:
    """Offsets from the point forecast at the quantile levels ``alpha``, per step.

    Parameters
    ----------
    residuals : ndarray of shape (n, steps, channels)
        Calibration residuals (scaled).
    alpha : sequence of float in (0, 1)

    Returns
    -------
    ndarray of shape (len(alpha), steps, channels)

    Notes
    -----
    Intervals are symmetric around the point forecast: level ``a`` is the point
    forecast plus (above one half) or minus (below) the split-conformal quantile of
    the absolute residuals at coverage ``c = |2a - 1|``, the
    ``ceil((n + 1) c)``-th smallest, which covers with probability at least ``c``
    on exchangeable data. When ``n`` is too small for a level (``(n + 1) c > n``,
    i.e. fewer than 19 residuals for a 95 % interval) a warning is raised and the
    offset is widened to the larger of the largest absolute residual and a normal
    quantile with the residuals' root mean square.
    """
    n = residuals.shape[0]
    ordered = np.sort(np.abs(residuals), axis=0)
    rms = np.sqrt(np.mean(residuals**2, axis=0))
    out = np.empty((len(alpha), *residuals.shape[1:]))
    short = []
    for i, a in enumerate(alpha):
        coverage = abs(2 * a - 1)
        rank = math.ceil((n + 1) * coverage - 1e-9)
        if rank == 0:
            width = np.zeros(residuals.shape[1:])
        elif rank <= n:
            width = ordered[rank - 1]
        else:
            short.append(coverage)
            normal = rms * NormalDist().inv_cdf((1 + coverage) / 2)
            width = np.maximum(normal, ordered[-1])
        out[i] = width if a >= 0.5 else -width
    if short:
        need = max(math.ceil(c / (1 - c)) for c in short)
        warnings.warn(
            f"Only {n} calibration residual(s) per step: too few for coverage "
            f"{sorted(set(round(c, 6) for c in short))}, which needs at least "
            f"{need}. Those intervals are widened to the largest residual or a "
            "normal approximation, whichever is wider. Hold out more calibration "
            "windows (calibration_size) for exact conformal intervals.",
            UserWarning,
            stacklevel=4,
        )
    return out


def extend_to_steps(values: np.ndarray, n_steps: int) -> np.ndarray:
    """Offsets or residual paths of shape ``(..., steps, channels)`` for
    ``n_steps``; steps beyond the calibrated ones take the last calibrated step's
    values grown by ``sqrt(step / calibrated_steps)``."""
    calibrated = values.shape[-2]
    if n_steps <= calibrated:
        return values[..., :n_steps, :]
    steps = np.arange(calibrated + 1, n_steps + 1)
    growth = np.sqrt(steps / calibrated)[:, None]
    return np.concatenate([values, values[..., -1:, :] * growth], axis=-2)


def interpolate_levels(values: np.ndarray, levels, alpha) -> np.ndarray:
    """Quantiles at the levels ``alpha`` from quantiles at the trained ``levels``.

    Parameters
    ----------
    values : ndarray of shape (..., n_levels)
        Sorted quantiles at ``levels`` (which include 0.5).
    levels : sequence of float, increasing
    alpha : sequence of float in (0, 1)

    Returns
    -------
    ndarray of shape (len(alpha), ...)

    Notes
    -----
    Between trained levels the quantile is interpolated linearly. Beyond the
    outermost level ``t`` it follows a normal tail fitted to the distance between
    the median ``m`` and that level: ``q(a) = m + (q(t) - m) * z(a) / z(t)``, with
    ``z`` the standard normal quantile, so tails widen like a normal distribution's
    with the spread the head learned.
    """
    levels = np.asarray(levels, dtype=float)
    median = values[..., list(levels).index(0.5)]
    z = NormalDist().inv_cdf
    out = []
    for a in alpha:
        if a < levels[0]:
            q = median + (values[..., 0] - median) * z(a) / z(levels[0])
        elif a > levels[-1]:
            q = median + (values[..., -1] - median) * z(a) / z(levels[-1])
        else:
            upper = int(np.searchsorted(levels, a))
            if levels[upper] == a:
                q = values[..., upper]
            else:
                lower = upper - 1
                weight = (a - levels[lower]) / (levels[upper] - levels[lower])
                q = (1 - weight) * values[..., lower] + weight * values[..., upper]
        out.append(q)
    return np.stack(out)
