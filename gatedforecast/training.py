"""The training loop shared by every estimator in the package.

One plain PyTorch loop: shuffled mini-batches, an optional temporal validation set,
early stopping with the best weights restored, gradient clipping, a learning-rate
schedule, a per-epoch history and an optional progress bar. Losses are accumulated
on the device and read once per epoch, so the loop never waits on the device inside
an epoch.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .devices import torch_threads

__all__ = [
    "OPTIMIZERS",
    "LOSSES",
    "PinballLoss",
    "LR_SCHEDULES",
    "Batches",
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
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "learning_rate", "seconds"]
#: an epoch whose mean absolute error exceeds this many times both the error the
#: run started from and the error of zero outputs (no correction of the baseline,
#: the mean of a scaled target) has diverged, even when its loss stays finite
DIVERGENCE_FACTOR = 1e3


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


class TrainingDivergedError(ValueError):
    """The training diverged: its loss became NaN or infinite, its error grew a
    thousandfold (:data:`DIVERGENCE_FACTOR`) beyond where it started and beyond
    the error of zero outputs, or the weights stopped being finite."""


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
    patience: int | None = None
    min_delta: float = 0.0
    restore_best_weights: bool = True
    lr_schedule: str | None = None
    verbose: int = 0
    n_threads: int | None = None
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


def empty_history() -> pd.DataFrame:
    """A history with the columns of :func:`train_network`'s and no epoch."""
    return pd.DataFrame(
        {
            name: pd.Series(dtype=np.int64 if name == "epoch" else float)
            for name in HISTORY_COLUMNS
        }
    )


def _make_schedule(name, optimizer, config, steps_per_epoch):
    if name is None:
        return None
    if name == "plateau":
        patience = max(1, (config.patience or 10) // 2)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=patience
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, config.max_epochs)
        )
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.learning_rate,
        total_steps=max(1, config.max_epochs * steps_per_epoch),
    )


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


def _evaluate(network, batches, loss_fn, batch_size) -> torch.Tensor:
    network.eval()
    total = torch.zeros((), device=batches.validation.device)
    with torch.no_grad():
        for items in batches.validation.split(batch_size):
            inputs, targets = batches.make(items)
            total += loss_fn(_forward(network, inputs), targets) * items.numel()
    return total / batches.validation.numel()


def _progress(config, first_epoch):
    if not config.verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=config.max_epochs,
        initial=0,
        desc=config.description or f"training from epoch {first_epoch}",
        unit="epoch",
        leave=True,
    )


