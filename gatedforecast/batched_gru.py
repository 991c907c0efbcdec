"""The GRU layer of :mod:`gatedforecast.batched_rnn`: its autograd function and
the working buffers it keeps between training steps.

See :mod:`gatedforecast.batched_rnn` for what it computes and how; this module
holds :class:`GRULayer` (the :class:`torch.autograd.Function`), the buffers of
one call (:class:`GRUWork`) and the pool that keeps them between calls of one
shape (:func:`release_workspaces` empties it).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import torch

from ._rnn_slots import Slots, step_order

__all__ = ["GRULayer", "GRUWork", "release_workspaces"]


class GRUWork:
    """The working buffers of one GRU layer call, and every per-step view of them.

    Built once per shape and reused by later training calls of that shape (see
    :class:`_WorkPool`): a training step then makes no new buffers and no new
    views, which on a CPU cost as much as the arithmetic at the sizes the
    forecasters train. The backward pass's buffers (``w_h``, ``grad``, ``dh``)
    are built at its first call (:meth:`prepare_backward`).

    * ``buf`` (k, T+1, B, I+1+H) holds the steps' operands ``[x_t, 1, h_prev]``
      as :class:`~gatedforecast._rnn_slots.Slots` does; the zero state and the
      column of ones are written once.
    * ``lin`` (T, k, B, 3H) holds each step's ``r``, ``z`` (activated in place)
      and ``W_hn h + b_hn``; ``n`` (k, T, B, H) starts as ``W_in x + b_in`` for
      all steps (one matmul) and is activated in place step by step.
    * ``grad`` (k, T, B, 4, H) holds the gradients of the pre-activations of
      ``r``, ``z``, ``W_hn h + b_hn`` and ``n``: first the factors that multiply
      the gradient of each step's state (computed for all steps at once), then,
      multiplied in place step by step, the gradients themselves.
    * ``dh`` (T, k, B, 1, H) holds each step's state gradient, shaped to
      broadcast over the four gates (and, before it is written, ``1 - z``).
    """

    def __init__(self, key: tuple, like: torch.Tensor):
        k, batch, steps, width, hidden, reverse = key[:6]
        h2, h3 = 2 * hidden, 3 * hidden
        self.width, self.reverse = width, reverse
        self.slots = slots = Slots(
            like.new_zeros(k, batch, steps, width), hidden, reverse
        )
        buf = slots.buf
        self.x = slots.inputs[..., :width]
        # views (not copies) of the slots: what a call writes into them is read
        self.x_rows = self.x.view(k, steps * batch, width)
        self.operands = slots.inputs.view(k, steps * batch, width + 1 + hidden)
        self.w = like.new_zeros(k, width + 1 + hidden, h3)
        lin = self.lin = like.new_empty(steps, k, batch, h3)
        self.n = like.new_empty(k, steps, batch, hidden)
        self.nbytes = sum(
            t.numel() * t.element_size() for t in (buf, self.w, lin, self.n)
        )
        self.backward_steps = None
        # per-step views; one member is computed with 2-d matrices (mm, addmm)
        single = k == 1
        first = slots.first
        steps_of = self._steps_of
        operands = steps_of(slots.inputs, 1)
        states = steps_of(buf[..., width + 1 :], 1)
        self.forward_steps = [
            (
                operands[t],
                lin_t,
                rz,
                r,
                z,
                gh_n,
                n,
                states[t + first],
                states[t + 1 - first],
            )
            for t, (lin_t, rz, r, z, gh_n, n) in enumerate(
                zip(
                    steps_of(lin),
                    steps_of(lin[..., :h2]),
                    steps_of(lin[..., :hidden]),
                    steps_of(lin[..., hidden:h2]),
                    steps_of(lin[..., h2:]),
                    steps_of(self.n, 1),
                )
            )
        ]
        self.matmul = torch.mm if single else torch.bmm
        self.w_step = self.w[0] if single else self.w

    def _steps_of(self, t: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, ...]:
        """``t`` unbound along its time axis ``dim`` (0, or 1 when the member
        axis comes first), the member axis dropped when there is one member."""
        if self.slots.buf.shape[0] == 1:
            t = t.select(1 if dim == 0 else 0, 0)
            dim = 0
        return t.unbind(dim)

    def prepare_backward(self) -> None:
        """Build the backward pass's buffers and views, at its first call (a
        forward pass without gradients never needs them)."""
        if self.backward_steps is not None:
            return
        k, steps, batch, hidden = self.slots.states.shape
        like = self.lin
        self.w_h = like.new_empty(k, 3 * hidden, hidden)
        self.grad = like.new_empty(k, steps, batch, 4, hidden)
        self.dh = like.new_empty(steps, k, batch, 1, hidden)
        self.dh_flat = self.dh.view(steps, k, batch, hidden)
        self.nbytes += sum(
            t.numel() * t.element_size() for t in (self.w_h, self.grad, self.dh)
        )
        # whole-tensor views, time first, for the factors of the backward pass
        self.r, self.z, self.gh_n = self.lin.view(steps, k, batch, 3, hidden).unbind(-2)
        self.n_steps_first = self.n.transpose(0, 1)
        self.h = self.slots.states.transpose(0, 1)
        self.factors = self.grad.transpose(0, 1).unbind(-2)
        self.dh_states = self.dh[..., 0, :].transpose(0, 1)
        self.w_h_step = self.w_h[0] if k == 1 else self.w_h
        steps_of = self._steps_of
        grad_rows = self.grad.view(k, steps, batch, 4 * hidden)[..., : 3 * hidden]
        self.backward_steps = list(
            zip(
                steps_of(self.grad.transpose(0, 1)),
                steps_of(grad_rows, 1),
                steps_of(self.z.unsqueeze(-2)),
                steps_of(self.dh),
                steps_of(self.dh[..., 0, :]),
            )
        )


class _WorkPool:
    """Working buffers kept between calls, by shape, dtype and device.

    A call takes a free one of its key (or builds one) and gives it back when
    its autograd graph is freed, so concurrent graphs never share buffers. At
    most ``max_bytes`` are kept free, the least recently used key dropped first.
    """

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes = max_bytes
        self.free: OrderedDict[tuple, list[GRUWork]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, key: tuple, like: torch.Tensor) -> GRUWork:
        with self.lock:
            stack = self.free.get(key)
            if stack:
                self.free.move_to_end(key)
                return stack.pop()
        return GRUWork(key, like)

    def give(self, key: tuple, work: GRUWork) -> None:
        with self.lock:
            self.free.setdefault(key, []).append(work)
            self.free.move_to_end(key)
            kept = sum(w.nbytes for stack in self.free.values() for w in stack)
            while kept > self.max_bytes and self.free:
                _, dropped = self.free.popitem(last=False)
                kept -= sum(w.nbytes for w in dropped)

    def clear(self) -> None:
        with self.lock:
            self.free.clear()


_POOL = _WorkPool()


def release_workspaces() -> None:
    """Free the GRU's working buffers kept for later calls (training ends with
    this: what is kept speeds up the next step of the same shape, not a later
    fit)."""
    _POOL.clear()


class GRULayer(torch.autograd.Function):
    """Returns every step's state (k, B, T, H) and the last one (k, B, H), both
    new tensors; either may go unused (its gradient is then None). With
    ``time_major`` the states lie in memory as (k, T, B, H), the order of
    ``nn.GRU(batch_first=True)``'s outputs."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, reverse, time_major, pooled):
        ctx.set_materialize_grads(False)
        k, batch, steps, width = x.shape
        hidden = w_hh.shape[1]
        h2 = 2 * hidden
        key = (k, batch, steps, width, hidden, reverse, x.dtype, x.device)
        if pooled:
            work = _POOL.take(key, x)
            weakref.finalize(ctx, _POOL.give, key, work)
        else:
            work = GRUWork(key, x)
        work.x.copy_(x.transpose(1, 2))
        # step weights (k, I+1+H, 3H) over [x_t, 1, h_prev]: columns r, z, gh_n
        w = work.w
        w[:, :width, :h2] = w_ih[..., :h2]
        torch.add(b_ih[:, :h2], b_hh[:, :h2], out=w[:, width, :h2])
        w[:, width, h2:] = b_hh[:, h2:]
        w[:, width + 1 :] = w_hh
        torch.baddbmm(
            b_ih[:, None, h2:],
            work.x_rows,
            w_ih[..., h2:],
            out=work.n.view(k, steps * batch, hidden),
        )
        matmul, w_step = work.matmul, work.w_step
        for t in step_order(steps, reverse):
            operand, lin, rz, r, z, gh_n, n, prev, state = work.forward_steps[t]
            matmul(operand, w_step, out=lin)
            rz.sigmoid_()
            n.addcmul_(r, gh_n).tanh_()
            torch.lerp(n, prev, z, out=state)
        # what the backward pass reads, saved so that saved-tensor hooks (and
        # memory accounting) see it; the backward reads it through ``work``
        # (and the input weights, whose change in place before the backward
        # pass autograd then refuses, as it does for nn.GRU)
        ctx.save_for_backward(work.slots.buf, work.lin, work.n, w_ih)
        ctx.work = work
        states = work.slots.states
        if time_major:
            out = states.clone(memory_format=torch.contiguous_format).transpose(1, 2)
        else:
            out = states.transpose(1, 2).clone(memory_format=torch.contiguous_format)
        return out, out[:, :, 0 if reverse else -1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_last):
        work = ctx.work
        work.prepare_backward()
        width, reverse = work.width, work.reverse
        k, steps, batch, hidden = work.slots.states.shape
        h2, h3 = 2 * hidden, 3 * hidden
        w_in = ctx.saved_tensors[3][..., h2:]
        # per step, gradient of a pre-activation = dh * factor, for all steps:
        # z: (h - n)(1 - z); n: (1 - z)(1 - n^2); gh_n: that times r;
        # r: that times gh_n (1 - r). 1 - z is held in the buffer of the state
        # gradients until they are written.
        r, z, gh_n, n, h = work.r, work.z, work.gh_n, work.n_steps_first, work.h
        f_r, f_z, f_ghn, f_n = work.factors
        one_minus_z = torch.neg(z, out=work.dh_flat).add_(1.0)
        torch.sub(h, n, out=f_z).mul_(one_minus_z)
        torch.mul(one_minus_z, n, out=f_n)
        torch.addcmul(one_minus_z, f_n, n, value=-1.0, out=f_n)
        torch.mul(f_n, r, out=f_ghn)
        torch.mul(f_ghn, gh_n, out=f_r)
        f_r.addcmul_(f_r, r, value=-1.0)
        if grad_out is None:
            work.dh.zero_()
        else:
            work.dh_states.copy_(grad_out.transpose(1, 2))
        if grad_last is not None:
            work.dh_states[:, 0 if reverse else -1].add_(grad_last)
        work.w_h.copy_(work.w[:, width + 1 :].transpose(1, 2))
        accumulate = torch.Tensor.addmm_ if k == 1 else torch.Tensor.baddbmm_
        w_h, backward_steps = work.w_h_step, work.backward_steps
        order = step_order(steps, reverse, backward=True)
        for i, t in enumerate(order):
            grad, rows, z_t, dh, _ = backward_steps[t]
            grad.mul_(dh)
            if i + 1 < steps:
                _, _, _, dh_prev, dh_prev_rows = backward_steps[order[i + 1]]
                dh_prev.addcmul_(dh, z_t)
                accumulate(dh_prev_rows, rows, w_h)
        # after the loop, one matmul over all steps per weight block
        grads = work.grad.view(k, steps * batch, 4 * hidden)
        dw = torch.bmm(work.operands.transpose(1, 2), grads[..., :h3])
        dw_n = torch.bmm(
            work.operands[..., : width + 1].transpose(1, 2), grads[..., h3:]
        )
        dx = None
        if ctx.needs_input_grad[0]:
            dx = torch.bmm(grads[..., :h2], work.w[:, :width, :h2].transpose(1, 2))
            dx.baddbmm_(grads[..., h3:], w_in.transpose(1, 2))
            dx = dx.view(k, steps, batch, width).transpose(1, 2)
        dw_ih = torch.cat([dw[:, :width, :h2], dw_n[:, :width]], -1)
        db_ih = torch.cat([dw[:, width, :h2], dw_n[:, width]], -1)
        return dx, dw_ih, db_ih, dw[:, width + 1 :], dw[:, width], None, None, None
