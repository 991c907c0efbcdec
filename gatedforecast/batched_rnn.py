"""Recurrent layers for an ensemble of independent networks run as one batched model.

:func:`recurrent_layer` runs ``k`` independent GRU or LSTM layers (one per
ensemble member, each with its own weights) over ``k`` batches of windows at
once. Each cell is a :class:`torch.autograd.Function` with a hand-written
backward through time, which on a CPU is several times faster than letting
autograd record the loop:

* forward: the input projections of all time steps are one batched matmul;
  each step is one in-place ``baddbmm`` for the hidden projection and a few
  in-place elementwise ops, writing the gate activations into buffers laid out
  ``(k, T, B, .)`` (member, time, batch) so that every step reads and writes
  contiguous rows and the whole sequence is one matrix per member afterwards;
* backward: the gate derivatives that do not depend on the incoming gradient
  are computed for all steps at once before the loop; each step is then two or
  three elementwise ops and one ``baddbmm`` for the gradient of the previous
  hidden state; the weight, bias and input gradients are computed once after
  the loop as batched matmuls over all steps stacked.

The maths is PyTorch's :class:`torch.nn.GRU` / :class:`torch.nn.LSTM` (same
gate order, zero initial state); the weights are the transposes of their
``weight_ih_l0`` / ``weight_hh_l0``.
"""

from __future__ import annotations

import torch

__all__ = ["recurrent_layer"]

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


