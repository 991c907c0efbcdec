"""Back-propagation through long windows chunk by chunk, in flat memory.

Training a recurrent network keeps every step's activations for the backward
pass, so its memory grows with the window: a window of 2,016 steps holds about
40 times what a window of 52 holds. With ``bptt_chunk=c`` a stack of recurrent
layers reads a window ``c`` steps at a time under activation checkpointing
(:func:`torch.utils.checkpoint.checkpoint`): the forward pass keeps only the
states between chunks, and the backward pass recomputes one chunk at a time from
them. Memory is then about that of a window of ``c`` steps plus one state per
chunk, at the cost of a second forward pass; the gradients are exact (the same
mathematics as whole windows, up to float rounding).

Dropout masks drawn from the training's own generator are drawn again, equal,
when a chunk is recomputed: the generator is rewound for the recomputation and
then put back where training left it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch
from torch.utils.checkpoint import checkpoint

__all__ = ["bptt_chunks", "chunked_states"]


def _replayable(run: Callable, generator: torch.Generator | None) -> Callable:
    """``run`` such that a second call (the backward pass's recomputation) draws
    the same numbers from ``generator`` as the first, and leaves the generator
    where it was before the second call."""
    if generator is None:
        # masks from torch's global generator: checkpoint restores that one itself
        return run
    start = generator.get_state()
    calls = []

    def replayed(*args):
        if not calls:
            calls.append(True)
            return run(*args)
        resume = generator.get_state()
        generator.set_state(start)
        try:
            return run(*args)
        finally:
            generator.set_state(resume)

    return replayed


def _zero_states(layer: torch.nn.RNNBase, x: torch.Tensor) -> list[torch.Tensor]:
    """The zero initial state of ``layer`` (what it starts from without one),
    as tensors that take a gradient, so that the first chunk's checkpoint
    passes gradients on to the weights."""
    shape = (1, x.shape[0], layer.hidden_size)
    count = 2 if isinstance(layer, torch.nn.LSTM) else 1
    return [x.new_zeros(shape).requires_grad_() for _ in range(count)]


def chunked_states(
    layers: Sequence[torch.nn.RNNBase],
    x: torch.Tensor,
    chunk: int,
    between: Callable[[torch.Tensor], torch.Tensor],
    generator: torch.Generator | None,
    outputs: bool,
):
    """Run the stacked single-layer recurrent ``layers`` over ``x`` ``(batch,
    time, features)``, ``chunk`` steps at a time under activation checkpointing.

    ``between`` is applied to every layer's outputs but the top one's (the
    dropout between layers; it may draw from ``generator``). Returns the top
    layer's outputs at every step (``None`` unless ``outputs``) and the final
    state of every layer, as ``layer(x)`` returns them.

    The checkpoints are torch's reentrant ones: a chunk's forward records no
    graph at all, so the memory of the forward pass does not grow with the
    window (the non-reentrant checkpoint keeps a graph node per operation).
    States travel between chunks as flat tensors, which that checkpoint needs.
    """
    last = len(layers) - 1
    sizes = [2 if isinstance(layer, torch.nn.LSTM) else 1 for layer in layers]

    def unflatten(flat):
        states, at = [], 0
        for size in sizes:
            part = flat[at : at + size]
            states.append(tuple(part) if size == 2 else part[0])
            at += size
        return states

    def run(piece, *flat):
        new = []
        out = piece
        for i, (layer, state) in enumerate(zip(layers, unflatten(flat))):
            out, state = layer(out, state)
            new.extend(state if isinstance(state, tuple) else (state,))
            if i < last:
                out = between(out)
        return (out, *new) if outputs else tuple(new)

    flat = [t for layer in layers for t in _zero_states(layer, x)]
    pieces = []
    for start in range(0, x.shape[1], chunk):
        result = checkpoint(
            _replayable(run, generator),
            x[:, start : start + chunk],
            *flat,
            use_reentrant=True,
        )
        if outputs:
            pieces.append(result[0])
            result = result[1:]
        flat = list(result)
    return (torch.cat(pieces, dim=1) if outputs else None), unflatten(flat)


@contextmanager
def bptt_chunks(network: torch.nn.Module, chunk: int | None):
    """Within the block, the recurrent encoders of ``network`` that can (those
    with a ``bptt_chunk`` attribute) train through windows ``chunk`` steps at a
    time; None leaves them reading whole windows. The encoders are left as they
    were: a network's attributes are what its model file describes."""
    if chunk is None:
        yield
        return
    encoders = [m for m in network.modules() if hasattr(m, "bptt_chunk")]
    if not encoders:
        raise ValueError(
            f"bptt_chunk={chunk!r} trains the package's recurrent encoders chunk "
            f"by chunk, but {type(network).__name__} holds none (an ensemble, or an "
            "encoder of your own, reads whole windows). Use bptt_chunk=None, or "
            "ensemble_size=1 with a built-in cell."
        )
    before = [m.__dict__.get("bptt_chunk", _UNSET) for m in encoders]
    for module in encoders:
        module.bptt_chunk = chunk
    try:
        yield
    finally:
        for module, value in zip(encoders, before):
            if value is _UNSET:
                del module.bptt_chunk
            else:
                module.bptt_chunk = value


_UNSET = object()
