"""The per-step effect of future-known covariates that a forecaster's network
holds beside its encoder and head (see :mod:`gatedforecast.engine.effect` for how
the engine adds it to the forecast)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CovariateEffect"]


class CovariateEffect(nn.Module):
    """The effect of the future-known covariates of one step on its targets.

    ``c(x) = V x + W tanh(A x + a)``: a linear map plus one small hidden layer, so
    that a linear relation is exact and a simple nonlinear one representable. It
    reads the covariates of each step on their own, in the series' scaled units,
    and gives an effect per target in the same units; the engine adds it to the
    forecast outside the window's normalisation and baseline
    (:meth:`gatedforecast.scaling.WindowTransform.covariate_offset`), so a
    relation that holds for the whole series is one fixed set of weights.

    Parameters
    ----------
    n_covariates : int
        Covariates per step.
    n_targets : int
        Targets per step.
    hidden_size : int
        Units of the hidden layer.
    """

    def __init__(self, n_covariates: int, n_targets: int, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_covariates, n_targets, bias=False)
        self.hidden = nn.Linear(n_covariates, hidden_size)
        self.output = nn.Linear(hidden_size, n_targets, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the effect is linear in: ``[x, tanh(A x + a)]`` per step."""
        return torch.cat([x, torch.tanh(self.hidden(x))], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., n_covariates)`` to ``(..., n_targets)``."""
        return self.linear(x) + self.output(torch.tanh(self.hidden(x)))

    @torch.no_grad()
    def initialize(self, generator: torch.Generator) -> None:
        """The hidden layer uniform in ``±1/sqrt(fan_in)``; the effect starts at
        zero (the linear map and the output layer are zero)."""
        bound = 1.0 / math.sqrt(self.hidden.in_features)
        self.hidden.weight.uniform_(-bound, bound, generator=generator)
        self.hidden.bias.uniform_(-bound, bound, generator=generator)
        self.linear.weight.zero_()
        self.output.weight.zero_()
