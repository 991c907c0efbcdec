"""The training loop shared by every estimator in the package.

One plain PyTorch loop: shuffled mini-batches, an optional temporal validation set
and gradient clipping. What happens around the epochs (early stopping with the best
weights restored, a learning-rate schedule, a per-epoch history, an optional
progress bar, the divergence check) are callbacks (:mod:`gatedforecast.callbacks`)
assembled from the :class:`TrainingConfig`. Losses are accumulated on the device
and read once per epoch, so the loop never waits on the device inside an epoch.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from .accelerate import Accelerator
from .batched_rnn import release_workspaces
from .callbacks import (
    DIVERGENCE_FACTOR,
    HISTORY_COLUMNS,
    Callback,
    History,
    TrainingDivergedError,
    TrainingState,
    default_callbacks,
    empty_history,
)
from .chunked_bptt import bptt_chunks
from .devices import torch_threads
from .distributed import data_parallel

__all__ = [
    "OPTIMIZERS",
    "LOSSES",
    "PinballLoss",
    "MaskedLoss",
    "LR_SCHEDULES",
    "Batches",
    "Callback",
    "DIVERGENCE_FACTOR",
    "HISTORY_COLUMNS",
    "empty_history",
    "TrainingConfig",
    "TrainingDivergedError",
    "TrainingResult",
    "make_loss",
    "make_optimizer",
    "train_network",
]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
LOSSES = {"mse": nn.MSELoss, "mae": nn.L1Loss, "huber": nn.HuberLoss}
LR_SCHEDULES = ("plateau", "cosine", "onecycle", None)
#: ``steps_per_epoch="auto"``: an epoch is a full pass over the training samples,
#: or this many steps when a full pass would be longer (long series, panels)
AUTO_STEPS_PER_EPOCH = 100


class PinballLoss(nn.Module):
    """Mean pinball (quantile) loss of ``(..., n_levels)`` quantile predictions
    against ``(...)`` targets."""

    def __init__(self, levels) -> None:
        super().__init__()
        self.register_buffer("levels", torch.as_tensor(levels, dtype=torch.float32))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = target.unsqueeze(-1) - prediction
        levels = self.levels.to(prediction.device)
        return torch.maximum(levels * error, (levels - 1) * error).mean()


class MaskedLoss(nn.Module):
    """A loss over the observed targets only: missing (NaN) targets are left
    out, so point losses and the pinball loss average over the observed ones.

    ``loss`` is what :func:`make_loss` takes; it is called on the observed
    targets and their predictions, flattened (a quantile head's predictions
    keep their last axis of levels). A batch needs one observed target.
    """

    def __init__(self, loss) -> None:
        super().__init__()
        self.loss = make_loss(loss)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        observed = ~torch.isnan(target)
        return self.loss(prediction[observed], target[observed])


def make_optimizer(spec, parameters, learning_rate: float) -> torch.optim.Optimizer:
    """Build the optimizer named by ``spec`` (a name, an Optimizer class or a callable)."""
    if isinstance(spec, str):
        cls = OPTIMIZERS[spec]
        if cls is torch.optim.SGD:
            return cls(parameters, lr=learning_rate, momentum=0.9)
        return cls(parameters, lr=learning_rate)
    return spec(parameters, lr=learning_rate)


def make_loss(spec) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Build the loss named by ``spec`` (a name, an ``nn.Module`` class or a callable)."""
    if isinstance(spec, str):
        return LOSSES[spec]()
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec()
    return spec


