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
    """``x`` (k, B, T, I) as (k, T*B, I + 1): time-major within each member, with a
    column of ones appended (which makes the bias gradients part of the input
    weights' matmul). An input shared by all members (an expanded view) stays
    one copy, expanded."""
    k, batch, steps, width = x.shape
    shared = k > 1 and x.stride(0) == 0
    source = x[:1] if shared else x
    flat = source.new_ones(source.shape[0], steps, batch, width + 1)
    flat[..., :width] = source.transpose(1, 2)
    flat = flat.view(-1, steps * batch, width + 1)
    return flat.expand(k, -1, -1) if shared else flat


def _projection(flat, w_ih, bias, steps, batch):
    """``x W_ih + bias`` of every step, time-major: (T, k, B, C)."""
    k, _, width = flat.shape
    columns = w_ih.shape[-1]
    out = flat.new_empty(steps, k, batch, columns)
    if k > 1 and flat.stride(0) == 0:
        # one matmul for all members: (T*B, I) @ (I, k*C)
        w_all = w_ih.transpose(0, 1).reshape(width - 1, k * columns)
        proj = torch.mm(flat[0, :, :-1], w_all).view(steps, batch, k, columns)
        torch.add(proj.transpose(1, 2), bias[None, :, None, :], out=out)
    else:
        proj = torch.bmm(flat[..., :-1], w_ih).view(k, steps, batch, columns)
        torch.add(proj.transpose(0, 1), bias[None, :, None, :], out=out)
    return out


def _input_grads(ctx, flat, w_ih, dall, dgi, shape):
    """From the per-step gradients of all steps, ``dall`` (k, T*B, C), whose
    columns ``dgi`` are those of the input projection: the gradient of x, and
    one matmul giving W_ih's gradient (rows :-1) and the column sums (row -1)."""
    k, batch, steps, width = shape
    both = torch.bmm(flat.transpose(1, 2), dall)
    dx = None
    if ctx.needs_input_grad[0]:
        dx = torch.bmm(dgi, w_ih.transpose(1, 2))
        dx = dx.view(k, steps, batch, width).transpose(1, 2)
    return dx, both[:, :-1], both[:, -1]


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


