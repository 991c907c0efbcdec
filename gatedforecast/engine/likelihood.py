"""Forecast distributions of a likelihood head, from a fitted engine.

One job: read a :class:`~gatedforecast.engine.SeriesEngine` whose network has a
likelihood head (``setup.distribution``, :mod:`gatedforecast.distributions`).
:func:`median_reader` is how point forecasts read the head (the distribution's
median, fed back as the input of roll-outs beyond the head);
:func:`head_parameters` gives the distributions of the head's steps;
:func:`sample_paths` draws paths: beyond the head each draw is fed back as the
next input, so the paths carry the head's uncertainty forward;
:func:`distribution_quantiles` combines the two (exact quantiles for the head's
steps, those of the drawn paths after). Everything is in the series' scaled
space, as the engine's forecasts are.
"""

from __future__ import annotations

import numpy as np
import torch

from ..distributions import distribution_head
from .rollout import Runtime, forecast_windows, head_output

__all__ = [
    "distribution_quantiles",
    "head_parameters",
    "median_reader",
    "sample_paths",
]


def median_reader(setup):
    """``read`` for :func:`~gatedforecast.engine.rollout.roll_out`: the median of
    the head's distributions; None without a likelihood head."""
    head = distribution_head(setup.distribution)
    if head is None:
        return None
    return lambda output, ctx: head.median(head.parameters(output, ctx))


def head_parameters(engine, contexts, future, runtime: Runtime) -> np.ndarray:
    """The distribution parameters of the head's steps from the scaled
    ``contexts``: ``(n, horizon, n_targets, 2)`` in the scaled space."""
    head = distribution_head(engine.setup.distribution)
    return head_output(
        engine.network,
        engine.setup.transform,
        contexts,
        future,
        runtime,
        read=head.parameters,
    )


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
        parameters = head.parameters(output, ctx)
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
