"""Batched forward passes on the prediction device.

One job: run a trained network on arrays. :func:`roll_out` forecasts any number
of steps from scaled context windows (tensors), feeding forecasts back as inputs
beyond the head; :func:`forecast_windows` does that for a numpy array of
contexts ``(n, window, channels)`` in batches of :data:`PREDICT_BATCH`, returning
``(n, n_steps, n_targets)``; :func:`head_output` is one pass of the head
(a quantile head's levels); :func:`predict_sequences` is the regressors' one pass
per batch of sequences. :func:`prediction_network` puts a copy of a fitted
(CPU) network on the device that predicts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..devices import torch_threads
from ..scaling import WindowTransform
from .effect import add_effect

__all__ = [
    "PREDICT_BATCH",
    "Runtime",
    "batch_rows",
    "forecast_windows",
    "head_output",
    "predict_sequences",
    "prediction_network",
    "roll_out",
]

#: samples (regressors) or series (forecasters) run through the network together
PREDICT_BATCH = 4096


@dataclass(frozen=True)
class Runtime:
    """Where and how a prediction runs: the ``device`` and the torch threads."""

    device: torch.device
    n_threads: int | None = None


def prediction_network(network: torch.nn.Module, device: torch.device):
    """The network to predict with on ``device``: the fitted network itself on the
    CPU, else a copy moved there (the fitted network stays on the CPU, so
    concurrent predictions share it read-only)."""
    if device.type == "cpu":
        return network
    return copy.deepcopy(network).to(device)


def batch_rows(n: int) -> list[np.ndarray]:
    """The row numbers ``0..n-1`` in consecutive batches of :data:`PREDICT_BATCH`
    (one empty batch for ``n = 0``): the one batching of every prediction.

    Batches are taken by these numbers (a copy in numpy's layout for indexing),
    never by slices: torch's kernels sum in an order that depends on the memory
    layout, so the layout of each batch is part of what makes forecasts repeat
    bit for bit.
    """
    return [
        np.arange(start, min(start + PREDICT_BATCH, n))
        for start in range(0, max(n, 1), PREDICT_BATCH)
    ]


def roll_out(
    network,
    transform: WindowTransform,
    context: torch.Tensor,
    n_steps: int,
    future: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    median: int | None = None,
    read=None,
) -> torch.Tensor:
    """Forecast ``n_steps`` from ``context`` of shape ``(batch, window, channels)``.

    The head gives ``network.horizon`` steps per pass; longer horizons feed the
    forecasts back as inputs (recursive roll-out). ``future`` holds the
    future-known covariates of the forecast steps, ``(batch, n, n_future)`` with
    ``n`` at least ``n_steps`` rounded up to a multiple of the head; they are
    appended to the context beside the forecasts. Channels of ``context`` after
    those (past-only covariates, unknown after its end) are held at their last
    value in the context for the steps it is rolled out over: only roll-outs
    beyond the head read them. With a ``generator``, dropout masks drawn from
    it stay on (Monte Carlo dropout) while the network itself stays in eval mode.
    A quantile network is rolled out along its median, level number ``median``.
    ``read(output, ctx)``, when given, turns the network's output (with its
    covariate effect) and the windows' transform context into the values of the
    steps in the scaled space (a likelihood head's median or random draws);
    otherwise the output is inverted by ``transform``. Returns
    ``(batch, n_steps, n_targets)`` in the scaled space of ``context``.
    """
    sampling = {"generator": generator, "dropout": generator is not None}

    def forward(*inputs):
        out = network(*inputs, **sampling)
        return out if median is None else out[..., median]

    window, head = context.shape[1], network.horizon
    produced = []
    done = 0
    with torch.no_grad():
        while done < n_steps:
            inputs, ctx = transform.inputs(context[:, -window:])
            invert = transform.invert if read is None else read
            if future is None:
                step = invert(forward(inputs), ctx)
                rows = step
            else:
                known = future[:, done : done + head]
                output = add_effect(
                    network, transform, forward(inputs, known), inputs, known, ctx
                )
                step = invert(output, ctx)
                rows = torch.cat([step, known], dim=-1)
            if rows.shape[-1] < context.shape[-1]:
                # past-only covariates: their last value carried forward
                held = context[:, -1:, rows.shape[-1] :]
                rows = torch.cat([rows, held.expand(-1, rows.shape[1], -1)], dim=-1)
            produced.append(step)
            # only the last window is read again: keep the context that long
            context = torch.cat([context, rows], dim=1)[:, -window:]
            done += head
    return torch.cat(produced, dim=1)[:, :n_steps]


def forecast_windows(
    network,
    transform: WindowTransform,
    contexts: np.ndarray,
    n_steps: int,
    future: np.ndarray | None,
    runtime: Runtime,
    generator: torch.Generator | None = None,
    median: int | None = None,
    read=None,
) -> np.ndarray:
    """Roll the scaled ``contexts`` out ``n_steps``: ``(n, n_steps, n_targets)``
    in float64, in batches of series on ``runtime.device``; with a
    ``generator``, dropout masks are sampled from it; ``read``: see
    :func:`roll_out`."""
    network = prediction_network(network, runtime.device)
    device = runtime.device
    out = []
    with torch_threads(runtime.n_threads):
        for rows in batch_rows(len(contexts)):
            context = torch.as_tensor(
                contexts[rows], dtype=torch.float32, device=device
            )
            known = None
            if future is not None:
                known = torch.as_tensor(
                    future[rows], dtype=torch.float32, device=device
                )
            out.append(
                roll_out(
                    network,
                    transform,
                    context,
                    n_steps,
                    known,
                    generator,
                    median,
                    read,
                )
            )
    return torch.cat(out).double().cpu().numpy()


def head_output(
    network,
    transform: WindowTransform,
    contexts: np.ndarray,
    future: np.ndarray | None,
    runtime: Runtime,
    read=None,
) -> np.ndarray:
    """One pass of the head from the scaled ``contexts``, without dropout:
    ``(n, horizon, n_targets[, n_levels])`` in the scaled space, float64;
    ``read``: see :func:`roll_out`."""
    network = prediction_network(network, runtime.device)
    device = runtime.device
    with torch.no_grad(), torch_threads(runtime.n_threads):
        context = torch.as_tensor(contexts, dtype=torch.float32, device=device)
        inputs, ctx = transform.inputs(context)
        args, known = (inputs,), None
        if future is not None:
            known = torch.as_tensor(
                future[:, : network.horizon], dtype=torch.float32, device=device
            )
            args += (known,)
        out = network(*args, dropout=False)
        out = (transform.invert if read is None else read)(
            add_effect(network, transform, out, inputs, known, ctx), ctx
        )
    return out.double().cpu().numpy()


def predict_sequences(network, sequences: np.ndarray, runtime: Runtime) -> np.ndarray:
    """The first head step for each of ``sequences`` ``(n, n_steps, n_features)``:
    ``(n, n_outputs)`` float64, in batches of :data:`PREDICT_BATCH`."""
    network = prediction_network(network, runtime.device)
    network.eval()
    chunks = []
    with torch.no_grad(), torch_threads(runtime.n_threads):
        for rows in batch_rows(len(sequences)):
            batch = torch.tensor(
                sequences[rows], dtype=torch.float32, device=runtime.device
            )
            chunks.append(network(batch, dropout=False)[:, 0].double().cpu())
    return torch.cat(chunks).numpy()
