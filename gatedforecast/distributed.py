"""Data-parallel training across processes with :mod:`torch.distributed`.

One job: let several processes train one network together, each on its share of
every mini-batch. The processes are started the standard way (``torchrun``, one
or several machines) and the default process group is initialised by the
script (``torch.distributed.init_process_group``); the estimators' ``distributed``
parameter says whether a fit uses it (``"auto"``: when one with more than one
process is initialised).

How a run stays equal to a one-process run with the same seed and batch size:

* every process builds the same windows and, from the same shuffling generator
  (its state broadcast from rank 0 at the start), draws the same order;
* each mini-batch of ``batch_size`` windows is split into ``world_size``
  contiguous shares; a process computes the gradient of the mean loss over its
  share; the shares' gradients, weighted by their sizes, are summed across the
  processes with one ``all_reduce`` of a flat buffer per step, which gives
  every process the gradient of the whole batch's mean loss (for losses that are
  means over the batch, as all the built-in ones are);
* the initial weights are broadcast from rank 0, so every process then takes
  the same clipped optimizer step and holds the same weights;
* the validation windows are split the same way and their summed losses
  all-reduced, so early stopping and the plateau schedule see one validation
  loss everywhere; the callbacks' per-epoch values are summed too.

The gradients are reduced by hand rather than by wrapping the network in
``DistributedDataParallel``: one bucket of a small network costs little to send
after the backward pass, a share may be empty (a last batch smaller than the
number of processes) or uneven (weighted by its size), parameters without a
gradient keep none (so Adam skips them as it does in one process, where DDP's
``find_unused_parameters`` would hand it zeros), and the network keeps its own
forward signature, gradient clipping and state-dict keys.

Dropout masks are drawn per process from a generator of its own, so with
``dropout > 0`` a run is a valid data-parallel training but not equal to the
one-process run. Nothing here is needed to predict.
"""

from __future__ import annotations

import os

import numpy as np
import torch

__all__ = [
    "DataParallel",
    "check_distributed",
    "data_parallel",
    "process_count",
    "rank_device",
]

_ACCEPTED = '"auto", True or False'


def _initialised() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def process_count() -> int:
    """Processes in the default process group; 1 when none is initialised."""
    if not _initialised():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def check_distributed(name: str, value):
    """``"auto"``, True or False (numpy bools too)."""
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be {_ACCEPTED}, got {value!r}.")


def rank_device(device: torch.device, setting) -> torch.device:
    """The device a process trains on: ``cuda:LOCAL_RANK`` for a CUDA device
    given without an index when this process trains data-parallel (so the
    processes of one machine use one GPU each; the current CUDA device when
    ``LOCAL_RANK`` is not set), else ``device``."""
    if (
        setting is False
        or device.type != "cuda"
        or device.index is not None
        or process_count() < 2
    ):
        return device
    local = os.environ.get("LOCAL_RANK")
    if local is None:
        return torch.device("cuda", torch.cuda.current_device())
    # more processes than GPUs share them (gloo allows it; nccl refuses)
    return torch.device("cuda", int(local) % torch.cuda.device_count())


def data_parallel(setting, device: torch.device) -> DataParallel | None:
    """The data-parallel run ``setting`` (the ``distributed`` parameter) asks
    for on ``device``; None for a run in this process alone."""
    if setting is False:
        return None
    if setting is True and not _initialised():
        raise ValueError(
            "distributed=True needs an initialised torch.distributed process group: "
            "start the script with torchrun and call "
            "torch.distributed.init_process_group() before fit, or use "
            'distributed="auto" to train in one process when there is none.'
        )
    if process_count() < 2:
        return None
    return DataParallel(device)


