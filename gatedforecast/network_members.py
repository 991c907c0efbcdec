"""Several networks of one architecture computed as one batched model.

An ensemble of ``k`` networks keeps each weight of the single network as one
tensor with a leading axis of length ``k`` (member ``i``'s weight is
``weight[i]``). Every layer then runs all members at once: the recurrent layers
through :func:`gatedforecast.batched_rnn.recurrent_layer` (one batched matrix
product per time step for all members), attention and the head through batched
matrix products. The members share the input batch and differ by their initial
weights (and dropout masks); nothing couples them during training, since the
loss is a sum of the members' losses, gradients are clipped member by member and
the optimizers the package uses act element by element.

:class:`MemberEncoder` and :class:`MemberHead` are the batched counterparts of
the built-in encoders (:class:`~gatedforecast.networks.StackedRNN`,
:class:`~gatedforecast.networks.AttentionRNN`) and of the linear head;
:func:`copy_member` writes one single network's weights into a member's slot,
so an ensemble's members start from exactly the weights that single networks
drawn one after another from the same generator would have.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .batched_rnn import recurrent_layer

__all__ = [
    "MEMBER_CELLS",
    "MemberEncoder",
    "MemberHead",
    "clip_member_gradients",
    "copy_member",
    "masked_dropout",
    "member_median",
]

#: the encoders an ensemble can batch: name -> (recurrent cell, attention)
MEMBER_CELLS = {
    "gru": ("gru", False),
    "lstm": ("lstm", False),
    "gru+attention": ("gru", True),
    "lstm+attention": ("lstm", True),
}
_GATES = {"gru": 3, "lstm": 4}


def member_median(outputs: torch.Tensor) -> torch.Tensor:
    """The median over the members' outputs (axis 0); with an even number of
    members, the mean of the two middle values."""
    k = outputs.shape[0]
    # a sort, not torch.median: ONNX has no median operator
    ordered = outputs.sort(dim=0).values
    if k % 2:
        return ordered[k // 2]
    return 0.5 * (ordered[k // 2 - 1] + ordered[k // 2])


def masked_dropout(
    x: torch.Tensor, p: float, active: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Inverted dropout whose mask comes from ``generator`` (every encoder's)."""
    if not active or p == 0.0:
        return x
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    return x * keep / (1.0 - p)


def _stacked(k: int, *shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(k, *shape))


