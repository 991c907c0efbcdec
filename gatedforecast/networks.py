"""The network that forecasts with an encoder, and the encoders' public names.

An *encoder* (:mod:`gatedforecast.encoders`, whose names this module exports
too) summarises each input window, ``(batch, window, n_inputs)``, as one
vector per window, ``(batch, output_size)``; :class:`ForecastNetwork` reads that
summary (beside any future-known covariates) with a linear head. Encoders are
registered by name in :data:`ENCODERS`: the stacked GRU and LSTM (``"gru"``,
``"lstm"``) and the same cells with attention over their states
(``"gru+attention"``, ``"lstm+attention"``). A new encoder is one class and one
line::

    @register_encoder("my_cell")
    class MyEncoder(Encoder):
        def __init__(self, input_size, hidden_sizes, dropout=0.0,
                     bidirectional=False):
            ...

        def forward(self, x, generator=None, dropout=None):
            ...

after which ``ForecastNetwork(..., cell="my_cell")`` builds it.

Dropout masks and the initial weights are drawn from a :class:`torch.Generator`
passed in by the caller, so training and sampling never touch the global random
state of the user's process.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .covariate_effect import CovariateEffect
from .encoders import (
    CELLS,
    ENCODERS,
    AttentionRNN,
    Encoder,
    StackedRNN,
    build_encoder,
    register_encoder,
)
from .network_members import (
    MemberEncoder,
    MemberHead,
    clip_member_gradients,
    copy_member,
    member_median,
)
from .static import StaticInput

__all__ = [
    "ENCODERS",
    "CELLS",
    "Encoder",
    "register_encoder",
    "build_encoder",
    "StackedRNN",
    "AttentionRNN",
    "CovariateEffect",
    "ForecastNetwork",
]


class ForecastNetwork(nn.Module):
    """An encoder plus a linear head for ``horizon`` steps at once.

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
    hidden_sizes : tuple of int
        Hidden size of each recurrent layer, bottom to top.
    cell : str, default="gru"
        The encoder: a name registered in :data:`ENCODERS` (``"gru"``,
        ``"lstm"``, ``"gru+attention"``, ``"lstm+attention"``, or one added with
        :func:`register_encoder`).
    dropout, bidirectional
        See :class:`StackedRNN`.
    n_future : int, default=0
        Features known at each forecast step (future-known covariates). The head
        reads them, ``horizon * n_future`` values, beside the encoder's summary.
    n_quantiles : int, default=0
        With ``n_quantiles > 0`` the head gives that many quantiles per step and
        target, sorted so they never cross: output ``(batch, horizon, n_targets,
        n_quantiles)``.
    n_static : int, default=0
        Numeric static covariates (per-series values): channels
        ``static_at .. static_at + n_static`` of the input, then one channel per
        entry of ``static_levels`` holding a category's code. The network reads
        these channels at the window's last step only, once per window: the
        encoder does not see them. The numeric values and a learned embedding
        of each category (:class:`~gatedforecast.static.StaticInput`) scale the
        summary and future-known covariates the head reads (a gate that starts
        at one) and are read by the head beside them.
    static_levels : tuple of int, default=()
        The number of levels of each static category.
    static_at : int, default=0
        The input channel of the first static covariate.
    n_members : int, default=1
        With ``n_members > 1`` the network is an ensemble of that many networks
        of this architecture, computed as one batched model
        (:mod:`gatedforecast.network_members`); its output is the median of the
        members' outputs, and ``forward(..., members=True)`` returns them all,
        ``(n_members, batch, ...)``.

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
        n_members: int = 1,
        covariate_effect: int = 0,
        n_static: int = 0,
        static_levels: tuple[int, ...] = (),
        static_at: int = 0,
    ) -> None:
        super().__init__()
        static_levels = tuple(static_levels)
        self._arguments = dict(
            n_inputs=n_inputs,
            n_targets=n_targets,
            horizon=horizon,
            hidden_sizes=tuple(hidden_sizes),
            cell=cell,
            dropout=dropout,
            bidirectional=bidirectional,
            n_future=n_future,
            n_quantiles=n_quantiles,
        )
        self.n_members = n_members
        # static covariates: read once per window, not as the encoder's channels
        self.static_at = static_at
        if n_static or static_levels:
            self._arguments.update(
                n_static=n_static, static_levels=static_levels, static_at=static_at
            )
        n_encoded = n_inputs - n_static - len(static_levels)
        n_outputs = horizon * n_targets * max(1, n_quantiles)
        if n_members > 1:
            self.encoder = MemberEncoder(
                n_encoded, hidden_sizes, cell, dropout, bidirectional, n_members
            )
        else:
            # torch's modules draw default weights from the global generator on
            # construction; fork it so the user's random state is left as it
            # was. ``initialize`` then draws the real initial weights from a
            # local generator.
            with torch.random.fork_rng(devices=[]):
                self.encoder = build_encoder(
                    cell, n_encoded, hidden_sizes, dropout, bidirectional
                )
        n_read = self.encoder.output_size + horizon * n_future
        self.static = None
        if n_static or static_levels:
            self.static = StaticInput(n_static, static_levels, n_read, n_members)
            n_read += self.static.output_size
        if n_members > 1:
            self.head = MemberHead(n_read, n_outputs, n_members)
        else:
            with torch.random.fork_rng(devices=[]):
                self.head = nn.Linear(n_read, n_outputs)
        with torch.random.fork_rng(devices=[]):
            self.effect = (
                CovariateEffect(n_future, n_targets, covariate_effect)
                if covariate_effect and n_future
                else None
            )
        self.horizon = horizon
        self.n_targets = n_targets
        self.n_future = n_future
        self.n_quantiles = n_quantiles
        self.covariate_effect = covariate_effect if self.effect is not None else 0

    @property
    def n_static_channels(self) -> int:
        """Input channels holding static covariates (0 without)."""
        if self.static is None:
            return 0
        return self.static.n_numeric + len(self.static.levels)

    def forward(
        self,
        x: torch.Tensor,
        future: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
        members: bool = False,
    ) -> torch.Tensor:
        """Map ``(batch, window, n_inputs)`` to ``(batch, horizon, n_targets)``.

        ``future`` holds the covariates of the forecast steps,
        ``(batch, horizon, n_future)``, when the network was built with them.
        An ensemble returns the median of its members' outputs, or with
        ``members=True`` each member's, ``(n_members, batch, horizon,
        n_targets)``. The covariate ``effect``, when there is one, is not part
        of this output: the engine adds it (:mod:`gatedforecast.engine.effect`).
        """
        static = None
        if self.static is not None:
            # one value per window: the last step's, then out of the channels
            at, end = self.static_at, self.static_at + self.n_static_channels
            static = self.static(x[:, -1, at:end])
            x = torch.cat([x[..., :at], x[..., end:]], dim=-1)
        summary = self.encoder(x, generator=generator, dropout=dropout)
        if self.n_future:
            future = future.flatten(start_dim=1)
            if self.n_members > 1:
                future = future.unsqueeze(0).expand(self.n_members, *future.shape)
            summary = torch.cat([summary, future], dim=-1)
        if static is not None:
            summary = torch.cat([self.static.gated(summary, static), static], dim=-1)
        out = self.head(summary)
        shape = (self.horizon, self.n_targets)
        if self.n_quantiles:
            out = out.view(*out.shape[:-1], *shape, self.n_quantiles)
            out = torch.sort(out, dim=-1).values
        else:
            out = out.view(*out.shape[:-1], *shape)
        if self.n_members > 1 and not members:
            return member_median(out)
        return out

    def clip_gradients(self, max_norm: float) -> None:
        """Clip the gradients to total norm ``max_norm``; an ensemble clips each
        member's on its own."""
        if self.n_members > 1:
            members = [*self.encoder.parameters(), *self.head.parameters()]
            if self.static is not None:
                members += list(self.static.parameters())
            clip_member_gradients(members, max_norm, self.n_members)
            # the covariate effect is one module for all members
            if self.effect is not None:
                nn.utils.clip_grad_norm_(self.effect.parameters(), max_norm)
        else:
            nn.utils.clip_grad_norm_(self.parameters(), max_norm)

    @torch.no_grad()
    def initialize(self, generator: torch.Generator) -> ForecastNetwork:
        """Draw PyTorch's default initial weights from ``generator``.

        The encoder's first (see :meth:`Encoder.initialize`: recurrent weights
        and biases uniform in ``±1/sqrt(hidden)``), then the head's in
        ``±1/sqrt(fan_in)``, as ``nn.GRU``/``nn.LSTM``/``nn.Linear`` do, but
        reproducibly and without the global random state. An ensemble's
        members draw theirs one after another, each as a single network does.
        """
        if self.n_members > 1:
            for member in range(self.n_members):
                single = ForecastNetwork(**self._arguments).initialize(generator)
                copy_member(self, member, single)
        else:
            self.encoder.initialize(generator)
            bound = 1.0 / math.sqrt(self.head.in_features)
            self.head.weight.uniform_(-bound, bound, generator=generator)
            self.head.bias.uniform_(-bound, bound, generator=generator)
            if self.static is not None:
                self.static.initialize(generator)
        if self.effect is not None:
            self.effect.initialize(generator)
        return self


def count_parameters(network: nn.Module) -> int:
    """Number of trainable parameters of ``network``."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)