def _flat_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` (k, B, T, I) as (k, T*B, I), time-major within each member; an input
    shared by all members (an expanded view) stays one copy, expanded."""
    k, batch, steps, width = x.shape
    if k > 1 and x.stride(0) == 0:
        one = x[0].transpose(0, 1).reshape(1, steps * batch, width)
        return one.expand(k, steps * batch, width)
    return x.transpose(1, 2).reshape(k, steps * batch, width)


def _input_grads(ctx, flat, w_ih, dgates, shape):
    """Gradients of x and W_ih from the gate gradients of all steps, (k, T*B, G*H)."""
    k, batch, steps, width = shape
    dx = dw_ih = None
    if ctx.needs_input_grad[0]:
        dx = torch.bmm(dgates, w_ih.transpose(1, 2))
        dx = dx.view(k, steps, batch, width).transpose(1, 2)
    if ctx.needs_input_grad[1]:
        dw_ih = torch.bmm(flat.transpose(1, 2), dgates)
    return dx, dw_ih


def _shifted(out: torch.Tensor, per_step: torch.Tensor, reverse: bool):
    """The previous hidden states, (k, (T-1)*B, H), beside the per-step gradients
    of the steps that read them, (k, (T-1)*B, .); the first step read zeros."""
    k, steps, batch = out.shape[:3]
    if reverse:
        prev, grads = out[:, 1:], per_step[:, :-1]
    else:
        prev, grads = out[:, :-1], per_step[:, 1:]
    rows = (steps - 1) * batch
    return prev.reshape(k, rows, -1), grads.reshape(k, rows, -1)


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, reverse):
        k, batch, steps, _ = x.shape
        hidden = w_hh.shape[1]
        h2 = 2 * hidden
        # r and z read only the sum of their two projections: fold b_hh into it
        bias = b_ih.clone()
        bias[:, :h2] += b_hh[:, :h2]
        flat = _flat_input(x)
        gates = torch.baddbmm(bias.unsqueeze(1), flat, w_ih)
        gates = gates.view(k, steps, batch, 3 * hidden)
        # n starts as W_in x + b_in; the gate buffer's n columns start as b_hn so
        # that the step's baddbmm leaves (pre_r, pre_z, W_hn h + b_hn) there
        n = gates[..., h2:].clone()
        gates[..., h2:] = b_hh[:, None, None, h2:]
        out = x.new_empty(k, steps, batch, hidden)
        h = x.new_zeros(k, batch, hidden)
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        for t in order:
            g = gates[:, t]
            g.baddbmm_(h, w_hh)
            rz = g[..., :h2].sigmoid_()
            nt = n[:, t]
            nt.addcmul_(rz[..., :hidden], g[..., h2:]).tanh_()
            h = torch.lerp(nt, h, rz[..., hidden:], out=out[:, t])
        ctx.save_for_backward(flat, w_ih, w_hh, out)
        ctx.gates, ctx.n, ctx.reverse = gates, n, reverse
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        flat, w_ih, w_hh, out = ctx.saved_tensors
        gates, n, reverse = ctx.gates, ctx.n, ctx.reverse
        del ctx.gates, ctx.n
        k, steps, batch, hidden = out.shape
        h2 = 2 * hidden
        r, z, ghn = gates[..., :hidden], gates[..., hidden:h2], gates[..., h2:]
        # per-step factors that multiply the incoming gradient dh:
        #   dpre_z = dh * (h_prev - n) * z (1 - z)      dpre_n = dh * (1 - z)(1 - n^2)
        #   dpre_r = dpre_n * ghn * r (1 - r)           dghn   = dpre_n * r
        dh_factors = out.new_empty(k, steps, batch, 2, hidden)
        diff = torch.neg(n)
        if reverse:
            diff[:, :-1] += out[:, 1:]
        else:
            diff[:, 1:] += out[:, :-1]
        one_minus_z = torch.rsub(z, 1.0)
        torch.mul(diff, z, out=dh_factors[..., 0, :])
        dh_factors[..., 0, :].mul_(one_minus_z)
        torch.addcmul(
            one_minus_z, one_minus_z, n.square(), value=-1.0, out=dh_factors[..., 1, :]
        )
        dn_factors = out.new_empty(k, steps, batch, 2, hidden)
        dn_factors[..., 0, :].copy_(r)
        torch.mul(ghn, r, out=dn_factors[..., 1, :])
        dn_factors[..., 1, :].mul_(torch.rsub(r, 1.0))
        # per step (k, B, 4, H): dghn, dpre_r, dpre_z, dpre_n; columns 0:3 are the
        # gradient of the hidden projection with W_hh's gates in the order
        # (n, r, z), columns 1:4 that of the input projection in the order (r, z, n)
        grads = out.new_empty(k, steps, batch, 4, hidden)
        w_t = torch.cat([w_hh[..., h2:], w_hh[..., :h2]], -1).transpose(1, 2)
        w_t = w_t.contiguous()
        order = list(range(steps)) if reverse else list(range(steps - 1, -1, -1))
        dh = grad_out[:, order[0]]
        for i, t in enumerate(order):
            gt = grads[:, t]
            torch.mul(dh.unsqueeze(2), dh_factors[:, t], out=gt[:, :, 2:4])
            torch.mul(gt[:, :, 3:4], dn_factors[:, t], out=gt[:, :, 0:2])
            if i + 1 < steps:
                dh = torch.addcmul(grad_out[:, order[i + 1]], dh, z[:, t])
                dh.baddbmm_(gt[:, :, 0:3].reshape(k, batch, 3 * hidden), w_t)
        sums = grads.sum((1, 2))
        db_ih = sums[:, 1:4].reshape(k, 3 * hidden)
        db_hh = sums[:, (1, 2, 0)].reshape(k, 3 * hidden)
        prev, dgh = _shifted(out, grads[..., 0:3, :], reverse)
        dw_hh = torch.bmm(prev.transpose(1, 2), dgh)
        dw_hh = torch.cat([dw_hh[..., hidden:], dw_hh[..., :hidden]], -1)
        dgi = grads[..., 1:4, :].reshape(k, steps * batch, 3 * hidden)
        dx, dw_ih = _input_grads(ctx, flat, w_ih, dgi, (k, batch, steps, -1))
        return dx, dw_ih, db_ih, dw_hh, db_hh, None


class _LSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, reverse):
        k, batch, steps, _ = x.shape
        hidden = w_hh.shape[1]
        h3 = 3 * hidden
        w_ih = _reorder(w_ih, _LSTM_ORDER, hidden)
        w_hh = _reorder(w_hh, _LSTM_ORDER, hidden)
        bias = _reorder(b_ih + b_hh, _LSTM_ORDER, hidden)
        flat = _flat_input(x)
        gates = torch.baddbmm(bias.unsqueeze(1), flat, w_ih)
        gates = gates.view(k, steps, batch, 4 * hidden)
        cell = x.new_empty(k, steps, batch, hidden)
        tanh_c = x.new_empty(k, steps, batch, hidden)
        out = x.new_empty(k, steps, batch, hidden)
        h = x.new_zeros(k, batch, hidden)
        c = x.new_zeros(k, batch, hidden)
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        for t in order:
            g = gates[:, t]
            g.baddbmm_(h, w_hh)
            g[..., :h3].sigmoid_()
            g[..., h3:].tanh_()
            c = torch.mul(g[..., hidden : 2 * hidden], c, out=cell[:, t])
            c.addcmul_(g[..., 2 * hidden : h3], g[..., h3:])
            torch.tanh(c, out=tanh_c[:, t])
            h = torch.mul(g[..., :hidden], tanh_c[:, t], out=out[:, t])
        ctx.save_for_backward(flat, w_ih, w_hh, out)
        ctx.gates, ctx.cell, ctx.tanh_c, ctx.reverse = gates, cell, tanh_c, reverse
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        flat, w_ih, w_hh, out = ctx.saved_tensors
        gates, cell, tanh_c, reverse = ctx.gates, ctx.cell, ctx.tanh_c, ctx.reverse
        del ctx.gates, ctx.cell, ctx.tanh_c
        k, steps, batch, hidden = out.shape
        o, f, i, g = gates.split(hidden, -1)
        # dpre_o = dh * tanh(c) o (1 - o);  dc = carry + dh * o (1 - tanh(c)^2)
        d_o = torch.rsub(o, 1.0).mul_(o).mul_(tanh_c)
        d_c = torch.addcmul(o, o, tanh_c.square(), value=-1.0)
        # per-step factors of dc: dpre_f, dpre_i, dpre_g and the carry dc * f
        dc_factors = out.new_empty(k, steps, batch, 4, hidden)
        prev_c = dc_factors[..., 0, :]
        prev_c[:, (-1 if reverse else 0)] = 0.0
        if reverse:
            prev_c[:, :-1] = cell[:, 1:]
        else:
            prev_c[:, 1:] = cell[:, :-1]
        prev_c.mul_(f).mul_(torch.rsub(f, 1.0))
        torch.mul(g, i, out=dc_factors[..., 1, :]).mul_(torch.rsub(i, 1.0))
        torch.addcmul(i, i, g.square(), value=-1.0, out=dc_factors[..., 2, :])
        dc_factors[..., 3, :].copy_(f)
        # per step (k, B, 5, H): dpre_o, dpre_f, dpre_i, dpre_g, carry
        grads = out.new_empty(k, steps, batch, 5, hidden)
        w_t = w_hh.transpose(1, 2).contiguous()
        order = list(range(steps)) if reverse else list(range(steps - 1, -1, -1))
        dh = grad_out[:, order[0]]
        carry = None
        for n, t in enumerate(order):
            gt = grads[:, t]
            torch.mul(dh, d_o[:, t], out=gt[:, :, 0])
            if carry is None:
                dc = torch.mul(dh, d_c[:, t])
            else:
                dc = torch.addcmul(carry, dh, d_c[:, t])
            torch.mul(dc.unsqueeze(2), dc_factors[:, t], out=gt[:, :, 1:5])
            carry = gt[:, :, 4]
            if n + 1 < steps:
                dpre = gt[:, :, 0:4].reshape(k, batch, 4 * hidden)
                dh = torch.baddbmm(grad_out[:, order[n + 1]], dpre, w_t)
        dgates = grads[..., 0:4, :]
        db = dgates.sum((1, 2)).reshape(k, 4 * hidden)
        db = _reorder(db, _LSTM_INVERSE, hidden)
        prev, dgh = _shifted(out, dgates, reverse)
        dw_hh = _reorder(torch.bmm(prev.transpose(1, 2), dgh), _LSTM_INVERSE, hidden)
        dgi = dgates.reshape(k, steps * batch, 4 * hidden)
        dx, dw_ih = _input_grads(ctx, flat, w_ih, dgi, (k, batch, steps, -1))
        if dw_ih is not None:
            dw_ih = _reorder(dw_ih, _LSTM_INVERSE, hidden)
        return dx, dw_ih, db, dw_hh, db, None


_FUNCTIONS = {"gru": _GRU, "lstm": _LSTM}


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
    k, _, _, width = x.shape
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
) -> torch.Tensor:
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
        be passed as an expanded view, ``x1.expand(k, B, T, I)``; it is then
        projected once per member without being copied ``k`` times.
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

    Returns
    -------
    torch.Tensor of shape (k, B, T, H)
        The hidden state after every step (for the LSTM, ``h``). It is a
        transposed view of a ``(k, T, B, H)`` buffer, so ``out.transpose(1, 2)``
        is contiguous and is passed to a stacked layer without a copy.

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
    out = _FUNCTIONS[cell].apply(x, w_ih, b_ih, w_hh, b_hh, bool(reverse))
    return out.transpose(1, 2)
