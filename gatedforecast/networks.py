"""Stacked GRU/LSTM networks with a linear forecasting head.

The two cells differ only by the PyTorch module used for each layer. Dropout masks
and the initial weights are drawn from a :class:`torch.Generator` passed in by the
caller, so training and sampling never touch the global random state of the user's
process.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CELLS", "StackedRNN", "ForecastNetwork"]

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _dropout(
    x: torch.Tensor, p: float, active: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Inverted dropout whose mask comes from ``generator``."""
    if not active or p == 0.0:
        return x
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    return x * keep / (1.0 - p)


class StackedRNN(nn.Module):
    """A stack of single-layer recurrent modules, one size per layer.

    Parameters
    ----------
    input_size : int
        Number of features per time step.
    hidden_sizes : tuple of int
        Hidden size of each layer, bottom to top: ``(128, 64)`` is the classic
        two-layer Keras recipe.
    cell : {"gru", "lstm"}
        The recurrent cell.
    dropout : float
        Dropout probability on the output of every layer (between layers, and on
        the top layer's summary before the head).
    bidirectional : bool
        Run each layer in both directions and concatenate them.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: tuple[int, ...],
        cell: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        module = CELLS[cell]
        directions = 2 if bidirectional else 1
        layers = []
        size_in = input_size
        for size in hidden_sizes:
            layers.append(
                module(size_in, size, batch_first=True, bidirectional=bidirectional)
            )
            size_in = size * directions
        self.layers = nn.ModuleList(layers)
        self.cell = cell
        self.dropout = float(dropout)
        self.output_size = size_in

    def forward(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
    ) -> torch.Tensor:
        """Summarise ``x`` of shape ``(batch, time, features)``.

        Returns the final hidden state of the top layer, both directions
        concatenated when bidirectional: shape ``(batch, output_size)``.
        ``dropout`` forces masks on or off; by default they follow
        ``self.training``.
        """
        active = self.training if dropout is None else dropout
        out = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out, state = layer(out)
            if i < last:
                out = _dropout(out, self.dropout, active, generator)
        h_n = state[0] if self.cell == "lstm" else state
        summary = torch.cat(tuple(h_n), dim=-1)
        return _dropout(summary, self.dropout, active, generator)


class ForecastNetwork(nn.Module):
    """Recurrent encoder plus a linear head for ``horizon`` steps at once.

    With ``horizon=1`` the head is the one-step head used for recursive roll-out;
    with ``horizon=H`` it is the direct multi-output head.

    Parameters
    ----------
    n_inputs : int
        Features per input time step.
    n_targets : int
        Target variables forecast at each step.
    horizon : int
        Steps produced by one forward pass.
    hidden_sizes, cell, dropout, bidirectional
        See :class:`StackedRNN`.
    n_future : int, default=0
        Features known at each forecast step (future-known covariates). The head
        reads them, ``horizon * n_future`` values, beside the encoder's summary.
    n_quantiles : int, default=0
        With ``n_quantiles > 0`` the head gives that many quantiles per step and
        target, sorted so they never cross: output ``(batch, horizon, n_targets,
        n_quantiles)``.

    Examples
    --------
    >>> import torch
    >>> from gatedforecast.networks import ForecastNetwork
    >>> net = ForecastNetwork(1, 1, horizon=12, hidden_sizes=(128, 64), cell="gru")
    >>> net(torch.zeros(5, 100, 1)).shape
    torch.Size([5, 12, 1])
    """

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        horizon: int,
        hidden_sizes: tuple[int, ...],
        cell: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
        n_future: int = 0,
        n_quantiles: int = 0,
    ) -> None:
        super().__init__()
        # torch's modules draw default weights from the global generator on
        # construction; fork it so the user's random state is left as it was.
        # ``initialize`` then draws the real initial weights from a local generator.
        with torch.random.fork_rng(devices=[]):
            self.encoder = StackedRNN(
                n_inputs, hidden_sizes, cell, dropout, bidirectional
            )
            self.head = nn.Linear(
                self.encoder.output_size + horizon * n_future,
                horizon * n_targets * max(1, n_quantiles),
            )
        self.horizon = horizon
        self.n_targets = n_targets
        self.n_future = n_future
        self.n_quantiles = n_quantiles

    def forward(
        self,
        x: torch.Tensor,
        future: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
    ) -> torch.Tensor:
        """Map ``(batch, window, n_inputs)`` to ``(batch, horizon, n_targets)``.

        ``future`` holds the covariates of the forecast steps,
        ``(batch, horizon, n_future)``, when the network was built with them.
        """
        summary = self.encoder(x, generator=generator, dropout=dropout)
        if self.n_future:
            summary = torch.cat([summary, future.flatten(start_dim=1)], dim=1)
        out = self.head(summary)
        if self.n_quantiles:
            out = out.view(-1, self.horizon, self.n_targets, self.n_quantiles)
            return torch.sort(out, dim=-1).values
        return out.view(-1, self.horizon, self.n_targets)

    @torch.no_grad()
    def initialize(self, generator: torch.Generator) -> ForecastNetwork:
        """Draw PyTorch's default initial weights from ``generator``.

        Recurrent weights and biases are uniform in ``±1/sqrt(hidden)`` and the
        head's in ``±1/sqrt(fan_in)``, as ``nn.GRU``/``nn.LSTM``/``nn.Linear`` do,
        but reproducibly and without the global random state.
        """
        for layer in self.encoder.layers:
            bound = 1.0 / math.sqrt(layer.hidden_size)
            for param in layer.parameters():
                param.uniform_(-bound, bound, generator=generator)
        bound = 1.0 / math.sqrt(self.head.in_features)
        self.head.weight.uniform_(-bound, bound, generator=generator)
        self.head.bias.uniform_(-bound, bound, generator=generator)
        return self


def count_parameters(network: nn.Module) -> int:
    """Number of trainable parameters of ``network``."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)
