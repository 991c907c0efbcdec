"""Forecast distributions of a likelihood head, from a fitted engine.

One job: read a :class:`~gatedforecast.engine.SeriesEngine` whose network has a
likelihood head (``setup.distribution``, :mod:`gatedforecast.distributions`).
:func:`median_reader` is how point forecasts read the head (the distribution's
median, fed back as the input of roll-outs beyond the head);
:func:`head_parameters` gives the distributions of the head's steps;
:func:`sample_paths` draws paths: beyond the head each draw is fed back as the
next input, so the paths carry the head's uncertainty forward;
:func:`distribution_quantiles` combines the two (exact quantiles for the head's
steps, those of the drawn paths after); :func:`scale_factors` calibrates the
head's scales on the windows fit held out, and every distribution read here
carries them (``engine.scale_factors``). Everything is in the series' scaled
space, as the engine's forecasts are.
"""

from __future__ import annotations

import numpy as np
import torch

from ..distributions import distribution_head, fit_scale_factors
from .rollout import Runtime, forecast_windows, head_output

__all__ = [
    "distribution_quantiles",
    "head_parameters",
    "median_reader",
    "sample_paths",
    "scale_factors",
]


def median_reader(setup):
    """``read`` for :func:`~gatedforecast.engine.rollout.roll_out`: the median of
    the head's distributions; None without a likelihood head."""
    head = distribution_head(setup.distribution)
    if head is None:
        return None
    return lambda output, ctx: head.median(head.parameters(output, ctx))


def _calibrated(parameters, factors):
    """``parameters`` ``(..., horizon, n_targets, 2)`` with each step's and
    target's scale multiplied by ``factors`` ``(horizon, n_targets)`` (None:
    as they are)."""
    if factors is None:
        return parameters
    if isinstance(parameters, torch.Tensor):
        factors = torch.as_tensor(
            factors, dtype=parameters.dtype, device=parameters.device
        )
        return torch.stack([parameters[..., 0], parameters[..., 1] * factors], -1)
    out = parameters.copy()
    out[..., 1] = parameters[..., 1] * factors
    return out


def _raw_parameters(engine, contexts, future, runtime: Runtime) -> np.ndarray:
    head = distribution_head(engine.setup.distribution)
    return head_output(
        engine.network,
        engine.setup.transform,
        contexts,
        future,
        runtime,
        read=head.parameters,
    )


def head_parameters(engine, contexts, future, runtime: Runtime) -> np.ndarray:
    """The distribution parameters of the head's steps from the scaled
    ``contexts``: ``(n, horizon, n_targets, 2)`` in the scaled space, with the
    calibrated scales."""
    return _calibrated(
        _raw_parameters(engine, contexts, future, runtime), engine.scale_factors
    )


def scale_factors(engine, windows, runtime: Runtime) -> np.ndarray | None:
    """The factors that calibrate the head's scales, ``(horizon, n_targets)``,
    fitted on the held-out ``windows`` (a
    :class:`~gatedforecast.engine.calibration.CalibrationSet`); None for a
    head whose scale is left as trained (or without a likelihood head).

    Steps of the head beyond the windows' truths take the factor of the last
    step they reach.
    """
    head = distribution_head(engine.setup.distribution)
    if head is None or not head.calibrates_scale:
        return None
    parameters = _raw_parameters(engine, windows.contexts, windows.future, runtime)
    reached = min(parameters.shape[1], windows.truths.shape[1])
    truths = windows.truths[:, :reached]
    if engine.setup.masked:
        # a target never observed in its window has nothing to be scored against
        unread = engine.unread(windows.contexts)
        truths = np.where(unread[:, None, :], np.nan, truths)
    factors = fit_scale_factors(head, parameters[:, :reached], truths)
    last = np.repeat(factors[-1:], parameters.shape[1] - reached, axis=0)
    return np.concatenate([factors, last])


def sample_paths(
    engine, contexts, future, n_steps: int, n_samples: int, seed: int, runtime
) -> np.ndarray:
    """``n_samples`` random paths of ``n_steps`` from each of the scaled
    ``contexts``, seeded by ``seed``: ``(n, n_samples, n_steps, n_targets)``.

    Each step's value is drawn from its distribution; beyond the head the drawn
    values are the inputs of the next pass. An ensemble's distributions are
    those of the median of its members' outputs.
    """
    head = distribution_head(engine.setup.distribution)
    rng = np.random.default_rng(seed)

    def draw(output, ctx):
        parameters = _calibrated(head.parameters(output, ctx), engine.scale_factors)
        values = head.sample(parameters.double().cpu().numpy(), rng)
        return torch.as_tensor(values, dtype=output.dtype, device=output.device)

    repeated = np.repeat(contexts, n_samples, axis=0)
    known = None if future is None else np.repeat(future, n_samples, axis=0)
    paths = forecast_windows(
        engine.network,
        engine.setup.transform,
        repeated,
        n_steps,
        known,
        runtime,
        read=draw,
    )
    return paths.reshape(len(contexts), n_samples, n_steps, -1)


def distribution_quantiles(
    engine, contexts, future, n_steps: int, alpha, n_samples: int, seed: int, runtime
) -> np.ndarray:
    """Quantiles at the levels ``alpha``: ``(len(alpha), n, n_steps, n_targets)``,
    exact for the head's steps, of :func:`sample_paths` after them."""
    head = distribution_head(engine.setup.distribution)
    first = min(n_steps, engine.setup.horizon)
    parameters = head_parameters(engine, contexts, future, runtime)[:, :first]
    quantiles = np.empty((len(alpha), len(contexts), n_steps, engine.setup.n_targets))
    quantiles[:, :, :first] = head.quantiles(parameters, alpha)
    if n_steps > first:
        paths = sample_paths(
            engine, contexts, future, n_steps, n_samples, seed, runtime
        )
        # counts keep integer quantiles: the smallest drawn value reaching a level
        method = "inverted_cdf" if head.counts else "linear"
        quantiles[:, :, first:] = np.quantile(
            paths[:, :, first:], alpha, axis=1, method=method
        )
    return quantiles