@dataclass
class TrainingConfig:
    """Settings of one training run; see the estimators' docstrings."""

    optimizer: object = "adam"
    loss: object = "mse"
    learning_rate: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 50
    steps_per_epoch: int | str | None = "auto"
    gradient_clip: float | None = 1.0
    #: train through windows longer than this many steps chunk by chunk
    #: (:mod:`gatedforecast.chunked_bptt`); None reads whole windows
    bptt_chunk: int | None = None
    patience: int | None = None
    min_delta: float = 0.0
    restore_best_weights: bool = True
    lr_schedule: str | None = None
    verbose: int = 0
    n_threads: int | None = None
    #: ``"auto"``, True or False: train data-parallel in the initialised
    #: torch.distributed process group (:mod:`gatedforecast.distributed`)
    distributed: bool | str = False
    #: ``None``, ``"bf16"`` or ``"fp16"``: the forward pass under autocast on CUDA
    #: (:mod:`gatedforecast.accelerate`)
    mixed_precision: str | None = None
    #: compile the network's forward pass with ``torch.compile`` on CUDA
    torch_compile: bool = False
    #: what the progress bar calls the run (``None``: the epoch it starts from)
    description: str | None = None
    #: how to avoid divergence with the estimator at hand, ends the error message
    divergence_hint: str = "or scale the data (scaler='standard' or 'window')."


@dataclass
class Batches:
    """Where the training and validation samples come from.

    ``make(items)`` turns a 1-D tensor of sample ids (on the training device) into
    the network's ``(inputs, targets)``, where ``inputs`` is one tensor or a tuple
    of positional arguments of the network; ``train`` and ``validation`` hold the
    ids.
    """

    make: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    train: torch.Tensor
    validation: torch.Tensor


@dataclass
class TrainingResult:
    """What happened during :func:`train_network`."""

    history: pd.DataFrame
    n_epochs: int
    best_epoch: int
    interrupted: bool


def _draw(n_train: int, n_draw: int, generator: torch.Generator) -> torch.Tensor:
    """Positions of the samples of one epoch: a shuffle of all of them, or
    ``n_draw`` of them (without replacement while there are enough)."""
    if n_draw >= n_train:
        order = torch.randperm(n_train, generator=generator)
        if n_draw == n_train:
            return order
        extra = torch.randint(n_train, (n_draw - n_train,), generator=generator)
        return torch.cat([order, extra])
    return torch.randperm(n_train, generator=generator)[:n_draw]


def _forward(network, inputs, **options) -> torch.Tensor:
    """Call ``network`` on one input tensor, or on a tuple of them."""
    if isinstance(inputs, tuple):
        return network(*inputs, **options)
    return network(inputs, **options)


def _member_step(network, inputs, targets, loss_fn, generator, accelerator):
    """One backward pass of an ensemble: each member's loss, summed, so that
    each member gets the gradient it would get alone. Returns the members'
    predictions and the targets, stacked as one batch (what the callbacks
    compare), and the mean of the members' losses."""
    with accelerator.autocast():
        prediction = _forward(network, inputs, generator=generator, members=True)
    prediction = prediction.float()
    losses = torch.stack([loss_fn(p, targets) for p in prediction.unbind(0)])
    accelerator.backward(losses.sum())
    k = prediction.shape[0]
    stacked = targets.unsqueeze(0).expand(k, *targets.shape).flatten(0, 1)
    return prediction.flatten(0, 1), stacked, losses.detach().mean()


def _clip(network, max_norm: float) -> None:
    """Clip the gradients of ``network`` to total norm ``max_norm`` (an
    ensemble, member by member)."""
    clip = getattr(network, "clip_gradients", None)
    if clip is not None:
        clip(max_norm)
    else:
        nn.utils.clip_grad_norm_(network.parameters(), max_norm)


def _evaluate(
    network, batches, loss_fn, batch_size, parallel, accelerator
) -> torch.Tensor:
    network.eval()
    total = torch.zeros((), device=batches.validation.device)
    ids = batches.validation
    if parallel is not None:
        ids = parallel.shard(ids)[0]
    with torch.no_grad():
        for items in ids.split(batch_size):
            inputs, targets = batches.make(items)
            with accelerator.autocast():
                prediction = _forward(network, inputs)
            total += loss_fn(prediction.float(), targets) * items.numel()
    if parallel is not None:
        total = parallel.sum(total)
    return total / batches.validation.numel()


