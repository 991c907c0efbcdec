"""Encoders behind a small interface, and the network that forecasts with them.

An *encoder* summarises each input window, ``(batch, window, n_inputs)``, as one
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
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from .chunked_bptt import chunked_states
from .covariate_effect import CovariateEffect
from .network_members import (
    MemberEncoder,
    MemberHead,
    clip_member_gradients,
    copy_member,
    member_median,
)
from .network_members import (
    masked_dropout as _dropout,
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

#: encoder name -> factory called as ``factory(input_size, hidden_sizes,
#: dropout=..., bidirectional=...)``, returning an :class:`Encoder`
ENCODERS: dict[str, Callable[..., Encoder]] = {}
#: the names ``ForecastNetwork(cell=...)`` accepts (the same mapping)
CELLS = ENCODERS
#: the torch module of one layer of each recurrent cell
RNN_LAYERS = {"gru": nn.GRU, "lstm": nn.LSTM}


def register_encoder(name: str, factory: Callable[..., Encoder] | None = None):
    """Register an encoder under ``name``, as a decorator or with a factory.

    Parameters
    ----------
    name : str
        What ``ForecastNetwork(cell=...)`` (and the estimators) call it.
    factory : callable, optional
        Called as ``factory(input_size, hidden_sizes, dropout=..., bidirectional=...)``
        and returning an :class:`Encoder`. Without it, ``register_encoder(name)``
        decorates such a class.

    Examples
    --------
    >>> from functools import partial
    >>> from gatedforecast.networks import ENCODERS, StackedRNN, register_encoder
    >>> _ = register_encoder("gru_again", partial(StackedRNN, cell="gru"))
    >>> "gru_again" in ENCODERS
    True
    >>> del ENCODERS["gru_again"]
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"An encoder's name must be a non-empty string, got {name!r}.")
    if name in ENCODERS:
        raise ValueError(
            f"An encoder named {name!r} is already registered; choose another name "
            "(or delete ENCODERS[name] first to replace it)."
        )

    def add(factory: Callable[..., Encoder]) -> Callable[..., Encoder]:
        if not callable(factory):
            raise TypeError(
                f"The encoder {name!r} must be a class or a callable, got {factory!r}."
            )
        ENCODERS[name] = factory
        return factory

    return add if factory is None else add(factory)


