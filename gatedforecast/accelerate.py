"""Accelerator options of the training loop: mixed precision and ``torch.compile``.

One job: turn the estimators' ``mixed_precision`` and ``torch_compile`` into what
one training step does differently: the forward pass under
:func:`torch.autocast` (bfloat16 or float16, the loss in float32), float16's
gradients scaled by a :class:`torch.amp.GradScaler` (unscaled before clipping),
and the network's forward compiled with :func:`torch.compile`. Forecasts are
computed in float32 without compiling either way.

Both act on CUDA devices only (:data:`ACCELERATED_DEVICES`). On a CPU neither
made a training step faster (``benchmarks/results/accelerator.md``: bfloat16
autocast about twice as slow, a compiled step within the noise of the eager one
after seconds of compilation), so a CPU fit trains in float32 eagerly, and the
estimators warn once per fit (:func:`warn_off_cuda`).
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext

import torch

from .intervals import _caller_level

__all__ = ["ACCELERATED_DEVICES", "MIXED_PRECISION", "Accelerator", "warn_off_cuda"]

#: ``mixed_precision`` names and the autocast dtypes they stand for
MIXED_PRECISION = {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}
#: the device types on which the options act
ACCELERATED_DEVICES = ("cuda",)
#: keyword arguments of :func:`torch.compile` (``mode``, ``backend``...)
COMPILE_OPTIONS: dict = {}


class Accelerator:
    """The accelerator options of one training run on ``device``.

    Parameters
    ----------
    device : torch.device
        Where the network trains.
    mixed_precision : {None, "bf16", "fp16"}
        The autocast dtype of the forward pass; ``"fp16"`` also scales the loss.
    torch_compile : bool
        Compile the network's forward pass for training.

    Examples
    --------
    >>> import torch
    >>> from gatedforecast.accelerate import Accelerator
    >>> Accelerator(torch.device("cpu"), "bf16", False).dtype is None
    True
    """

    def __init__(
        self, device: torch.device, mixed_precision: str | None, torch_compile: bool
    ) -> None:
        self.active = device.type in ACCELERATED_DEVICES
        self.device = device
        self.dtype = MIXED_PRECISION[mixed_precision] if self.active else None
        self.compile = bool(torch_compile) and self.active
        self.scaler = (
            torch.amp.GradScaler(device.type) if self.dtype == torch.float16 else None
        )

    def model(self, network: torch.nn.Module):
        """What the training step calls: ``network`` or its compiled forward
        (sharing its parameters)."""
        if self.compile:
            return torch.compile(network, **COMPILE_OPTIONS)
        return network

    def autocast(self):
        """The context of a forward pass: autocast to the mixed dtype, or none."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """Back-propagate ``loss``, scaled under float16."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring the gradients back to their true size (before clipping)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's step; under float16 skipped when a gradient
        overflowed, and the loss scale adapted."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()


def warn_off_cuda(
    device: torch.device, mixed_precision: str | None, torch_compile: bool
) -> None:
    """Warn that the options asked for do nothing on ``device`` (not CUDA)."""
    asked = [
        f"{name}={value!r}"
        for name, value in (
            ("mixed_precision", mixed_precision),
            ("torch_compile", torch_compile),
        )
        if value not in (None, False)
    ]
    if asked and device.type not in ACCELERATED_DEVICES:
        warnings.warn(
            f"{' and '.join(asked)} act{'s' if len(asked) == 1 else ''} on CUDA "
            f"devices only; on {device.type!r} {'it makes' if len(asked) == 1 else 'they make'} "
            "training slower, so this fit trains in float32 without compiling. "
            "Leave mixed_precision=None and torch_compile=False off CUDA.",
            UserWarning,
            stacklevel=_caller_level() + 1,
        )
