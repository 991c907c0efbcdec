"""Scaling of the series and of each input window, inverted on the way out.

Two layers, both affine and both undone on the network's output:

* :class:`SeriesScaler` standardises each series (per channel) with statistics
  fitted on its training history, in float64, before anything becomes float32.
* :class:`WindowTransform` optionally normalises each input window by its own level
  and spread (the RevIN idea) and optionally makes the target the residual over a
  naive baseline: the last value, or the value one season earlier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from .missing import fill_window

__all__ = [
    "SCALERS",
    "SCALER_REGISTRY",
    "Scaler",
    "register_scaler",
    "get_scaler",
    "BASELINES",
    "SeriesScaler",
    "WindowTransform",
    "check_float32_range",
    "check_finite_output",
]

BASELINES = ("last", "seasonal", None)
#: the largest magnitude the network's float32 arithmetic holds
FLOAT32_MAX = float(np.finfo(np.float32).max)

Statistics = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Scaler:
    """One entry of :data:`SCALER_REGISTRY`: what ``scaler=name`` does.

    Attributes
    ----------
    name : str or None
        The value of the estimators' ``scaler`` parameter.
    statistics : callable
        ``statistics(values)`` gives one location and one scale per channel of
        the ``(n_t, n_channels)`` float64 ``values`` of one series, each of shape
        ``(n_channels,)``. A scale of zero is replaced by the location's
        magnitude (or 1), so ``statistics`` need not guard against it.
    normalize_windows : bool
        Also normalise each input window by its own level and spread
        (:class:`WindowTransform`).
    series_method : str or None
        The scaler whose statistics scale each series, the name a fitted
        :class:`SeriesScaler` keeps (``"window"`` scales the series as
        ``"standard"`` does before normalising the windows).
    """

    name: str | None
    statistics: Statistics
    normalize_windows: bool = False
    series_method: str | None = None


#: ``scaler`` name -> :class:`Scaler`
SCALER_REGISTRY: dict[str | None, Scaler] = {}


def register_scaler(
    name: str | None,
    statistics: Statistics,
    *,
    normalize_windows: bool = False,
    series_method: str | None = ...,
) -> Scaler:
    """Add the scaler ``name`` to :data:`SCALER_REGISTRY` and return its entry.

    ``statistics`` maps a series' ``(n_t, n_channels)`` float64 values to a
    location and a scale per channel; ``series_method`` defaults to ``name``
    (see :class:`Scaler`). :data:`SCALERS` lists the scalers registered when this
    module was imported; a scaler added later is used by :class:`SeriesScaler`
    and checked by :func:`get_scaler`.

    Examples
    --------
    >>> import numpy as np
    >>> from gatedforecast.scaling import SCALER_REGISTRY, SeriesScaler, register_scaler
    >>> _ = register_scaler("max", lambda v: (np.zeros(v.shape[1]), np.abs(v).max(0)))
    >>> SeriesScaler("max").fit([np.array([[2.0], [-4.0]])]).scale_.ravel()
    array([4.])
    >>> del SCALER_REGISTRY["max"]
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(
            f"A scaler's name must be a non-empty string or None, got {name!r}."
        )
    if name in SCALER_REGISTRY:
        raise ValueError(
            f"A scaler named {name!r} is already registered; choose another name "
            "(or delete SCALER_REGISTRY[name] first to replace it)."
        )
    if not callable(statistics):
        raise TypeError(f"The statistics of scaler {name!r} must be callable.")
    method = name if series_method is ... else series_method
    entry = Scaler(name, statistics, bool(normalize_windows), method)
    SCALER_REGISTRY[name] = entry
    return entry


def get_scaler(name: str | None) -> Scaler:
    """The registered scaler ``name``; a clear error for any other value."""
    entry = SCALER_REGISTRY.get(name) if name is None or isinstance(name, str) else None
    if entry is None:
        raise ValueError(
            f"scaler={name!r} is not valid; choose one of "
            f"{', '.join(map(repr, SCALER_REGISTRY))}."
        )
    return entry


def _standard(values: np.ndarray):
    return values.mean(axis=0), values.std(axis=0)


def _robust(values: np.ndarray):
    q25, loc, q75 = np.percentile(values, [25, 50, 75], axis=0)
    scale = q75 - q25
    return loc, np.where(scale > 0, scale, values.std(axis=0))


def _identity(values: np.ndarray):
    return np.zeros(values.shape[1]), np.ones(values.shape[1])


register_scaler("window", _standard, normalize_windows=True, series_method="standard")
register_scaler("standard", _standard)
register_scaler("robust", _robust)
register_scaler(None, _identity)
#: the valid values of the estimators' ``scaler`` parameter
SCALERS = tuple(SCALER_REGISTRY)


def check_float32_range(values: np.ndarray, name: str, fix: str) -> None:
    """Refuse values the network's float32 arithmetic would turn into infinity.

    Parameters
    ----------
    values : ndarray
        What the network is about to read, as float64.
    name : str
        What the values are, for the message.
    fix : str
        The sentence that ends the message: how to bring the values in range.
    """
    # missing values (NaN) are left out, not allowed to hide a large one
    largest = float(np.max(np.abs(values), initial=0.0, where=~np.isnan(values)))
    if largest > FLOAT32_MAX:
        raise ValueError(
            f"{name} reaches {largest:.3g}, beyond the float32 range (about "
            f"{FLOAT32_MAX:.3g}) the network computes in, where it would become "
            f"infinite. {fix}"
        )