def build_encoder(
    cell: str,
    input_size: int,
    hidden_sizes: tuple[int, ...],
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> Encoder:
    """The encoder registered as ``cell``, refusing a name that is not registered."""
    factory = ENCODERS.get(cell) if isinstance(cell, str) else None
    if factory is None:
        raise ValueError(
            f"cell={cell!r} is not a registered encoder; choose one of "
            f"{', '.join(map(repr, ENCODERS))}, or register a new one with "
            "gatedforecast.networks.register_encoder."
        )
    encoder = factory(
        input_size, tuple(hidden_sizes), dropout=dropout, bidirectional=bidirectional
    )
    if not isinstance(encoder, Encoder):
        raise TypeError(
            f"The encoder registered as {cell!r} built a {type(encoder).__name__}, "
            "not a gatedforecast.networks.Encoder."
        )
    encoder.cell = cell
    return encoder


class Encoder(nn.Module):
    """What :class:`ForecastNetwork` needs of an encoder.

    Subclasses are built as ``cls(input_size, hidden_sizes, dropout=0.0,
    bidirectional=False)`` and set :attr:`output_size` and :attr:`dropout`.

    Attributes
    ----------
    output_size : int
        Length of the summary of one window, what the head reads.
    dropout : float
        Dropout probability; the estimators may change it on a fitted network
        (Monte Carlo dropout), so :meth:`forward` reads it on every call.
    cell : str
        The name the encoder is registered under, set when it is built.
    """

    output_size: int
    dropout: float = 0.0
    cell: str = ""

    def forward(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
    ) -> torch.Tensor:
        """Summarise windows ``x`` of shape ``(batch, window, input_size)`` as
        ``(batch, output_size)``.

        ``generator`` draws the dropout masks; ``dropout`` forces them on or off
        (by default they follow ``self.training``).
        """
        raise NotImplementedError

    @torch.no_grad()
    def initialize(self, generator: torch.Generator) -> None:
        """Draw the initial weights from ``generator``, as PyTorch's defaults do.

        Recurrent layers get ``±1/sqrt(hidden_size)``, linear layers
        ``±1/sqrt(in_features)``, each in the order the modules were created.
        An encoder with other parameters overrides this method.
        """
        covered = set()
        for module in self.modules():
            if isinstance(module, nn.RNNBase):
                bound = 1.0 / math.sqrt(module.hidden_size)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
            else:
                continue
            for param in module.parameters(recurse=False):
                param.uniform_(-bound, bound, generator=generator)
                covered.add(id(param))
        missed = [n for n, p in self.named_parameters() if id(p) not in covered]
        if missed:
            raise TypeError(
                f"{type(self).__name__}.initialize does not know how to draw "
                f"{missed}; override initialize(generator) to draw them."
            )


class StackedRNN(Encoder):
    """A stack of single-layer recurrent modules, one size per layer.

    The summary is the final hidden state of the top layer, both directions
    concatenated when bidirectional.

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

    #: train through windows longer than this many steps chunk by chunk (set
    #: during training by :func:`~gatedforecast.chunked_bptt.bptt_chunks`)
    bptt_chunk: int | None = None

    def __init__(
        self,
        input_size: int,
        hidden_sizes: tuple[int, ...],
        cell: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        module = RNN_LAYERS[cell]
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

    def _states(
        self,
        x: torch.Tensor,
        active: bool,
        generator: torch.Generator | None,
        outputs: bool = True,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The top layer's outputs at every step, ``(batch, window, output_size)``
        (None unless ``outputs``), and its final hidden state, ``(batch,
        output_size)``.

        While training with :attr:`bptt_chunk` set, windows longer than it are
        read chunk by chunk (:func:`~gatedforecast.chunked_bptt.chunked_states`).
        """
        chunk = self.bptt_chunk
        if (
            chunk is not None
            and x.shape[1] > chunk
            and torch.is_grad_enabled()
            and not self.layers[0].bidirectional
        ):
            out, states = chunked_states(
                self.layers,
                x,
                chunk,
                partial(_dropout, p=self.dropout, active=active, generator=generator),
                generator if active and self.dropout else None,
                outputs,
            )
            state = states[-1]
        else:
            out = x
            last = len(self.layers) - 1
            for i, layer in enumerate(self.layers):
                out, state = layer(out)
                if i < last:
                    out = _dropout(out, self.dropout, active, generator)
        h_n = state[0] if isinstance(state, tuple) else state
        return out, torch.cat(tuple(h_n), dim=-1)

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
        _, summary = self._states(x, active, generator, outputs=False)
        return _dropout(summary, self.dropout, active, generator)


class AttentionRNN(StackedRNN):
    """A :class:`StackedRNN` whose last state attends over all its states.

    The top layer's final hidden state ``h`` queries the top layer's outputs
    ``s_1 .. s_T`` of the window (Luong's "general" score): weights
    ``a = softmax(s_t . W_q h / sqrt(d))``, context ``c = sum_t a_t s_t``, and the
    summary ``tanh(W_c [c; h] + b)`` has the size of ``h``, so the head is the
    plain cell's. The parameters are the plain cell's plus ``W_q`` (``d x d``)
    and ``W_c``, ``b`` (``d x 2d``, ``d``), where ``d`` is the summary's size.

    Parameters
    ----------
    input_size, hidden_sizes, cell, dropout, bidirectional
        See :class:`StackedRNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: tuple[int, ...],
        cell: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_sizes, cell, dropout, bidirectional)
        size = self.output_size
        self.query = nn.Linear(size, size, bias=False)
        self.combine = nn.Linear(2 * size, size)

    def attention(
        self, states: torch.Tensor, last: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The summary and the attention weights ``(batch, window)`` for the top
        layer's ``states`` and final hidden state ``last``."""
        query = self.query(last).unsqueeze(-1)
        scores = torch.bmm(states, query).squeeze(-1) / math.sqrt(self.output_size)
        weights = torch.softmax(scores, dim=1)
        context = torch.bmm(weights.unsqueeze(1), states).squeeze(1)
        summary = torch.tanh(self.combine(torch.cat([context, last], dim=-1)))
        return summary, weights

    def forward(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
    ) -> torch.Tensor:
        """Summarise ``x`` of shape ``(batch, time, features)`` as ``(batch,
        output_size)``; dropout as in :class:`StackedRNN`."""
        active = self.training if dropout is None else dropout
        states, last = self._states(x, active, generator)
        summary, _ = self.attention(states, last)
        return _dropout(summary, self.dropout, active, generator)


register_encoder("gru", partial(StackedRNN, cell="gru"))
register_encoder("lstm", partial(StackedRNN, cell="lstm"))
register_encoder("gru+attention", partial(AttentionRNN, cell="gru"))
register_encoder("lstm+attention", partial(AttentionRNN, cell="lstm"))


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
