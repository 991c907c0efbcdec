"""The training loop's cross-cutting concerns as small callbacks.

:func:`gatedforecast.training.train_network` runs the epochs and batches; what
happens around them is a list of :class:`Callback` objects, assembled from the
:class:`~gatedforecast.training.TrainingConfig` by :func:`default_callbacks`:

* :class:`DivergenceCheck`: stop with :class:`TrainingDivergedError` when the loss
  is not finite, the error explodes or the weights stop being finite;
* :class:`LRSchedule`: step the learning-rate schedule;
* :class:`History`: one row per epoch;
* :class:`ProgressBar`: the tqdm bar of ``verbose=1``;
* :class:`EarlyStopping`: keep the best weights, stop after ``patience`` epochs
  without improvement, restore the best weights at the end.

Each hook receives the :class:`TrainingState`, which the loop and the callbacks
share. The hooks run in this order::

    on_train_begin
    for each epoch:
        on_epoch_begin
        for each batch (after the optimizer's step): on_batch_end
        device_values  (read from the device once, with the training loss)
        on_epoch_trained  (before validation)
        on_epoch_end      (after validation; state.stop ends the training)
    on_train_end  (also when the training fails or is interrupted)
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

__all__ = [
    "Callback",
    "TrainingState",
    "TrainingDivergedError",
    "DivergenceCheck",
    "LRSchedule",
    "History",
    "ProgressBar",
    "EarlyStopping",
    "default_callbacks",
]

HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "learning_rate", "seconds"]
#: an epoch whose mean absolute error exceeds this many times both the error the
#: run started from and the error of zero outputs (no correction of the baseline,
#: the mean of a scaled target) has diverged, even when its loss stays finite
DIVERGENCE_FACTOR = 1e3


class TrainingDivergedError(ValueError):
    """The training diverged: its loss became NaN or infinite, its error grew a
    thousandfold (:data:`DIVERGENCE_FACTOR`) beyond where it started and beyond
    the error of zero outputs, or the weights stopped being finite."""


@dataclass
class TrainingState:
    """What the training loop and its callbacks share during one run."""

    network: torch.nn.Module
    #: where the network and the samples are
    device: torch.device
    optimizer: torch.optim.Optimizer
    config: object
    #: mini-batches per epoch
    steps_per_epoch: int
    has_validation: bool
    first_epoch: int
    #: the epoch under way, numbered from ``first_epoch``
    epoch: int = 0
    #: samples drawn in the epoch under way
    n_samples: int = 0
    train_loss: float = math.nan
    val_loss: float = math.nan
    #: the best epoch so far, and its weights when they are kept
    best_epoch: int = 0
    best_weights: dict | None = None
    #: set by a callback to end the training after this epoch
    stop: bool = False
    #: the training ran to its end or was interrupted (not failed)
    completed: bool = False
    interrupted: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def monitored(self) -> float:
        """The loss early stopping and the plateau schedule watch: the validation
        loss when there is a validation set, else the training loss."""
        return self.val_loss if self.has_validation else self.train_loss


class Callback:
    """A hook into :func:`~gatedforecast.training.train_network`; every method
    does nothing unless overridden."""

    def on_train_begin(self, state: TrainingState) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, state: TrainingState) -> None:
        """Before the epoch's first batch."""

    def on_batch_end(
        self,
        state: TrainingState,
        prediction: torch.Tensor,
        targets: torch.Tensor,
        loss: torch.Tensor,
        n_items: int,
    ) -> None:
        """After the optimizer's step on one batch. Keep values on the device
        (return them from :meth:`device_values`): reading them here would make
        the loop wait on the device at every batch. In data-parallel training
        the batch is this process's share (``n_items`` may then be 0, with
        empty tensors)."""

    def device_values(self, state: TrainingState) -> list[torch.Tensor]:
        """Scalar tensors to read from the device at the end of the epoch,
        together with the training loss; :meth:`on_epoch_trained` gets them as
        floats. In data-parallel training (:mod:`gatedforecast.distributed`)
        each value is summed over the processes first, so return sums, or
        shares of the epoch's totals (divided by ``state.n_samples``, the
        windows of all processes)."""
        return []

    def on_epoch_trained(self, state: TrainingState, values: list[float]) -> None:
        """After the epoch's batches, before validation: ``state.train_loss``
        is known; ``values`` are this callback's :meth:`device_values`."""

    def on_epoch_end(self, state: TrainingState) -> None:
        """After validation: ``state.val_loss`` is known (NaN without a
        validation set). Set ``state.stop`` to end the training."""

    def on_train_end(self, state: TrainingState) -> None:
        """After the last epoch, also when the training failed
        (``state.completed`` is False then) or was interrupted."""