def _order(steps: int, reverse: bool, backward: bool = False) -> list[int]:
    forward = range(steps - 1, -1, -1) if reverse else range(steps)
    return list(forward)[::-1] if backward else list(forward)


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
        # gates (T, k, B, 3H): (W_ir x + b_r, W_iz x + b_z, b_hn); the step's
        # baddbmm_ turns it into (pre_r, pre_z, W_hn h + b_hn), sigmoid_ into
        # (r, z, W_hn h + b_hn), which the backward reads
        gates = _projection(flat, w_ih, bias, steps, batch)
        n = gates[..., h2:].clone()
        gates[..., h2:] = b_hh[None, :, None, h2:]
        out = x.new_empty(k, steps, batch, hidden)
        h = x.new_zeros(k, batch, hidden)
        g_steps, n_steps, out_steps = gates.unbind(0), n.unbind(0), out.unbind(1)
        for t in _order(steps, reverse):
            g = g_steps[t].baddbmm_(h, w_hh)
            rz = g[..., :h2].sigmoid_()
            nt = n_steps[t].addcmul_(rz[..., :hidden], g[..., h2:]).tanh_()
            h = torch.lerp(nt, h, rz[..., hidden:], out=out_steps[t])
        ctx.save_for_backward(flat, w_ih, w_hh, out)
        ctx.gates, ctx.n, ctx.reverse = gates, n, reverse
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        flat, w_ih, w_hh, out = ctx.saved_tensors
        gates, n, reverse = ctx.gates, ctx.n, ctx.reverse
        k, steps, batch, hidden = out.shape
        h2 = 2 * hidden
        # per step (k, B, 4, H): dghn, dpre_r, dpre_z, dpre_n; columns 0:3 are the
        # gradient of the hidden projection with W_hh's gates in the order
        # (n, r, z), columns 1:4 that of the input projection (r, z, n)
        grads = out.new_empty(k, steps, batch, 4, hidden)
        w_t = torch.cat([w_hh[..., h2:], w_hh[..., :h2]], -1).transpose(1, 2)
        w_t = w_t.contiguous()
        ones = out.new_ones(k, batch, hidden)
        g_steps, n_steps, out_steps = gates.unbind(0), n.unbind(0), out.unbind(1)
        d_steps, dout_steps = grads.unbind(1), grad_out.unbind(1)
        order = _order(steps, reverse, backward=True)
        dh = dout_steps[order[0]]
        for i, t in enumerate(order):
            g, nt, d = g_steps[t], n_steps[t], d_steps[t]
            one_minus = torch.rsub(g[..., :h2], 1.0)
            u = torch.mul(dh, one_minus[..., hidden:])
            # dpre_z = dh (h_prev - n) z (1 - z) = dh (1 - z) (h - n)
            torch.mul(u, torch.sub(out_steps[t], nt), out=d[:, :, 2])
            # dpre_n = dh (1 - z) (1 - n^2)
            dn = torch.mul(u, torch.addcmul(ones, nt, nt, value=-1.0), out=d[:, :, 3])
            dghn = torch.mul(dn, g[..., :hidden], out=d[:, :, 0])
            # dpre_r = dpre_n ghn r (1 - r)
            torch.mul(
                torch.mul(dghn, g[..., h2:]), one_minus[..., :hidden], out=d[:, :, 1]
            )
            if i + 1 < steps:
                dh = torch.addcmul(dout_steps[order[i + 1]], dh, g[..., hidden:h2])
                dh.baddbmm_(d[:, :, 0:3].reshape(k, batch, 3 * hidden), w_t)
        dall = grads.view(k, steps * batch, 4 * hidden)
        dx, dw_ih, sums = _input_grads(
            ctx, flat, w_ih, dall, dall[..., hidden:], (k, batch, steps, -1)
        )
        prev, dgh = _shifted(out, grads[..., 0:3, :], reverse)
        dw_hh = torch.bmm(prev.transpose(1, 2), dgh)
        dw_hh = torch.cat([dw_hh[..., hidden:], dw_hh[..., :hidden]], -1)
        db_hh = torch.cat([sums[:, hidden : h2 + hidden], sums[:, :hidden]], -1)
        return dx, dw_ih[..., hidden:], sums[:, hidden:], dw_hh, db_hh, None


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
        # gates (T, k, B, 4H) in the order (o, f, i, g), activated in place
        gates = _projection(flat, w_ih, bias, steps, batch)
        cell = x.new_empty(steps, k, batch, hidden)
        tanh_c = x.new_empty(steps, k, batch, hidden)
        out = x.new_empty(k, steps, batch, hidden)
        h = x.new_zeros(k, batch, hidden)
        c = x.new_zeros(k, batch, hidden)
        g_steps, c_steps = gates.unbind(0), cell.unbind(0)
        tc_steps, out_steps = tanh_c.unbind(0), out.unbind(1)
        for t in _order(steps, reverse):
            g = g_steps[t].baddbmm_(h, w_hh)
            g[..., :h3].sigmoid_()
            g[..., h3:].tanh_()
            c = torch.mul(g[..., hidden : 2 * hidden], c, out=c_steps[t])
            c.addcmul_(g[..., 2 * hidden : h3], g[..., h3:])
            tc = torch.tanh(c, out=tc_steps[t])
            h = torch.mul(g[..., :hidden], tc, out=out_steps[t])
        ctx.save_for_backward(flat, w_ih, w_hh, out)
        ctx.gates, ctx.cell, ctx.tanh_c, ctx.reverse = gates, cell, tanh_c, reverse
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        flat, w_ih, w_hh, out = ctx.saved_tensors
        gates, cell, tanh_c, reverse = ctx.gates, ctx.cell, ctx.tanh_c, ctx.reverse
        k, steps, batch, hidden = out.shape
        h3 = 3 * hidden
        # per step (k, B, 4, H): dpre_o, dpre_f, dpre_i, dpre_g
        grads = out.new_empty(k, steps, batch, 4, hidden)
        w_t = w_hh.transpose(1, 2).contiguous()
        ones = out.new_ones(k, batch, hidden)
        zeros = out.new_zeros(k, batch, hidden)
        g_steps, c_steps = gates.unbind(0), cell.unbind(0)
        tc_steps, d_steps = tanh_c.unbind(0), grads.unbind(1)
        dout_steps = grad_out.unbind(1)
        order = _order(steps, reverse, backward=True)
        dh = dout_steps[order[0]]
        carry = None
        for n, t in enumerate(order):
            g, tc, d = g_steps[t], tc_steps[t], d_steps[t]
            o, f, i, gg = g.split(hidden, -1)
            prev_c = c_steps[order[n + 1]] if n + 1 < steps else zeros
            slope = torch.rsub(g[..., :h3], 1.0).mul_(g[..., :h3])
            # dpre_o = dh tanh(c) o (1 - o)
            torch.mul(torch.mul(dh, tc), slope[..., :hidden], out=d[:, :, 0])
            # dc = carry + dh o (1 - tanh(c)^2)
            dc_h = torch.mul(dh, o).mul_(torch.addcmul(ones, tc, tc, value=-1.0))
            dc = dc_h if carry is None else dc_h.add_(carry)
            torch.mul(dc, prev_c, out=d[:, :, 1]).mul_(slope[..., hidden : 2 * hidden])
            torch.mul(dc, gg, out=d[:, :, 2]).mul_(slope[..., 2 * hidden :])
            torch.mul(dc, i, out=d[:, :, 3]).mul_(
                torch.addcmul(ones, gg, gg, value=-1.0)
            )
            carry = dc.mul_(f)
            if n + 1 < steps:
                dpre = d.reshape(k, batch, 4 * hidden)
                dh = torch.baddbmm(dout_steps[order[n + 1]], dpre, w_t)
        dall = grads.view(k, steps * batch, 4 * hidden)
        dx, dw_ih, db = _input_grads(ctx, flat, w_ih, dall, dall, (k, batch, steps, -1))
        db = _reorder(db, _LSTM_INVERSE, hidden)
        prev, dgh = _shifted(out, grads, reverse)
        dw_hh = _reorder(torch.bmm(prev.transpose(1, 2), dgh), _LSTM_INVERSE, hidden)
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
