"""Sliding windows over one or many series, addressed by start positions.

Series are stored once, end to end, in one buffer of shape ``(n_obs, n_channels)``.
A window is just the position of its first value in that buffer; the values of a
batch of windows are gathered on demand. No ``(n_windows, window_length)`` matrix is
ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["WindowIndex", "gather_windows", "make_windows", "validation_count"]


def validation_count(validation_size, n: int) -> int:
    """How many of ``n`` samples (the last ones) ``validation_size`` holds out: an
    int is a count, a float in (0, 1) a share of them, at least one; None holds
    none. The one validation rule of the forecasters' windows and the regressors'
    samples."""
    if validation_size is None:
        return 0
    if isinstance(validation_size, float):
        return max(1, math.ceil(validation_size * n))
    return int(validation_size)


@dataclass(frozen=True)
class WindowIndex:
    """Start positions of every window of ``window_length + horizon`` values.

    Parameters
    ----------
    lengths : sequence of int
        Length of each series in the buffer, in buffer order.
    window_length : int
        Input values per window.
    horizon : int
        Target values following the input.
    """

    starts: np.ndarray
    series: np.ndarray
    window_length: int
    horizon: int

    @classmethod
    def build(
        cls,
        lengths,
        window_length: int,
        horizon: int,
    ) -> WindowIndex:
        span = window_length + horizon
        starts, series = [], []
        offset = 0
        for i, length in enumerate(lengths):
            local = np.arange(0, length - span + 1, dtype=np.int64)
            starts.append(local + offset)
            series.append(np.full(local.size, i, dtype=np.int64))
            offset += length
        return cls(
            np.concatenate(starts) if starts else np.empty(0, np.int64),
            np.concatenate(series) if series else np.empty(0, np.int64),
            window_length,
            horizon,
        )

    def __len__(self) -> int:
        return int(self.starts.size)

    @staticmethod
    def count(lengths, window_length: int, horizon: int) -> int:
        """How many windows :meth:`build` cuts from series of ``lengths``,
        without building them."""
        span = window_length + horizon
        return sum(max(0, length - span + 1) for length in lengths)

    def split_validation(self, validation_size) -> tuple[np.ndarray, np.ndarray]:
        """Split into training and validation start positions, per series.

        The validation windows are the last ``validation_size`` windows of each
        series (an int), or the last fraction of them (a float in (0, 1), at least
        one). Training windows whose targets would reach into the first validation
        target are dropped, so no training window overlaps a validation target.

        Returns
        -------
        train_starts, val_starts : ndarray of int64
        """
        if validation_size is None:
            return self.starts, self.starts[:0]
        train, val = [], []
        for i in np.unique(self.series):
            starts = self.starts[self.series == i]
            n_val = min(validation_count(validation_size, starts.size), starts.size)
            # the first validation target sits at start + window_length; a training
            # window's targets end at start + window_length + horizon - 1
            n_train = max(0, starts.size - n_val - (self.horizon - 1))
            train.append(starts[:n_train])
            val.append(starts[starts.size - n_val :])
        return np.concatenate(train), np.concatenate(val)


def gather_windows(
    buffer: torch.Tensor, starts: torch.Tensor, span: int
) -> torch.Tensor:
    """Values of the windows starting at ``starts``: ``(len(starts), span, channels)``."""
    offsets = torch.arange(span, device=buffer.device)
    return buffer[starts.unsqueeze(1) + offsets]


def make_windows(y, window_length: int, horizon: int = 1):
    """Cut a series into ``(X, y)`` pairs for a regressor.

    Parameters
    ----------
    y : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        The series, oldest value first.
    window_length : int
        Number of past values in each sample.
    horizon : int, default=1
        Number of future values to predict from each sample.

    Returns
    -------
    X : ndarray of shape (n_samples, window_length) or (n_samples, window_length, n_channels)
        Read-only views into ``y`` (no copy is made for a numpy input).
    Y : ndarray of shape (n_samples,) when ``horizon == 1`` and ``y`` is 1-D,
        (n_samples, horizon) for a 1-D series, or (n_samples, horizon, n_channels).

    Examples
    --------
    >>> import numpy as np
    >>> from gatedforecast import make_windows
    >>> X, Y = make_windows(np.arange(10.0), window_length=3, horizon=2)
    >>> X.shape, Y.shape
    ((6, 3), (6, 2))
    >>> X[0], Y[0]
    (array([0., 1., 2.]), array([3., 4.]))
    """
    for name, value in (("window_length", window_length), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be a positive int, got {value!r}.")
        if value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    values = np.asarray(y)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"y must be 1-D (one series) or 2-D (time, channels), got {values.ndim}-D."
        )
    n = values.shape[0]
    n_samples = n - window_length - horizon + 1
    if n_samples < 1:
        raise ValueError(
            f"y has {n} values; window_length={window_length} and horizon={horizon} "
            f"need at least {window_length + horizon}. Use a longer series or a "
            "smaller window_length."
        )
    view = np.lib.stride_tricks.sliding_window_view(
        values, window_length + horizon, axis=0
    )
    # sliding_window_view puts the window axis last: (n_samples, [channels,] span)
    if values.ndim == 2:
        view = np.moveaxis(view, -1, 1)
    X = view[:n_samples, :window_length]
    Y = view[:n_samples, window_length:]
    if values.ndim == 1 and horizon == 1:
        Y = Y[:, 0]
    return X, Y