def _absolute_errors(prediction, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean absolute error of ``prediction`` and of zero outputs on ``targets``;
    a quantile head's extra last axis of levels is compared with the targets.
    Missing (NaN) targets are left out."""
    if prediction.dim() == targets.dim() + 1:
        targets = targets.unsqueeze(-1)
    return (prediction - targets).abs().nanmean(), targets.abs().nanmean()


def _diverged(what: str, epoch: int, config) -> TrainingDivergedError:
    """The error for a run that diverged at ``epoch``: what happened, then the fix."""
    return TrainingDivergedError(
        f"The training diverged at epoch {epoch}: {what}. Lower the learning_rate "
        f"(now {config.learning_rate:g}), keep gradient_clip on, "
        f"{config.divergence_hint}"
    )


class DivergenceCheck(Callback):
    """Raise :class:`TrainingDivergedError` for a loss that is not finite, an
    error that exploded while the loss stayed finite, or weights that are no
    longer finite.

    The error is the mean absolute error of the outputs, whatever the loss, so
    the check never calls a custom loss beyond training. An epoch has exploded
    when its error exceeds :data:`DIVERGENCE_FACTOR` times both the error of the
    first batch before any step and the epoch's error of zero outputs.
    """

    def on_train_begin(self, state):
        self.start = None

    def on_epoch_begin(self, state):
        device = state.device
        # absolute errors of the outputs, and of zero outputs on the same
        # samples: what a diverged network is compared with
        self.error = torch.zeros((), device=device)
        self.resting = torch.zeros((), device=device)

    def on_batch_end(self, state, prediction, targets, loss, n_items):
        if not n_items:
            # an empty share of a data-parallel batch
            if self.start is None:
                self.start = self.start_items = torch.zeros((), device=state.device)
            return
        with torch.no_grad():
            errors = _absolute_errors(prediction.detach(), targets)
            self.error += errors[0] * n_items
            self.resting += errors[1] * n_items
            if self.start is None:
                # the first batch's error, as a sum (summed over processes in
                # data-parallel training) and its number of windows
                self.start = errors[0] * n_items
                self.start_items = torch.full_like(self.start, n_items)

    def device_values(self, state):
        finite = torch.stack(
            [torch.isfinite(p).all() for p in state.network.parameters()]
        )
        return [
            self.error / state.n_samples,
            self.resting / state.n_samples,
            self.start,
            self.start_items,
            (~finite.all()).to(self.error.dtype),
        ]

    def on_epoch_trained(self, state, values):
        error, resting, start, start_items, not_finite = values
        start = start / start_items
        loss, epoch, config = state.train_loss, state.epoch, state.config
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
        if not_finite:
            raise _diverged("the network's weights stopped being finite", epoch, config)


class LRSchedule(Callback):
    """Step the learning-rate schedule ``name``: ``"onecycle"`` after every
    batch, ``"cosine"`` after every epoch, ``"plateau"`` after every epoch on
    the monitored loss (halving the rate after ``max(1, patience // 2)`` epochs
    without improvement, ``patience`` 10 when not set)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_train_begin(self, state):
        config, optimizer = state.config, state.optimizer
        schedulers = torch.optim.lr_scheduler
        if self.name == "plateau":
            patience = max(1, (config.patience or 10) // 2)
            self.schedule = schedulers.ReduceLROnPlateau(
                optimizer, factor=0.5, patience=patience
            )
        elif self.name == "cosine":
            self.schedule = schedulers.CosineAnnealingLR(
                optimizer, T_max=max(1, config.max_epochs)
            )
        else:
            self.schedule = schedulers.OneCycleLR(
                optimizer,
                max_lr=config.learning_rate,
                total_steps=max(1, config.max_epochs * state.steps_per_epoch),
            )

    def on_batch_end(self, state, prediction, targets, loss, n_items):
        if self.name == "onecycle":
            self.schedule.step()

    def on_epoch_end(self, state):
        if self.name == "plateau":
            self.schedule.step(state.monitored)
        elif self.name == "cosine":
            self.schedule.step()


class History(Callback):
    """One row per epoch: its number, training and validation losses, the
    learning rate it started with and its seconds."""

    def on_train_begin(self, state):
        self.rows = []

    def on_epoch_begin(self, state):
        self.started = time.perf_counter()
        self.learning_rate = state.optimizer.param_groups[0]["lr"]

    def on_epoch_end(self, state):
        self.rows.append(
            (
                state.epoch,
                state.train_loss,
                state.val_loss,
                self.learning_rate,
                time.perf_counter() - self.started,
            )
        )

    def frame(self) -> pd.DataFrame:
        """The history as a data frame (columns :data:`HISTORY_COLUMNS`)."""
        if not self.rows:
            return empty_history()
        history = pd.DataFrame(self.rows, columns=HISTORY_COLUMNS)
        return history.astype({"epoch": np.int64})


def empty_history() -> pd.DataFrame:
    """A history with the columns of :class:`History` and no epoch."""
    return pd.DataFrame(
        {
            name: pd.Series(dtype=np.int64 if name == "epoch" else float)
            for name in HISTORY_COLUMNS
        }
    )


class ProgressBar(Callback):
    """A tqdm bar over the epochs, with the latest losses beside it."""

    def on_train_begin(self, state):
        from tqdm.auto import tqdm

        config = state.config
        self.bar = tqdm(
            total=config.max_epochs,
            initial=0,
            desc=config.description or f"training from epoch {state.first_epoch}",
            unit="epoch",
            leave=True,
        )

    def on_epoch_end(self, state):
        postfix = {"loss": f"{state.train_loss:.4g}"}
        if state.has_validation:
            postfix["val_loss"] = f"{state.val_loss:.4g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def on_train_end(self, state):
        self.bar.close()


class EarlyStopping(Callback):
    """Track the best epoch of the monitored loss; stop after ``patience``
    epochs without an improvement of more than ``min_delta`` (never, with
    ``patience=None``); keep the best weights and restore them at the end.

    The noisy training loss of a plain fixed-epoch run is no reason to go back
    to an earlier epoch: the weights are restored only when something was
    monitored to stop on (a validation set or a patience), or when an
    interruption left them mid-epoch.
    """

    def __init__(
        self,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, state):
        self.best_loss = math.inf
        self.waited = 0
        state.best_epoch = state.first_epoch - 1
        state.best_weights = None

    def on_epoch_end(self, state):
        if state.monitored < self.best_loss - self.min_delta:
            self.best_loss, state.best_epoch, self.waited = (
                state.monitored,
                state.epoch,
                0,
            )
            if self.restore_best_weights:
                state.best_weights = copy.deepcopy(state.network.state_dict())
        else:
            self.waited += 1
            if self.patience is not None and self.waited >= self.patience:
                state.stop = True

    def on_train_end(self, state):
        monitoring = state.has_validation or self.patience is not None
        if (
            state.completed
            and state.best_weights is not None
            and (monitoring or state.interrupted)
        ):
            state.network.load_state_dict(state.best_weights)


def default_callbacks(config, history: History | None = None) -> list[Callback]:
    """The callbacks a :class:`~gatedforecast.training.TrainingConfig` asks for,
    in the order their hooks run; ``history`` records the epochs (a new
    :class:`History` when not given)."""
    callbacks: list[Callback] = [DivergenceCheck()]
    if config.lr_schedule is not None:
        callbacks.append(LRSchedule(config.lr_schedule))
    callbacks.append(History() if history is None else history)
    if config.verbose:
        callbacks.append(ProgressBar())
    callbacks.append(
        EarlyStopping(config.patience, config.min_delta, config.restore_best_weights)
    )
    return callbacks
