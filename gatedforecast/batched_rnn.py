"""Recurrent layers for an ensemble of independent networks run as one batched model.

:func:`recurrent_layer` runs ``k`` independent GRU or LSTM layers (one per
ensemble member, each with its own weights) over ``k`` batches of windows at
once. Each cell is a :class:`torch.autograd.Function` with a hand-written
backward through time, which on a CPU is several times faster than letting
autograd record the loop:

* forward: each step is one matmul of ``[x_t, 1, h_prev]`` (a slot of one
  buffer, into which the previous step wrote its state) with the fused weights
  ``[W_ih; b; W_hh]``, and a few in-place elementwise ops; the activated gates
  are kept, laid out time-major so that every step writes contiguous rows;
* backward: per step the gradient of the previous state from one matmul; after
  the loop one matmul over all steps stacked gives the gradients of W_ih, the
  biases and W_hh at once (the slots already hold every step's operand), and one
  more that of x.

The GRU goes further, since it also trains single networks on a CPU (a
:class:`~gatedforecast.networks.StackedRNN` of GRU layers runs through it while
training there, where ``nn.GRU`` has no fused kernel):

* the input part of the candidate state, ``W_in x + b_in``, is one matmul for
  all steps before the loop, so a step's matmul has 3H columns (r, z and
  ``W_hn h + b_hn``);
* the derivatives of the gates are written as factors of each step's state
  gradient, computed for all steps at once; a backward step is then three
  operations (the factors times the state gradient, its part through ``z``, and
  the matmul through ``W_hh``);
* the working buffers and every per-step view of them are kept between
  training calls of the same shape (released when training ends), since at the
  sizes the forecasters train, making them costs as much as the arithmetic; a
  call without gradients builds only the forward pass's buffers, and frees them;
* the last state is returned on its own, so a loss that reads only it makes the
  backward pass build no gradient of the other steps.

The maths is PyTorch's :class:`torch.nn.GRU` / :class:`torch.nn.LSTM` (same
gate order, zero initial state); the weights are the transposes of their
``weight_ih_l0`` / ``weight_hh_l0``.
"""

from __future__ import annotations

import torch

from ._rnn_slots import Slots as _Slots
from ._rnn_slots import step_order as _order
from .batched_gru import GRULayer as _GRU
from .batched_gru import release_workspaces

__all__ = ["recurrent_layer", "release_workspaces"]

_GATES = {"gru": 3, "lstm": 4}
# the LSTM's gates are kept internally in the order (o, f, i, g) of PyTorch's
# (i, f, g, o): the three sigmoid gates are then one slice, and in the
# backward the gradients that multiply dc are contiguous
_LSTM_ORDER = (3, 1, 0, 2)
_LSTM_INVERSE = (2, 1, 3, 0)


def _reorder(w: torch.Tensor, order: tuple[int, ...], hidden: int) -> torch.Tensor:
    """``w`` with its last dimension's blocks of ``hidden`` columns in ``order``."""
    blocks = w.split(hidden, -1)
    return torch.cat([blocks[i] for i in order], -1)


def _input_grads(ctx, slots, w_x, dgates, dx_columns):
    """After the loop: one matmul over all steps for the gradient of the fused
    weights (x rows, bias row, h rows), one for x when it needs a gradient."""
    k, steps, batch, width = slots.inputs.shape
    rows = steps * batch
    dgates = dgates.reshape(k, rows, -1)
    dw = torch.bmm(slots.inputs.reshape(k, rows, width).transpose(1, 2), dgates)
    dx = None
    if ctx.needs_input_grad[0]:
        dx = torch.bmm(dgates[..., dx_columns], w_x.transpose(1, 2))
        dx = dx.view(k, steps, batch, -1).transpose(1, 2)
    return dx, dw


