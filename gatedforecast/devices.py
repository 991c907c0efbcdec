"""Turn a user's ``device`` argument into a :class:`torch.device`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["resolve_device", "torch_threads"]

_VALID = '"auto", "cpu", "cuda", "cuda:N" or "mps"'


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device named by ``device``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device, default="auto"
        ``"auto"`` (or ``None``) picks CUDA when a GPU is visible, then Apple MPS,
        then the CPU. Any other value is honoured exactly; a device that is not
        available on this machine is an error rather than a silent fallback.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the name is not understood or the device is not available here.
    TypeError
        If ``device`` is neither a string nor a ``torch.device``.

    Examples
    --------
    >>> from gatedforecast.devices import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None:
        device = "auto"
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise TypeError(
            f"device must be a string ({_VALID}) or a torch.device, "
            f"got {type(device).__name__}."
        )
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ValueError(
                'device="mps" was requested but Apple MPS is not available on this '
                'machine; use device="cpu" or device="auto".'
            )
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise ValueError(f"Unknown device {device!r}; valid choices are {_VALID}.")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine (no visible GPU, or a CPU-only build of torch); use "
            'device="cpu" or device="auto".'
        )
    index = int(match.group(1)) if match.group(1) is not None else None
    if index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but only "
            f"{torch.cuda.device_count()} CUDA device(s) are visible; use an index "
            f'below {torch.cuda.device_count()} or device="cuda".'
        )
    return torch.device(name)


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` torch threads, then restore the setting.

    ``None`` leaves torch's setting alone. torch's thread count is a process-wide
    setting: it limits every torch computation of the process while the block runs.
    """
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
