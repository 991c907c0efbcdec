"""The step operands of the batched recurrent layers, and their order in time.

:class:`Slots` holds every step's left operand ``[x_t, 1, h_prev]`` of the fused
projection in one buffer; :func:`step_order` gives the steps in the order a pass
reads them. Both cells of :mod:`gatedforecast.batched_rnn` use them.
"""

from __future__ import annotations

import torch

__all__ = ["Slots", "step_order"]


class Slots:
    """The per-step left operand of the fused projection, ``[x_t, 1, h_prev]``.

    ``buf`` is (k, T+1, B, I+1+H). Read forwards, slot ``t`` holds ``x_t`` and the
    state before step ``t`` (slot 0 the zero state) and step ``t`` writes its state
    into slot ``t+1``; read in reverse, ``x_t`` sits in slot ``t+1``, the zero
    state in slot ``T`` and step ``t`` writes slot ``t``. Either way the step
    inputs are the T consecutive slots ``inputs`` (in time order) and the states
    the T consecutive slots ``states``: a matmul over all steps needs no copy.
    """

    def __init__(self, x: torch.Tensor, hidden: int, reverse: bool):
        k, batch, steps, width = x.shape
        self.width, self.reverse = width, reverse
        buf = x.new_empty(k, steps + 1, batch, width + 1 + hidden)
        first = 1 if reverse else 0
        edge = 0 if reverse else steps
        buf[:, first : first + steps, :, :width] = x.transpose(1, 2)
        buf[:, edge, :, : width + 1] = 0.0
        buf[:, first : first + steps, :, width] = 1.0
        buf[:, steps - edge, :, width + 1 :] = 0.0
        self.buf, self.first = buf, first
        self.inputs = buf[:, first : first + steps]
        self.states = buf[:, 1 - first : 1 - first + steps, :, width + 1 :]

    def step_views(self):
        """Per time step: the step's operand (k, B, I+1+H), its previous state and
        the view its new state is written into (k, B, H)."""
        width = self.width
        inputs = self.inputs.unbind(1)
        prev = tuple(v[..., width + 1 :] for v in inputs)
        return inputs, prev, self.states.unbind(1)


def step_order(steps: int, reverse: bool, backward: bool = False) -> list[int]:
    forward = range(steps - 1, -1, -1) if reverse else range(steps)
    return list(forward)[::-1] if backward else list(forward)