class _LSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, reverse):
        k, batch, steps, width = x.shape
        hidden = w_hh.shape[1]
        h2, h3 = 2 * hidden, 3 * hidden
        # fused weights (k, I+1+H, 4H), gates in the order (o, f, i, g)
        w = torch.cat([w_ih, (b_ih + b_hh).unsqueeze(1), w_hh], 1)
        w = _reorder(w, _LSTM_ORDER, hidden)
        slots = _Slots(x, hidden, reverse)
        gates = x.new_empty(steps, k, batch, 4 * hidden)
        cell = x.new_empty(steps, k, batch, hidden)
        tanh_c = x.new_empty(steps, k, batch, hidden)
        inputs, prev, states = slots.step_views()
        g_steps, c_steps, tc_steps = gates.unbind(0), cell.unbind(0), tanh_c.unbind(0)
        c = x.new_zeros(k, batch, hidden)
        for t in _order(steps, reverse):
            g = torch.bmm(inputs[t], w, out=g_steps[t])
            g[..., :h3].sigmoid_()
            g[..., h3:].tanh_()
            c = torch.mul(g[..., hidden:h2], c, out=c_steps[t])
            c.addcmul_(g[..., h2:h3], g[..., h3:])
            tc = torch.tanh(c, out=tc_steps[t])
            torch.mul(g[..., :hidden], tc, out=states[t])
        ctx.save_for_backward(slots.states)
        ctx.slots, ctx.gates, ctx.w = slots, gates, w
        ctx.cell, ctx.tanh_c = cell, tanh_c
        return slots.states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        slots, gates, w = ctx.slots, ctx.gates, ctx.w
        cell, tanh_c = ctx.cell, ctx.tanh_c
        width = slots.width
        k, steps, batch, hidden = slots.states.shape
        h2, h3 = 2 * hidden, 3 * hidden
        # per step (k, B, 4H): dpre_o, dpre_f, dpre_i, dpre_g
        dgates = grad_out.new_empty(k, steps, batch, 4 * hidden)
        w_h = w[:, width + 1 :].transpose(1, 2).contiguous()
        ones = grad_out.new_ones(k, batch, hidden)
        zeros = grad_out.new_zeros(k, batch, hidden)
        s_s = gates[..., :h3].unbind(0)
        o_s = gates[..., :hidden].unbind(0)
        f_s = gates[..., hidden:h2].unbind(0)
        i_s = gates[..., h2:h3].unbind(0)
        g_s = gates[..., h3:].unbind(0)
        c_s, tc_s = cell.unbind(0), tanh_c.unbind(0)
        d_s = dgates.unbind(1)
        do_s = dgates[..., :hidden].unbind(1)
        df_s = dgates[..., hidden:h2].unbind(1)
        di_s = dgates[..., h2:h3].unbind(1)
        dg_s = dgates[..., h3:].unbind(1)
        dout_s = grad_out.unbind(1)
        order = _order(steps, slots.reverse, backward=True)
        dh = dout_s[order[0]]
        carry = None
        for n, t in enumerate(order):
            tc, gg = tc_s[t], g_s[t]
            prev_c = c_s[order[n + 1]] if n + 1 < steps else zeros
            slope = torch.rsub(s_s[t], 1.0).mul_(s_s[t])
            # dpre_o = dh tanh(c) o (1 - o)
            torch.mul(torch.mul(dh, tc), slope[..., :hidden], out=do_s[t])
            # dc = carry + dh o (1 - tanh(c)^2)
            dc = torch.mul(dh, o_s[t]).mul_(torch.addcmul(ones, tc, tc, value=-1.0))
            if carry is not None:
                dc.add_(carry)
            torch.mul(dc, prev_c, out=df_s[t]).mul_(slope[..., hidden:h2])
            torch.mul(dc, gg, out=di_s[t]).mul_(slope[..., h2:])
            torch.mul(dc, i_s[t], out=dg_s[t]).mul_(
                torch.addcmul(ones, gg, gg, value=-1.0)
            )
            carry = dc.mul_(f_s[t])
            if n + 1 < steps:
                dh = torch.baddbmm(dout_s[order[n + 1]], d_s[t], w_h)
        dx, dw = _input_grads(ctx, slots, w[:, :width], dgates, slice(None))
        dw = _reorder(dw, _LSTM_INVERSE, hidden)
        db = dw[:, width]
        return dx, dw[:, :width], db, dw[:, width + 1 :], db, None


