"""Missing target values (NaN in ``y``): how they are filled, masked and skipped.

One job, shared by the engine and the sktime face. The forecasters keep the
series as given, NaN included; a network fitted on series with a missing target
reads each input window through :func:`fill_window` (inside
:class:`gatedforecast.scaling.WindowTransform`): missing values carry the last
observed value of the window forward (the first observed one backward), so the
window's normalisation and the naive baselines stay defined, and an extra input
channel per target says which values were observed. :func:`usable_windows`
picks the training windows with an observed value in every target channel of
their input and at least one observed target; :func:`unobserved_ends` finds the
series whose last window has none; :func:`fill_series` fills whole series in
numpy for the decisions made on them (the season, the baseline).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "complete_windows",
    "fill_series",
    "fill_window",
    "has_missing",
    "unobserved_ends",
    "usable_windows",
]


def has_missing(values: list[np.ndarray], n_targets: int) -> bool:
    """Whether any of the ``(n_t, n_channels)`` series misses a target value."""
    return any(np.isnan(v[:, :n_targets]).any() for v in values)


def fill_series(values: np.ndarray) -> np.ndarray:
    """``(n_t, n_channels)`` values with each NaN replaced by the last observed
    value of its column before it (the first observed one for a leading NaN); a
    column with no observed value stays NaN. Values without NaN are returned
    as they are."""
    missing = np.isnan(values)
    if not missing.any():
        return values
    n = len(values)
    positions = np.where(~missing, np.arange(n)[:, None], -1)
    last = np.maximum.accumulate(positions, axis=0)
    first = np.where(~missing, np.arange(n)[:, None], n).min(axis=0)
    source = np.where(last >= 0, last, first[None, :]).clip(max=n - 1)
    return np.take_along_axis(values, source, axis=0)


def fill_window(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows ``(batch, window, channels)`` with their NaN filled, and the mask
    of the values that were observed.

    Within each window and channel a missing value takes the last observed
    value before it, a leading one the first observed value; a channel with no
    observed value in the window is filled with zeros (its mask says so).
    """
    observed = ~torch.isnan(x)
    window = x.shape[1]
    steps = torch.arange(window, device=x.device).view(1, window, 1)
    last = torch.where(observed, steps, -1).cummax(dim=1).values
    first = torch.where(observed, steps, window).amin(dim=1, keepdim=True)
    source = torch.where(last >= 0, last, first).clamp(max=window - 1)
    filled = x.gather(1, source)
    return torch.nan_to_num(filled, nan=0.0), observed


def _counts(observed: np.ndarray) -> np.ndarray:
    """Running counts of observed values: row ``t`` counts rows ``0..t-1``."""
    zero = np.zeros((1, observed.shape[1]), dtype=np.int64)
    return np.concatenate([zero, np.cumsum(observed, axis=0, dtype=np.int64)])


def usable_windows(
    values: np.ndarray, starts: np.ndarray, window: int, head: int, n_targets: int
) -> np.ndarray:
    """Which windows starting at ``starts`` of the series stored end to end in
    ``values`` can be trained on: every target channel has an observed value
    in the input, and at least one target of the head is observed."""
    counts = _counts(~np.isnan(values[:, :n_targets]))
    inputs = counts[starts + window] - counts[starts]
    targets = counts[starts + window + head] - counts[starts + window]
    return (inputs > 0).all(axis=1) & (targets.sum(axis=1) > 0)


def complete_windows(
    values: np.ndarray, starts: np.ndarray, span: int, n_targets: int
) -> np.ndarray:
    """Which windows of ``span`` values starting at ``starts`` miss no target."""
    counts = _counts(~np.isnan(values[:, :n_targets]))
    return (counts[starts + span] - counts[starts] == span).all(axis=1)


def unobserved_ends(
    values: list[np.ndarray], n_targets: int, window: int
) -> list[tuple[int, int]]:
    """``(series, target column)`` of every series whose last ``window`` values
    of that target are all missing."""
    return [
        (i, int(j))
        for i, v in enumerate(values)
        for j in np.flatnonzero(np.isnan(v[-window:, :n_targets]).all(axis=0))
    ]