def _absolute_errors(prediction, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean absolute error of ``prediction`` and of zero outputs on ``targets``;
    a quantile head's extra last axis of levels is compared with the targets."""
    if prediction.dim() == targets.dim() + 1:
        targets = targets.unsqueeze(-1)
    return (prediction - targets).abs().mean(), targets.abs().mean()


def _diverged(what: str, epoch: int, config) -> TrainingDivergedError:
    """The error for a run that diverged at ``epoch``: what happened, then the fix."""
    return TrainingDivergedError(
        f"The training diverged at epoch {epoch}: {what}. Lower the learning_rate "
        f"(now {config.learning_rate:g}), keep gradient_clip on, "
        f"{config.divergence_hint}"
    )


def _check_not_diverged(loss, error, resting, start, finite, epoch, config):
    """Raise :class:`TrainingDivergedError` for a loss that is not finite, an error
    that exploded while the loss stayed finite, or weights that are no longer
    finite.

    The error is the mean absolute error of the outputs, whatever the loss, so
    the check never calls a custom loss beyond training.
    """
    if not math.isfinite(loss):
        raise _diverged(f"the training loss became {loss}", epoch, config)
    if error > DIVERGENCE_FACTOR * max(resting, start):
        raise _diverged(
            f"the mean absolute error of its outputs grew to {error:.3g}, more "
            f"than {DIVERGENCE_FACTOR:g} times both the error it started from "
            f"({start:.3g}) and the error of zero outputs ({resting:.3g})",
            epoch,
            config,
        )
    if not finite:
        raise _diverged("the network's weights stopped being finite", epoch, config)


def train_network(
    network: nn.Module,
    batches: Batches,
    config: TrainingConfig,
    generator: torch.Generator,
    dropout_generator: torch.Generator | None = None,
    first_epoch: int = 1,
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
    network.to(batches.train.device)
    try:
        with torch_threads(config.n_threads):
            return _run_epochs(
                network, batches, config, generator, dropout_generator, first_epoch
            )
    finally:
        network.to("cpu")


def _run_epochs(network, batches, config, generator, dropout_generator, first_epoch):
    """The epoch loop of :func:`train_network`."""
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
    steps_per_epoch = math.ceil(n_draw / config.batch_size)
    schedule = _make_schedule(config.lr_schedule, optimizer, config, steps_per_epoch)
    has_validation = batches.validation.numel() > 0
    eval_batch = max(config.batch_size, 1024)

    rows = []
    best_loss, best_epoch, best_state = math.inf, first_epoch - 1, None
    waited = 0
    interrupted = False
    start_error = None
    bar = _progress(config, first_epoch)
    epoch = first_epoch - 1
    try:
        for epoch in range(first_epoch, first_epoch + config.max_epochs):
            started = time.perf_counter()
            learning_rate = optimizer.param_groups[0]["lr"]
            network.train()
            order = _draw(n_train, n_draw, generator).to(device)
            total = torch.zeros((), device=device)
            # absolute errors of the outputs, and of zero outputs on the same
            # samples: what a diverged network is compared with
            error = torch.zeros((), device=device)
            resting = torch.zeros((), device=device)
            for positions in order.split(config.batch_size):
                items = batches.train[positions]
                inputs, targets = batches.make(items)
                optimizer.zero_grad(set_to_none=True)
                prediction = _forward(network, inputs, generator=dropout_generator)
                loss = loss_fn(prediction, targets)
                loss.backward()
                if config.gradient_clip is not None:
                    nn.utils.clip_grad_norm_(network.parameters(), config.gradient_clip)
                optimizer.step()
                if config.lr_schedule == "onecycle":
                    schedule.step()
                total += loss.detach() * items.numel()
                with torch.no_grad():
                    errors = _absolute_errors(prediction.detach(), targets)
                    error += errors[0] * items.numel()
                    resting += errors[1] * items.numel()
                    if start_error is None:
                        start_error = errors[0]
            finite = torch.stack(
                [torch.isfinite(p).all() for p in network.parameters()]
            )
            # one read from the device per epoch
            train_loss, mean_error, resting_error, start, all_finite = torch.stack(
                [
                    total / order.numel(),
                    error / order.numel(),
                    resting / order.numel(),
                    start_error,
                    finite.all().to(total.dtype),
                ]
            ).tolist()
            _check_not_diverged(
                train_loss, mean_error, resting_error, start, all_finite, epoch, config
            )
            val_loss = (
                _evaluate(network, batches, loss_fn, eval_batch).item()
                if has_validation
                else float("nan")
            )
            monitored = val_loss if has_validation else train_loss
            if config.lr_schedule == "plateau":
                schedule.step(monitored)
            elif config.lr_schedule == "cosine":
                schedule.step()
            rows.append(
                (
                    epoch,
                    train_loss,
                    val_loss,
                    learning_rate,
                    time.perf_counter() - started,
                )
            )
            if bar is not None:
                postfix = {"loss": f"{train_loss:.4g}"}
                if has_validation:
                    postfix["val_loss"] = f"{val_loss:.4g}"
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)
            if monitored < best_loss - config.min_delta:
                best_loss, best_epoch, waited = monitored, epoch, 0
                if config.restore_best_weights:
                    best_state = copy.deepcopy(network.state_dict())
            else:
                waited += 1
                if config.patience is not None and waited >= config.patience:
                    break
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(
            f"Training was interrupted during epoch {epoch}; the estimator keeps "
            + (
                f"the best weights so far (epoch {best_epoch})."
                if best_state is not None
                else "its current weights."
            ),
            UserWarning,
            stacklevel=3,
        )
    finally:
        if bar is not None:
            bar.close()
        network.eval()
    # The noisy training loss of a plain fixed-epoch run is no reason to go back to
    # an earlier epoch: restore only when something was monitored to stop on, or
    # when an interruption left the weights mid-epoch.
    monitoring = has_validation or config.patience is not None
    if best_state is not None and (monitoring or interrupted):
        network.load_state_dict(best_state)
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS) if rows else empty_history()
    history = history.astype({"epoch": np.int64})
    return TrainingResult(
        history=history,
        n_epochs=len(rows),
        best_epoch=best_epoch,
        interrupted=interrupted,
    )