def _check(cell, x, w_ih, b_ih, w_hh, b_hh):
    if cell not in _GATES:
        raise ValueError(
            f"cell must be 'gru' or 'lstm', got {cell!r}; pass one of those names."
        )
    if x.dim() != 4:
        raise ValueError(
            "x must have shape (k, batch, time, inputs), got "
            f"{tuple(x.shape)}; add the member dimension, e.g. x.expand(k, -1, -1, -1)."
        )
    k, batch, steps, width = x.shape
    if min(k, batch, steps, width) < 1:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; every dimension (members, batch, "
            "time steps, inputs) needs at least one entry."
        )
    if w_hh.dim() != 3:
        raise ValueError(f"w_hh must have shape (k, H, G*H), got {tuple(w_hh.shape)}.")
    hidden = w_hh.shape[1]
    columns = _GATES[cell] * hidden
    expected = {
        "w_ih": (w_ih, (k, width, columns)),
        "b_ih": (b_ih, (k, columns)),
        "w_hh": (w_hh, (k, hidden, columns)),
        "b_hh": (b_hh, (k, columns)),
    }
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} for a {cell} layer of {k} members "
                f"with {width} inputs and hidden size {hidden}, got "
                f"{tuple(tensor.shape)}; the weights are the transposes of "
                "torch's weight_ih_l0 / weight_hh_l0, stacked over the members."
            )
        if tensor.dtype != x.dtype or tensor.device != x.device:
            raise ValueError(
                f"{name} is {tensor.dtype} on {tensor.device} but x is {x.dtype} on "
                f"{x.device}; pass all tensors with the same dtype and device."
            )


