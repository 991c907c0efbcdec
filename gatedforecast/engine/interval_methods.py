"""Interval methods: how a fitted engine turns into quantiles of the forecast.

One job: given a fitted :class:`~gatedforecast.engine.SeriesEngine`, scaled
contexts ``(n, window, channels)``, known future covariates (or None), a number
of steps and the levels ``alpha``, return the quantiles in the scaled space,
``(len(alpha), n, n_steps, n_targets)``. Every method calibrates on the windows
held out in fit (the engine's residuals).

A method is a class with a ``name``, the flags below and
``quantiles(engine, contexts, future, n_steps, alpha, context)``; it is chosen by
name from :data:`INTERVAL_METHODS`. A new method is one class and one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..intervals import extend_to_steps, interpolate_levels
from .likelihood import distribution_quantiles
from .rollout import Runtime

__all__ = [
    "INTERVAL_METHODS",
    "ConformalIntervals",
    "DistributionIntervals",
    "IntervalContext",
    "MCDropoutIntervals",
    "QuantileHeadIntervals",
    "interval_method",
]


@dataclass(frozen=True)
class IntervalContext:
    """What a method needs besides the engine: where it runs, the seed and number
    of Monte Carlo samples, and ``warn_unresolved(alpha)``, called when conformal
    offsets serve levels the residuals may be too few for."""

    runtime: Runtime
    seed: int = 0
    n_samples: int = 100
    warn_unresolved: Callable = field(default=lambda alpha: None)


class ConformalIntervals:
    """Split-conformal quantiles of the held-out residuals around the point
    forecast, per step, scaled by each forecast's window spread."""

    name = "conformal"
    #: trains a quantile head (the network's output has a level axis, whose
    #: levels ``quantiles`` sets); the forecaster reads this flag, not the name
    quantile_head = False
    #: samples dropout masks, so the parameter check asks for ``dropout > 0``
    needs_dropout = False

    def quantiles(self, engine, contexts, future, n_steps, alpha, context):
        point = engine.forecast(contexts, n_steps, future, context.runtime)
        quantiles = np.empty((len(alpha), *point.shape))
        first = self._head_steps(
            engine, contexts, future, n_steps, alpha, quantiles, context
        )
        if n_steps > first:
            context.warn_unresolved(alpha)
            spread = engine.spread(contexts, np.arange(len(contexts)))
            offsets = engine.conformal_offsets(alpha, n_steps)
            quantiles[:, :, first:] = (
                point[None, :, first:] + offsets[:, None, first:] * spread[None]
            )
        return quantiles

    def _head_steps(
        self, engine, contexts, future, n_steps, alpha, quantiles, context
    ) -> int:
        """Fill the steps the network answers for itself; the number filled."""
        return 0


class QuantileHeadIntervals(ConformalIntervals):
    """The head's own quantiles for its steps (interpolated between trained
    levels, normal tails beyond), conformal spreads around the median after."""

    name = "quantile"
    quantile_head = True

    def _head_steps(
        self, engine, contexts, future, n_steps, alpha, quantiles, context
    ) -> int:
        head = engine.head_quantiles(contexts, future, context.runtime)
        first = min(n_steps, head.shape[1])
        quantiles[:, :, :first] = interpolate_levels(
            head[:, :first], engine.setup.levels, alpha
        )
        return first


class MCDropoutIntervals:
    """Monte Carlo dropout: ``n_samples`` forecast paths with dropout masks from a
    generator seeded by ``seed``, each plus a calibration residual path with a
    random sign (the data's noise), then the quantiles of the paths."""

    name = "mc_dropout"
    quantile_head = False
    needs_dropout = True

    def quantiles(self, engine, contexts, future, n_steps, alpha, context):
        samples, seed = context.n_samples, context.seed
        device = context.runtime.device
        generator = torch.Generator(device=device).manual_seed(seed)
        spread = engine.spread(contexts, np.arange(len(contexts)))
        repeated = np.repeat(contexts, samples, axis=0)
        known = None if future is None else np.repeat(future, samples, axis=0)
        paths = engine.forecast(repeated, n_steps, known, context.runtime, generator)
        rng = np.random.default_rng(seed)
        residuals = engine.residuals
        pick = rng.integers(len(residuals), size=len(paths))
        # a random sign makes the noise symmetric, as the conformal intervals are:
        # the few residuals of neighbouring calibration windows often share a sign
        sign = rng.choice([-1.0, 1.0], size=(len(paths), 1, 1))
        noise = extend_to_steps(residuals[pick] * sign, n_steps)
        paths = paths + noise * np.repeat(spread, samples, axis=0)
        paths = paths.reshape(len(contexts), samples, n_steps, -1)
        # a residual of a missing true value is NaN: the other paths count
        quantile = np.nanquantile if np.isnan(residuals).any() else np.quantile
        return quantile(paths, alpha, axis=1)


class DistributionIntervals:
    """The quantiles of a likelihood head's distributions
    (:mod:`gatedforecast.engine.likelihood`): exact for the head's steps, of
    ``n_samples`` drawn paths seeded by ``seed`` beyond them. Needs no
    calibration residuals."""

    name = "distribution"
    quantile_head = False
    needs_dropout = False
    #: reads the distribution of a likelihood head (``distribution`` is set)
    reads_distribution = True

    def quantiles(self, engine, contexts, future, n_steps, alpha, context):
        return distribution_quantiles(
            engine,
            contexts,
            future,
            n_steps,
            alpha,
            context.n_samples,
            context.seed,
            context.runtime,
        )


#: interval methods by the name ``interval_method`` takes
INTERVAL_METHODS = {
    method.name: method
    for method in (
        ConformalIntervals,
        MCDropoutIntervals,
        QuantileHeadIntervals,
        DistributionIntervals,
    )
}


def interval_method(name: str | None):
    """The interval method called ``name``; None for ``interval_method=None``."""
    return None if name is None else INTERVAL_METHODS[name]()