class DataParallel:
    """The collective operations of one data-parallel training run, in the
    default process group; every process must make the same calls in the same
    order."""

    def __init__(self, device: torch.device) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        backend = str(dist.get_backend())
        if backend == "nccl" and device.type != "cuda":
            raise ValueError(
                f"The process group's backend is nccl, which exchanges CUDA tensors, "
                f"but this fit trains on {device}. Train with device='cuda' (each "
                "process uses the GPU LOCAL_RANK names), or initialise the group "
                "with backend='gloo' to train on CPUs."
            )
        #: where the tensors that are exchanged live
        self.device = device

    # ------------------------------------------------------------ start and end
    def start(self, network, generator, dropout_generator, fingerprint):
        """Check that every process trains the same problem (``fingerprint``:
        counts, then a sum of the data), give every process rank 0's weights
        and shuffling state; return this process's dropout
        generator (its own masks, not drawn from the shuffling generator)."""
        mine = torch.tensor(fingerprint, dtype=torch.float64, device=self.device)
        low, high = mine.clone(), mine.clone()
        self.dist.all_reduce(low, op=self.dist.ReduceOp.MIN)
        self.dist.all_reduce(high, op=self.dist.ReduceOp.MAX)
        # counts exactly; the data's sum (last) within float rounding, which
        # may differ between kinds of device
        counts_differ = not torch.equal(low[:-1], high[:-1])
        spread = float(high[-1] - low[-1])
        size = max(abs(float(high[-1])), abs(float(low[-1])))
        if counts_differ or spread > 1e-6 * size + 1e-9:
            raise ValueError(
                f"The {self.world_size} processes of the torch.distributed group do "
                "not train the same problem (their numbers of training and "
                "validation windows, weights, batch size, epochs or first "
                "windows differ). With distributed training every process must fit "
                "the same estimator on the same data; to fit different models in "
                "each process, set distributed=False."
            )
        with torch.no_grad():
            for tensor in [*network.parameters(), *network.buffers()]:
                tensor.copy_(self._broadcast(tensor))
        generator.set_state(self._broadcast(generator.get_state()))
        if dropout_generator is None:
            return None
        # a seed for the masks from a copy of the shuffling generator, which
        # keeps its own draws as in one process
        copy = torch.Generator().set_state(generator.get_state())
        seed = int(torch.randint(2**62, (1,), generator=copy))
        on = torch.Generator(device=dropout_generator.device)
        return on.manual_seed(seed + self.rank)

    def finish(self, network) -> None:
        """Give every process rank 0's final weights (they are equal up to the
        order of float sums; this makes them identical)."""
        with torch.no_grad():
            for tensor in [*network.parameters(), *network.buffers()]:
                tensor.copy_(self._broadcast(tensor))

    def _broadcast(self, tensor: torch.Tensor) -> torch.Tensor:
        sent = tensor.detach().to(self.device).clone()
        self.dist.broadcast(sent, 0)
        return sent.to(tensor.device)

    # ------------------------------------------------------------ each step
    def shard(self, positions: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This process's contiguous share of ``positions`` and its fraction of
        them (the weight of its gradient)."""
        n = positions.numel()
        size, extra = divmod(n, self.world_size)
        start = self.rank * size + min(self.rank, extra)
        count = size + (self.rank < extra)
        return positions[start : start + count], count / n if n else 0.0

    def reduce_gradients(self, parameters, share: float) -> None:
        """Replace each gradient by the sum over the processes of their
        gradients weighted by ``share``: the whole batch's gradient. A parameter
        that no process gave a gradient keeps none."""
        parts = []
        for p in parameters:
            grad = p.grad
            parts.append(
                torch.zeros(p.numel(), device=p.device)
                if grad is None
                else grad.reshape(-1) * share
            )
        has = [float(p.grad is not None) for p in parameters]
        flat = torch.cat([*parts, torch.tensor(has, device=parts[0].device)])
        flat = flat.to(self.device)
        self.dist.all_reduce(flat)
        at = 0
        for p in parameters:
            p.grad = flat[at : at + p.numel()].view_as(p).to(p.device)
            at += p.numel()
        if all(has):
            # every parameter has a gradient here, so it has one in the sum:
            # no need to read the flags (on a GPU, a wait for the device)
            return
        for p, count in zip(parameters, flat[at:].tolist()):
            if not count:
                p.grad = None

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes (every process gets the sum)."""
        summed = tensor.detach().to(self.device).clone()
        self.dist.all_reduce(summed)
        return summed.to(tensor.device)