def recurrent_layer(
    cell: str,
    x: torch.Tensor,
    w_ih: torch.Tensor,
    b_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_hh: torch.Tensor,
    reverse: bool = False,
    return_last: bool = False,
    memory: str = "batch",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run one GRU or LSTM layer for each of ``k`` ensemble members at once.

    Member ``j`` computes exactly what a :class:`torch.nn.GRU` (or
    :class:`torch.nn.LSTM`) with ``batch_first=True``, zero initial state and
    ``weight_ih_l0 = w_ih[j].T``, ``bias_ih_l0 = b_ih[j]``, ``weight_hh_l0 =
    w_hh[j].T``, ``bias_hh_l0 = b_hh[j]`` computes on ``x[j]``. The result is
    differentiable with respect to ``x`` and all weights, from any of the
    returned states (a hand-written backward through time, not double
    differentiable).

    Parameters
    ----------
    cell : {"gru", "lstm"}
        The recurrent cell. ``G`` below is its number of gates: 3 for the GRU
        (r, z, n), 4 for the LSTM (i, f, g, o), in PyTorch's order.
    x : torch.Tensor of shape (k, B, T, I)
        The input windows of each member. An input shared by all members may
        be passed as an expanded view, ``x1.expand(k, B, T, I)``; its gradient
        then flows back to ``x1`` summed over the members.
    w_ih : torch.Tensor of shape (k, I, G*H)
        Input weights, the transposes of ``weight_ih_l0``.
    b_ih : torch.Tensor of shape (k, G*H)
        Input biases.
    w_hh : torch.Tensor of shape (k, H, G*H)
        Hidden weights, the transposes of ``weight_hh_l0``.
    b_hh : torch.Tensor of shape (k, G*H)
        Hidden biases.
    reverse : bool, default False
        Read the sequence backwards: the state at position ``t`` is the one
        after reading ``x[:, :, t:]`` from the end, as in the second direction
        of a bidirectional :class:`torch.nn.GRU`.
    return_last : bool, default False
        Also return the state after the last step read (``out[:, :, -1]``, or
        ``out[:, :, 0]`` in reverse). A loss that reads only that state then
        costs the GRU's backward pass no gradient of the other steps.
    memory : {"batch", "time"}, default "batch"
        The GRU's order of ``out`` in memory: (k, B, T, H), or (k, T, B, H) as
        ``nn.GRU(batch_first=True)`` lays out its outputs. Dropout masks drawn
        with ``torch.empty_like(out)`` follow it, so a stack that replaces
        ``nn.GRU`` keeps its masks with ``"time"``.

    Returns
    -------
    out : torch.Tensor of shape (k, B, T, H)
        The hidden state after every step (for the LSTM, ``h``). The GRU's is
        a new tensor; the LSTM's is a view into its working buffer (not
        contiguous; changing it in place is refused: clone it first).
    last : torch.Tensor of shape (k, B, H)
        Only with ``return_last``: the state after the last step read.

    Raises
    ------
    ValueError
        If ``cell`` is not ``"gru"`` or ``"lstm"``, or the shapes, dtypes or
        devices of the tensors do not fit together.

    Examples
    --------
    >>> import torch
    >>> from gatedforecast.batched_rnn import recurrent_layer
    >>> k, B, T, I, H = 3, 2, 5, 1, 4
    >>> x = torch.randn(B, T, I).expand(k, B, T, I)
    >>> w_ih, w_hh = torch.randn(k, I, 3 * H), torch.randn(k, H, 3 * H)
    >>> b_ih, b_hh = torch.zeros(k, 3 * H), torch.zeros(k, 3 * H)
    >>> out = recurrent_layer("gru", x, w_ih, b_ih, w_hh, b_hh)
    >>> out.shape
    torch.Size([3, 2, 5, 4])
    >>> gru = torch.nn.GRU(I, H, batch_first=True)
    >>> with torch.no_grad():
    ...     _ = gru.weight_ih_l0.copy_(w_ih[1].T), gru.weight_hh_l0.copy_(w_hh[1].T)
    ...     _ = gru.bias_ih_l0.zero_(), gru.bias_hh_l0.zero_()
    >>> torch.allclose(gru(x[1])[0], out[1], atol=1e-6)
    True
    """
    _check(cell, x, w_ih, b_ih, w_hh, b_hh)
    if memory not in ("batch", "time"):
        raise ValueError(f"memory must be 'batch' or 'time', got {memory!r}.")
    last_step = 0 if reverse else -1
    if torch.jit.is_tracing():
        # a trace (ONNX export) records operations, not the writes into the
        # working buffer that the fast path makes
        out = _traced_layer(cell, x, w_ih, b_ih, w_hh, b_hh, bool(reverse))
        return (out, out[:, :, last_step]) if return_last else out
    if cell == "gru":
        # buffers are kept between calls only for training steps, which repeat
        # one shape; a forward pass without gradients frees its own
        pooled = torch.is_grad_enabled() and any(
            t.requires_grad for t in (x, w_ih, b_ih, w_hh, b_hh)
        )
        out, last = _GRU.apply(
            x, w_ih, b_ih, w_hh, b_hh, bool(reverse), memory == "time", pooled
        )
        return (out, last) if return_last else out
    out = _LSTM.apply(x, w_ih, b_ih, w_hh, b_hh, bool(reverse)).transpose(1, 2)
    return (out, out[:, :, last_step]) if return_last else out


def _traced_layer(cell, x, w_ih, b_ih, w_hh, b_hh, reverse: bool) -> torch.Tensor:
    """:func:`recurrent_layer` in plain operations, step by step: what a trace
    records (the same mathematics, without the working buffer)."""
    if reverse:
        x = x.flip(2)
    k, batch, _, _ = x.shape
    hidden = w_hh.shape[1]
    inputs = torch.matmul(x, w_ih.unsqueeze(1)) + b_ih[:, None, None, :]
    h = x.new_zeros(k, batch, hidden)
    c = h
    states = []
    for step in inputs.unbind(2):
        if cell == "gru":
            recurrent = torch.baddbmm(b_hh.unsqueeze(1), h, w_hh)
            x_rz, x_n = step.split((2 * hidden, hidden), -1)
            h_rz, h_n = recurrent.split((2 * hidden, hidden), -1)
            r, z = torch.sigmoid(x_rz + h_rz).chunk(2, -1)
            n = torch.tanh(x_n + r * h_n)
            h = n + z * (h - n)
        else:
            gates = torch.baddbmm(step + b_hh.unsqueeze(1), h, w_hh)
            i, f, g, o = gates.chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        states.append(h)
    out = torch.stack(states, 2)
    return out.flip(2) if reverse else out