class MemberEncoder(nn.Module):
    """``k`` stacked recurrent encoders (with attention, optionally) as one model.

    Summarises windows ``(batch, window, input_size)`` as ``(k, batch,
    output_size)``, member ``i`` computing exactly what a
    :class:`~gatedforecast.networks.StackedRNN` (or ``AttentionRNN``) with
    member ``i``'s weights computes.

    Parameters
    ----------
    input_size : int
    hidden_sizes : tuple of int
    cell : {"gru", "lstm", "gru+attention", "lstm+attention"}
    dropout : float
    bidirectional : bool
    n_members : int
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: tuple[int, ...],
        cell: str,
        dropout: float,
        bidirectional: bool,
        n_members: int,
    ) -> None:
        super().__init__()
        if cell not in MEMBER_CELLS:
            raise ValueError(
                f"An ensemble batches the built-in encoders "
                f"{', '.join(map(repr, MEMBER_CELLS))}, not {cell!r}; use "
                "ensemble_size=1 with a registered encoder of your own."
            )
        self.rnn_cell, self.attention = MEMBER_CELLS[cell]
        self.cell = cell
        self.input_size = input_size
        self.hidden_sizes = tuple(hidden_sizes)
        self.bidirectional = bool(bidirectional)
        self.dropout = float(dropout)
        self.n_members = n_members
        gates = _GATES[self.rnn_cell]
        directions = ("", "_reverse") if bidirectional else ("",)
        self.weights = nn.ParameterDict()
        size_in = input_size
        for i, size in enumerate(self.hidden_sizes):
            for suffix in directions:
                self.weights[f"ih{i}{suffix}"] = _stacked(
                    n_members, size_in, gates * size
                )
                self.weights[f"bih{i}{suffix}"] = _stacked(n_members, gates * size)
                self.weights[f"hh{i}{suffix}"] = _stacked(n_members, size, gates * size)
                self.weights[f"bhh{i}{suffix}"] = _stacked(n_members, gates * size)
            size_in = size * len(directions)
        self.output_size = size_in
        if self.attention:
            self.query = _stacked(n_members, size_in, size_in)
            self.combine = _stacked(n_members, 2 * size_in, size_in)
            self.combine_bias = _stacked(n_members, size_in)

    def _layer(
        self, x: torch.Tensor, i: int, suffix: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer ``i`` (one direction) over ``x``: every state and the last one read."""
        w = self.weights
        return recurrent_layer(
            self.rnn_cell,
            x,
            w[f"ih{i}{suffix}"],
            w[f"bih{i}{suffix}"],
            w[f"hh{i}{suffix}"],
            w[f"bhh{i}{suffix}"],
            reverse=bool(suffix),
            return_last=True,
        )

    def forward(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
    ) -> torch.Tensor:
        """Summarise ``x`` of shape ``(batch, time, features)`` as ``(k, batch,
        output_size)``; ``dropout`` forces masks on or off (by default they
        follow ``self.training``)."""
        active = self.training if dropout is None else dropout
        out = x.unsqueeze(0).expand(self.n_members, *x.shape)
        last = len(self.hidden_sizes) - 1
        for i in range(len(self.hidden_sizes)):
            out_f, final = self._layer(out, i, "")
            if self.bidirectional:
                out_b, final_b = self._layer(out, i, "_reverse")
                out = torch.cat([out_f, out_b], dim=-1)
                final = torch.cat([final, final_b], dim=-1)
            else:
                out = out_f
            if i < last:
                out = masked_dropout(out, self.dropout, active, generator)
        summary = self._attend(out, final) if self.attention else final
        return masked_dropout(summary, self.dropout, active, generator)

    def _attend(self, states: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Attention of :class:`~gatedforecast.networks.AttentionRNN`, per member:
        ``states`` ``(k, batch, window, d)``, ``last`` ``(k, batch, d)``."""
        query = torch.bmm(last, self.query).unsqueeze(-1)
        scores = torch.matmul(states, query).squeeze(-1) / math.sqrt(self.output_size)
        weights = torch.softmax(scores, dim=-1)
        context = torch.matmul(weights.unsqueeze(-2), states).squeeze(-2)
        joined = torch.cat([context, last], dim=-1)
        return torch.tanh(
            torch.baddbmm(self.combine_bias.unsqueeze(1), joined, self.combine)
        )

    @torch.no_grad()
    def load_member(self, member: int, encoder: nn.Module) -> None:
        """Write the weights of the single encoder ``encoder`` into slot ``member``."""
        w = self.weights
        directions = ("", "_reverse") if self.bidirectional else ("",)
        for i, layer in enumerate(encoder.layers):
            for suffix in directions:
                tail = suffix
                w[f"ih{i}{suffix}"][member] = getattr(layer, f"weight_ih_l0{tail}").T
                w[f"bih{i}{suffix}"][member] = getattr(layer, f"bias_ih_l0{tail}")
                w[f"hh{i}{suffix}"][member] = getattr(layer, f"weight_hh_l0{tail}").T
                w[f"bhh{i}{suffix}"][member] = getattr(layer, f"bias_hh_l0{tail}")
        if self.attention:
            self.query[member] = encoder.query.weight.T
            self.combine[member] = encoder.combine.weight.T
            self.combine_bias[member] = encoder.combine.bias


class MemberHead(nn.Module):
    """``k`` linear heads: ``(k, batch, in_features)`` to ``(k, batch,
    out_features)``."""

    def __init__(self, in_features: int, out_features: int, n_members: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _stacked(n_members, in_features, out_features)
        self.bias = _stacked(n_members, out_features)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), summary, self.weight)

    @torch.no_grad()
    def load_member(self, member: int, head: nn.Linear) -> None:
        """Write the weights of the single head ``head`` into slot ``member``."""
        self.weight[member] = head.weight.T
        self.bias[member] = head.bias


def copy_member(ensemble, member: int, single) -> None:
    """Write the weights of the single network ``single`` into slot ``member``
    of the ensemble network ``ensemble`` (both
    :class:`~gatedforecast.networks.ForecastNetwork`)."""
    ensemble.encoder.load_member(member, single.encoder)
    ensemble.head.load_member(member, single.head)
    if ensemble.static is not None:
        ensemble.static.load_member(member, single.static)


def clip_member_gradients(parameters, max_norm: float, n_members: int) -> None:
    """Clip the gradients of each member to total norm ``max_norm``, as
    :func:`torch.nn.utils.clip_grad_norm_` clips one network's."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    squares = torch.stack([g.reshape(n_members, -1).pow(2).sum(1) for g in grads])
    norms = squares.sum(0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
