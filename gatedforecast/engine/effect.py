"""The covariate effect of a forecaster's network, in the series' scaled units.

One job: add the per-step effect of the future-known covariates
(:class:`gatedforecast.covariate_effect.CovariateEffect`, the network's ``effect``) to
the network's output outside the window's normalisation and baseline, so that a
relation between ``X`` and ``y`` that holds for the whole series is one fixed set
of weights: the window scaling and the naive baseline express the target in
units that change from window to window, which a fixed covariate weight in the
head cannot follow. :func:`effect_offset` gives the effect in the units of the
network's output, :class:`WithCovariateEffect` is the network plus that offset
(what training fits), :func:`add_effect` adds it to a forecast's output, and
:func:`start_effect` starts a new network from the naive baseline plus the effect
fitted by ridge regression on the training windows.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..missing import complete_windows
from ..scaling import WindowTransform
from ..windows import WindowIndex

__all__ = [
    "EFFECT_HIDDEN",
    "MAX_START_WINDOWS",
    "WithCovariateEffect",
    "add_effect",
    "effect_offset",
    "has_effect",
    "start_effect",
]

#: hidden units of the covariate effect of a forecaster's network
EFFECT_HIDDEN = 16
#: the most training windows the effect's first weights are fitted on (evenly
#: spaced among all of them)
MAX_START_WINDOWS = 2048
#: ridge penalty of the first weights, relative to the features' mean sum of squares
START_RIDGE = 1e-6


def has_effect(network) -> bool:
    """Whether ``network`` holds a covariate effect (networks built before it
    existed, or without covariates, hold none)."""
    return getattr(network, "effect", None) is not None


def effect_offset(
    network,
    transform: WindowTransform,
    inputs: torch.Tensor,
    future: torch.Tensor,
    context,
) -> torch.Tensor:
    """The effect of the covariates in the units of the network's output,
    ``(batch, horizon, n_targets)``.

    ``inputs`` are the transformed windows (their covariates pass the
    transform unchanged), ``future`` the future-known covariates of the
    forecast steps (the first of the window's covariates; past-only ones follow
    them and have no effect here) and ``context`` the window's baseline and
    spread.
    """
    effect = network.effect
    window = effect(transform.covariates(inputs)[..., : future.shape[-1]])
    return transform.covariate_offset(window, effect(future), context)


def _with_offset(output: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``output`` plus ``offset``, on every level of a quantile head."""
    if output.dim() == offset.dim() + 1:
        return output + offset.unsqueeze(-1)
    return output + offset


class WithCovariateEffect(nn.Module):
    """A forecaster's network with its covariate effect added to its output.

    Called as ``module(inputs, future, context, generator=..., dropout=...)``
    with the windows' transformed inputs, the covariates of the forecast steps
    and the windows' transform context; its parameters are the network's.
    """

    def __init__(self, network, transform: WindowTransform) -> None:
        super().__init__()
        self.network = network
        self.transform = transform
        # an ensemble trains on its members' outputs (see training.py)
        self.n_members = getattr(network, "n_members", 1)

    def forward(
        self, inputs, future, context, generator=None, dropout=None, members=False
    ):
        options = {"members": True} if members else {}
        output = self.network(
            inputs, future, generator=generator, dropout=dropout, **options
        )
        return add_effect(
            self.network, self.transform, output, inputs, future, context, members
        )

    def clip_gradients(self, max_norm: float) -> None:
        """Clip the network's gradients as the network does."""
        self.network.clip_gradients(max_norm)


def add_effect(network, transform, output, inputs, future, context, members=False):
    """``output`` of ``network`` with its covariate effect, when it has one;
    ``members``: ``output`` holds each ensemble member's, on a first axis."""
    if future is None or not has_effect(network):
        return output
    offset = effect_offset(network, transform, inputs, future, context)
    return _with_offset(output, offset.unsqueeze(0) if members else offset)


@torch.no_grad()
def start_effect(network, scaled: list[np.ndarray], setup) -> None:
    """Start ``network`` from the naive baseline plus the best fixed covariate
    effect, in place.

    On the windows of the scaled series ``scaled`` (``(n_t, n_channels)`` each,
    targets first) that ``setup`` reads, the change of each target from the
    window's baseline to each head step is regressed on the same change of the
    effect's features (:meth:`~gatedforecast.covariate_effect.CovariateEffect.features`,
    the hidden layer as drawn) by ridge regression in float64, beside a
    constant: its coefficients are the effect's first weights, so a relation
    linear in the covariates holds from the first step. The head starts at
    zero, its bias at the median of what remains, in the units of the network's
    output (what the absolute error loss would choose). Only windows that miss
    no target are read. Nothing changes without an effect or without such a
    window.
    """
    if not has_effect(network):
        return
    transform, window = setup.transform, setup.window_length
    index = WindowIndex.build([len(s) for s in scaled], window, setup.horizon)
    values = np.concatenate(scaled) if len(index) else None
    starts = index.starts
    if setup.masked and len(index):
        # the windows that miss no target
        span = window + setup.horizon
        starts = starts[complete_windows(values, starts, span, setup.n_targets)]
    if len(starts) == 0:
        return
    chosen = np.unique(np.linspace(0, len(starts) - 1, MAX_START_WINDOWS).astype(int))
    starts = torch.as_tensor(starts[chosen])
    buffer = torch.as_tensor(values, dtype=torch.float64)
    spans = buffer[starts.unsqueeze(1) + torch.arange(window + setup.horizon)]
    n_targets = setup.n_targets
    targets = spans[..., :n_targets]
    features = copy.deepcopy(network.effect).double()
    features = features.features(spans[..., setup.future_channels])
    # the change from the baseline (what the offset adds before the spread)
    unit = (None, 1.0)
    change = transform.covariate_offset(targets[:, :window], targets[:, window:], unit)
    design = transform.covariate_offset(
        features[:, :window], features[:, window:], unit
    )
    flat = design.reshape(-1, design.shape[-1])
    flat = torch.cat([flat, torch.ones_like(flat[:, :1])], dim=1)
    gram = flat.T @ flat
    penalty = START_RIDGE * torch.clamp(gram.diagonal()[:-1].mean(), min=1e-12)
    gram.diagonal()[:-1] += penalty
    weights = torch.linalg.solve(gram, flat.T @ change.reshape(-1, n_targets))
    weights = weights[:-1].T
    # what is left, in the units of the output: the head's first bias
    _, context = transform.inputs(spans[:, :window])
    left = (change - design @ weights.T) / context[1]
    bias = left.reshape(-1, n_targets).median(dim=0).values
    if not (torch.isfinite(weights).all() and torch.isfinite(bias).all()):
        return
    effect = network.effect
    n_covariates = effect.linear.in_features
    effect.linear.weight.copy_(weights[:, :n_covariates])
    effect.output.weight.copy_(weights[:, n_covariates:])
    network.head.weight.zero_()
    # an ensemble's head holds one bias per member, on the first axis
    members = network.head.bias.shape[:-1]
    head_bias = network.head.bias.view(*members, network.horizon, n_targets, -1)
    head_bias.copy_(bias.view(n_targets, 1).expand_as(head_bias))
