"""Encoders behind a small interface: what summarises each input window.

An *encoder* summarises each input window, ``(batch, window, n_inputs)``, as one
vector per window, ``(batch, output_size)``, which
:class:`~gatedforecast.networks.ForecastNetwork` reads with its head. Encoders
are registered by name in :data:`ENCODERS`: the stacked GRU and LSTM (``"gru"``,
``"lstm"``) and the same cells with attention over their states
(``"gru+attention"``, ``"lstm+attention"``). A new encoder is one class and one
line (:func:`register_encoder`); :mod:`gatedforecast.networks` exports these
names too.

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

from .batched_rnn import recurrent_layer
from .chunked_bptt import chunked_states
from .network_members import masked_dropout as _dropout

__all__ = [
    "ENCODERS",
    "CELLS",
    "RNN_LAYERS",
    "Encoder",
    "register_encoder",
    "build_encoder",
    "StackedRNN",
    "AttentionRNN",
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


def _trains_fast_gru(layer: nn.Module, x: torch.Tensor) -> bool:
    """Whether a stack of ``layer``'s kind reads ``x`` through the GRU layer of
    :func:`~gatedforecast.batched_rnn.recurrent_layer`: while training on a CPU,
    where PyTorch's ``nn.GRU`` has no fused kernel and its training step takes
    more than twice the LSTM's. Elsewhere (CUDA's cuDNN, predictions, traces
    for export, chunks of ``bptt_chunk``) the ``nn.GRU`` modules run
    themselves."""
    return (
        isinstance(layer, nn.GRU)
        and x.device.type == "cpu"
        and torch.is_grad_enabled()
        and not torch.jit.is_tracing()
        and not torch.jit.is_scripting()
    )


def _gru_layer(layer: nn.GRU, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer(x)`` (outputs and final state of a one-layer ``nn.GRU``, either
    direction) computed by :func:`~gatedforecast.batched_rnn.recurrent_layer`
    with the layer's own parameters: the same mathematics and gradients, and
    the outputs in the same memory order (so dropout draws the same masks)."""
    outputs, finals = [], []
    for suffix in ("", "_reverse") if layer.bidirectional else ("",):
        out, final = recurrent_layer(
            "gru",
            x.unsqueeze(0),
            getattr(layer, f"weight_ih_l0{suffix}").T.unsqueeze(0),
            getattr(layer, f"bias_ih_l0{suffix}").unsqueeze(0),
            getattr(layer, f"weight_hh_l0{suffix}").T.unsqueeze(0),
            getattr(layer, f"bias_hh_l0{suffix}").unsqueeze(0),
            reverse=bool(suffix),
            return_last=True,
            memory="time",
        )
        outputs.append(out[0])
        finals.append(final[0])
    if len(outputs) == 1:
        return outputs[0], torch.stack(finals)
    # both directions side by side, time-major in memory as nn.GRU's
    both = torch.cat([out.transpose(0, 1) for out in outputs], dim=-1)
    return both.transpose(0, 1), torch.stack(finals)


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
            # chunks run the nn.GRU modules: the GRU layer's buffers, two chunks'
            # worth alive at once in the recomputation, would make the memory
            # per window 1.26 times a whole 52-step window's at 2,016 steps
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
            fast = _trains_fast_gru(self.layers[0], x)
            for i, layer in enumerate(self.layers):
                out, state = _gru_layer(layer, out) if fast else layer(out)
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
