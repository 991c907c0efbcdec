"""Scaling of the series and of each input window, inverted on the way out.

Two layers, both affine and both undone on the network's output:

* :class:`SeriesScaler` standardises each series (per channel) with statistics
  fitted on its training history, in float64, before anything becomes float32.
* :class:`WindowTransform` optionally normalises each input window by its own level
  and spread (the RevIN idea) and optionally makes the target the residual over a
  naive baseline: the last value, or the value one season earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SCALERS", "BASELINES", "SeriesScaler", "WindowTransform"]

SCALERS = ("window", "standard", "robust", None)
BASELINES = ("last", "seasonal", None)


class SeriesScaler:
    """Per-series, per-channel affine scaling fitted on training data.

    Parameters
    ----------
    method : {"standard", "robust", None}
        ``"standard"``: subtract the mean, divide by the standard deviation.
        ``"robust"``: subtract the median, divide by the interquartile range.
        ``None``: leave values unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedforecast.scaling import SeriesScaler
    >>> scaler = SeriesScaler("standard").fit([np.array([[1.0], [3.0]])])
    >>> scaler.transform(np.array([[1.0], [3.0]]), 0).ravel()
    array([-1.,  1.])
    >>> scaler.inverse_transform(np.array([[0.0]]), 0).ravel()
    array([2.])
    """

    def __init__(self, method: str | None = "standard") -> None:
        self.method = method

    def fit(self, series: list[np.ndarray]) -> SeriesScaler:
        """Fit one location and scale per channel for each ``(n_t, n_channels)`` array."""
        locs, scales = [], []
        for values in series:
            values = np.asarray(values, dtype=np.float64)
            if self.method == "standard":
                loc, scale = values.mean(axis=0), values.std(axis=0)
            elif self.method == "robust":
                q25, loc, q75 = np.percentile(values, [25, 50, 75], axis=0)
                scale = q75 - q25
                fallback = values.std(axis=0)
                scale = np.where(scale > 0, scale, fallback)
            else:
                loc = np.zeros(values.shape[1])
                scale = np.ones(values.shape[1])
            # a constant channel is scaled by its own magnitude, never by zero
            floor = np.maximum(np.abs(loc), 1.0) * 1e-12
            magnitude = np.where(np.abs(loc) > 0, np.abs(loc), 1.0)
            scale = np.where(scale > floor, scale, magnitude)
            locs.append(loc)
            scales.append(scale)
        self.loc_ = np.stack(locs)
        self.scale_ = np.stack(scales)
        return self

    def transform(
        self, values: np.ndarray, series: int = 0, columns: slice = slice(None)
    ) -> np.ndarray:
        """Scale the ``(n_t, n_channels)`` values of series number ``series``;
        ``columns`` picks the fitted channels that ``values`` holds."""
        loc, scale = self.loc_[series, columns], self.scale_[series, columns]
        return (np.asarray(values, dtype=np.float64) - loc) / scale

    def inverse_transform(
        self, values: np.ndarray, series=0, columns: slice = slice(None)
    ) -> np.ndarray:
        """Undo :meth:`transform`; ``series`` may be an int or an index array
        aligned with the first axis of ``values``."""
        values = np.asarray(values, dtype=np.float64)
        loc, scale = self.loc_[series, columns], self.scale_[series, columns]
        if np.ndim(series) == 1:
            extra = values.ndim - loc.ndim
            shape = (loc.shape[0],) + (1,) * extra + loc.shape[1:]
            loc, scale = loc.reshape(shape), scale.reshape(shape)
        return values * scale + loc


@dataclass(frozen=True)
class WindowTransform:
    """Per-window normalisation and baseline-relative targets, in torch.

    Parameters
    ----------
    normalize : bool
        Divide each input window by its own spread after removing its own level
        (mean and standard deviation of the window, per channel).
    baseline : {"last", "seasonal", None}
        Learn the target as the residual over a naive forecast made from the
        window: its last value, or the value ``seasonal_period`` steps earlier.
    seasonal_period : int or None
        Season length, needed by ``baseline="seasonal"``.
    horizon : int
        Number of target steps.
    n_targets : int or None, default=None
        The first ``n_targets`` channels of a window are the forecast targets; the
        others are covariates, passed through unchanged. ``None``: all channels are
        targets.
    """

    normalize: bool
    baseline: str | None
    seasonal_period: int | None
    horizon: int
    n_targets: int | None = None

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.normalize:
            zero = x.new_zeros((x.shape[0], 1, x.shape[2]))
            return zero, torch.ones_like(zero)
        level = x.mean(dim=1, keepdim=True)
        spread = x.std(dim=1, keepdim=True, unbiased=False)
        floor = 1e-5 * level.abs() + 1e-8
        return level, torch.maximum(spread, floor)

    def _baseline(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        if self.baseline == "last":
            return x[:, -1:, :].expand(-1, self.horizon, -1)
        if self.baseline == "seasonal":
            m = self.seasonal_period
            window = x.shape[1]
            steps = torch.arange(self.horizon, device=x.device) % m
            return x[:, window - m + steps, :]
        return level.expand(-1, self.horizon, -1)

    def inputs(self, x: torch.Tensor):
        """Network inputs for windows ``x`` of shape ``(batch, window, channels)``.

        Returns the transformed inputs and a context to map targets and outputs.
        """
        targets = x[..., : self.n_targets]
        level, spread = self._stats(targets)
        base = self._baseline(targets, level)
        normalized = (targets - level) / spread
        if self.n_targets is not None and self.n_targets < x.shape[-1]:
            normalized = torch.cat([normalized, x[..., self.n_targets :]], dim=-1)
        return normalized, (base, spread)

    @staticmethod
    def targets(y: torch.Tensor, context) -> torch.Tensor:
        """What the network learns for true future values ``y``."""
        base, spread = context
        return (y - base) / spread

    @staticmethod
    def invert(output: torch.Tensor, context) -> torch.Tensor:
        """Forecast values from network outputs; quantile outputs carry a last
        axis of levels."""
        base, spread = context
        if output.dim() == base.dim() + 1:
            return base.unsqueeze(-1) + output * spread.unsqueeze(-1)
        return base + output * spread