def _fingerprint(batches, parameters, config, n_draw, members) -> list[float]:
    """What every process of a data-parallel run must agree on: the numbers of
    windows, weights, batch size, draws and epochs, and the first windows' sum."""
    first = batches.train[: config.batch_size]
    inputs, targets = batches.make(first)
    return [
        batches.train.numel(),
        batches.validation.numel(),
        sum(p.numel() for p in parameters),
        config.batch_size,
        n_draw,
        config.max_epochs,
        members,
        float(targets.double().sum()),
    ]


def _empty_share_step(state, parallel, parameters, callbacks, accelerator) -> None:
    """A data-parallel step of a process whose share of a small last batch is
    empty: no forward pass, but the same gradient exchange, clipping, optimizer
    step and callbacks (with ``n_items=0``) as the other processes."""
    state.optimizer.zero_grad(set_to_none=True)
    parallel.reduce_gradients(parameters, 0.0)
    if state.config.gradient_clip is not None:
        accelerator.unscale(state.optimizer)
        _clip(state.network, state.config.gradient_clip)
    accelerator.step(state.optimizer)
    nothing = torch.zeros(0, device=state.device)
    for callback in callbacks:
        callback.on_batch_end(state, nothing, nothing, nothing.sum(), 0)


def train_network(
    network: nn.Module,
    batches: Batches,
    config: TrainingConfig,
    generator: torch.Generator,
    dropout_generator: torch.Generator | None = None,
    first_epoch: int = 1,
    callbacks: Sequence[Callback] = (),
) -> TrainingResult:
    """Train ``network`` in place and return its history.

    Parameters
    ----------
    network : nn.Module
        Called as ``network(inputs, generator=g)``. It is moved to the device of
        ``batches`` for training and back to the CPU afterwards, where fitted
        networks live (so they pickle and load anywhere), also when training fails.
    batches : Batches
        Sample ids and the function turning them into tensors.
    config : TrainingConfig
    generator : torch.Generator
        CPU generator that shuffles the training samples.
    dropout_generator : torch.Generator, optional
        Generator on the training device for dropout masks.
    first_epoch : int
        Number given to the first epoch in the history (continued training
        numbers its epochs after the earlier ones).
    callbacks : sequence of Callback, optional
        Run after the ones ``config`` asks for (:func:`default_callbacks`).

    Returns
    -------
    TrainingResult

    Raises
    ------
    TrainingDivergedError
        When an epoch's loss is NaN or infinite, its mean absolute error more
        than :data:`DIVERGENCE_FACTOR` times both the error of the first batch
        before any step and the epoch's error of zero outputs, or a weight no
        longer finite.
    """
    parallel = data_parallel(config.distributed, batches.train.device)
    network.to(batches.train.device)
    if parallel is not None and parallel.rank:
        # one progress bar, the first process's
        config = copy.copy(config)
        config.verbose = 0
    try:
        with torch_threads(config.n_threads), bptt_chunks(network, config.bptt_chunk):
            return _run_epochs(
                network,
                batches,
                config,
                generator,
                dropout_generator,
                first_epoch,
                list(callbacks),
                parallel,
            )
    finally:
        network.to("cpu")
        release_workspaces()