def check_finite_output(values: np.ndarray, name: str, fix: str) -> np.ndarray:
    """Return ``values``, refusing infinities (a result beyond the float64 range).

    Parameters
    ----------
    values : ndarray
        Results mapped back to the scale of the data.
    name : str
        What the values are, for the message.
    fix : str
        The sentence that ends the message.
    """
    values = np.asarray(values)
    if not np.isfinite(values).all():
        raise ValueError(
            f"The {name} are not finite: mapped back to the scale of the data they "
            f"exceed the float64 range (about 1.8e308). {fix}"
        )
    return values


def _observed_statistics(statistics: Statistics, values: np.ndarray):
    """``statistics`` of each channel of ``values`` on its observed (not NaN)
    values; a channel without any is left unscaled (location 0, scale 1)."""
    locs, scales = np.zeros(values.shape[1]), np.ones(values.shape[1])
    for j in range(values.shape[1]):
        column = values[~np.isnan(values[:, j]), j : j + 1]
        if len(column):
            loc, scale = statistics(column)
            locs[j], scales[j] = loc[0], scale[0]
    return locs, scales


class SeriesScaler:
    """Per-series, per-channel affine scaling fitted on training data.

    Parameters
    ----------
    method : {"standard", "robust", None} or a name in :data:`SCALER_REGISTRY`
        ``"standard"``: subtract the mean, divide by the standard deviation.
        ``"robust"``: subtract the median, divide by the interquartile range.
        ``None``: leave values unchanged. Any other value is refused by
        :meth:`fit`.

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
        statistics = get_scaler(self.method).statistics
        locs, scales = [], []
        for values in series:
            values = np.asarray(values, dtype=np.float64)
            observed = ~np.isnan(values)
            measure = statistics
            if not observed.all():
                # missing values: each channel's statistics of its observed ones
                measure = partial(_observed_statistics, statistics)
            with np.errstate(over="ignore", invalid="ignore"):
                loc, scale = measure(values)
            if not (np.isfinite(loc).all() and np.isfinite(scale).all()):
                # sums of squares (or of the values) beyond the float64 range,
                # from values above ~1e154: compute on values divided by their
                # largest magnitude, then scale back
                magnitude = np.max(np.abs(values), axis=0, where=observed, initial=0)
                magnitude = np.where(magnitude > 0, magnitude, 1.0)
                loc, scale = measure(values / magnitude)
                with np.errstate(over="ignore"):
                    loc, scale = loc * magnitude, scale * magnitude
                if not np.isfinite(scale).all():
                    raise ValueError(
                        "The values span more than the float64 range (their spread "
                        "exceeds about 1.8e308), so they cannot be scaled. Divide "
                        "them by a large constant (for example 1e300) first."
                    )
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
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (values - loc) / scale
        # missing values (NaN) stay missing
        if not np.isfinite(scaled[~np.isnan(values)]).all():
            # a difference beyond the float64 range (values near +-1.8e308 on
            # either side of the location): divide first
            scaled = values / scale - loc / scale
        return scaled

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
        # a result beyond the float64 range becomes inf, which the estimators
        # refuse with check_finite_output
        with np.errstate(over="ignore", invalid="ignore"):
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
    masked : bool, default=False
        The targets may be missing (NaN): each window's are filled
        (:func:`gatedforecast.missing.fill_window`), its level and spread are
        those of the observed values, and the inputs end with one channel per
        target, 1 where the value was observed and 0 where it was missing.
    """

    normalize: bool
    baseline: str | None
    seasonal_period: int | None
    horizon: int
    n_targets: int | None = None
    masked: bool = False

    def _stats(
        self, x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.normalize:
            zero = x.new_zeros((x.shape[0], 1, x.shape[2]))
            return zero, torch.ones_like(zero)
        if observed is None:
            level = x.mean(dim=1, keepdim=True)
            spread = x.std(dim=1, keepdim=True, unbiased=False)
        else:
            weight = observed.to(x.dtype)
            count = weight.sum(dim=1, keepdim=True).clamp(min=1.0)
            level = (x * weight).sum(dim=1, keepdim=True) / count
            variance = (((x - level) * weight) ** 2).sum(dim=1, keepdim=True) / count
            spread = variance.sqrt()
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
        observed = None
        if self.masked:
            targets, observed = fill_window(targets)
        level, spread = self._stats(targets, observed)
        base = self._baseline(targets, level)
        normalized = (targets - level) / spread
        if self.n_targets is not None and self.n_targets < x.shape[-1]:
            normalized = torch.cat([normalized, x[..., self.n_targets :]], dim=-1)
        if observed is not None:
            normalized = torch.cat([normalized, observed.to(x.dtype)], dim=-1)
        return normalized, (base, spread)

    def covariates(self, inputs: torch.Tensor) -> torch.Tensor:
        """The covariate channels of transformed ``inputs``: after the targets,
        before the mask channels of a masked transform (which needs
        ``n_targets``)."""
        end = inputs.shape[-1] - (self.n_targets if self.masked else 0)
        return inputs[..., self.n_targets : end]

    def covariate_offset(
        self, effect_window: torch.Tensor, effect_future: torch.Tensor, context
    ) -> torch.Tensor:
        """A covariate effect in the units the network's output is in.

        ``effect_window`` ``(batch, window, n_targets)`` and ``effect_future``
        ``(batch, horizon, n_targets)`` are the effect of each step's covariates
        in the series' scaled units. The baseline of a window holds the effect of
        the steps it is taken from, so the forecast gains the effect of each
        forecast step less the baseline of the effect over the window (the same
        last value, season-ago value or window mean), divided by the window's
        spread: ``invert(output + offset)`` adds the effect in the series' units,
        whatever the window's level and spread.
        """
        _, spread = context
        level = (
            effect_window.mean(dim=1, keepdim=True)
            if self.normalize
            else effect_window.new_zeros(effect_window[:, :1].shape)
        )
        return (effect_future - self._baseline(effect_window, level)) / spread

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