def _run_epochs(
    network,
    batches,
    config,
    generator,
    dropout_generator,
    first_epoch,
    callbacks,
    parallel=None,
):
    """The epoch loop of :func:`train_network`; with ``parallel`` (a
    :class:`~gatedforecast.distributed.DataParallel`), each process trains on
    its share of every batch."""
    device = batches.train.device
    loss_fn = make_loss(config.loss)
    optimizer = make_optimizer(
        config.optimizer, network.parameters(), config.learning_rate
    )
    n_train = batches.train.numel()
    if config.steps_per_epoch is None:
        n_draw = n_train
    elif config.steps_per_epoch == "auto":
        n_draw = min(n_train, AUTO_STEPS_PER_EPOCH * config.batch_size)
    else:
        n_draw = config.steps_per_epoch * config.batch_size
    state = TrainingState(
        network=network,
        device=device,
        optimizer=optimizer,
        config=config,
        steps_per_epoch=math.ceil(n_draw / config.batch_size),
        has_validation=batches.validation.numel() > 0,
        first_epoch=first_epoch,
        epoch=first_epoch - 1,
        best_epoch=first_epoch - 1,
    )
    history = History()
    callbacks = [*default_callbacks(config, history), *callbacks]
    members = getattr(network, "n_members", 1)
    eval_batch = max(config.batch_size, 1024)
    parameters = [p for p in network.parameters() if p.requires_grad]
    accelerator = Accelerator(device, config.mixed_precision, config.torch_compile)
    model = accelerator.model(network)
    if parallel is not None:
        dropout_generator = parallel.start(
            network,
            generator,
            dropout_generator,
            _fingerprint(batches, parameters, config, n_draw, members),
        )

    for callback in callbacks:
        callback.on_train_begin(state)
    try:
        for epoch in range(first_epoch, first_epoch + config.max_epochs):
            state.epoch = epoch
            state.train_loss = state.val_loss = math.nan
            for callback in callbacks:
                callback.on_epoch_begin(state)
            network.train()
            order = _draw(n_train, n_draw, generator).to(device)
            state.n_samples = order.numel()
            total = torch.zeros((), device=device)
            for positions in order.split(config.batch_size):
                if parallel is not None:
                    positions, share = parallel.shard(positions)
                    if not positions.numel():
                        _empty_share_step(
                            state, parallel, parameters, callbacks, accelerator
                        )
                        continue
                items = batches.train[positions]
                inputs, targets = batches.make(items)
                optimizer.zero_grad(set_to_none=True)
                if members > 1:
                    prediction, targets, loss = _member_step(
                        model, inputs, targets, loss_fn, dropout_generator, accelerator
                    )
                else:
                    with accelerator.autocast():
                        prediction = _forward(
                            model, inputs, generator=dropout_generator
                        )
                    prediction = prediction.float()
                    loss = loss_fn(prediction, targets)
                    accelerator.backward(loss)
                if parallel is not None:
                    parallel.reduce_gradients(parameters, share)
                if config.gradient_clip is not None:
                    accelerator.unscale(optimizer)
                    _clip(network, config.gradient_clip)
                accelerator.step(optimizer)
                total += loss.detach() * items.numel()
                for callback in callbacks:
                    callback.on_batch_end(
                        state, prediction, targets, loss, items.numel()
                    )
            # one read from the device per epoch: the loss and what the
            # callbacks ask for
            wanted = [callback.device_values(state) for callback in callbacks]
            values = torch.stack(
                [total / order.numel(), *(v for group in wanted for v in group)]
            )
            if parallel is not None:
                # sums (or shares of the epoch's totals), summed over processes
                values = parallel.sum(values)
            values = values.tolist()
            state.train_loss = values[0]
            at = 1
            for callback, group in zip(callbacks, wanted):
                callback.on_epoch_trained(state, values[at : at + len(group)])
                at += len(group)
            state.val_loss = (
                _evaluate(
                    model, batches, loss_fn, eval_batch, parallel, accelerator
                ).item()
                if state.has_validation
                else float("nan")
            )
            for callback in callbacks:
                callback.on_epoch_end(state)
            if state.stop:
                break
        state.completed = True
    except KeyboardInterrupt:
        state.completed = state.interrupted = True
        warnings.warn(
            f"Training was interrupted during epoch {state.epoch}; the estimator "
            "keeps "
            + (
                f"the best weights so far (epoch {state.best_epoch})."
                if state.best_weights is not None
                else "its current weights."
            ),
            UserWarning,
            stacklevel=3,
        )
    finally:
        network.eval()
        for callback in callbacks:
            callback.on_train_end(state)
    if parallel is not None and not state.interrupted:
        parallel.finish(network)
    return TrainingResult(
        history=history.frame(),
        n_epochs=len(history.rows),
        best_epoch=state.best_epoch,
        interrupted=state.interrupted,
    )
