"""Training entries of both faces, on numpy arrays.

One job: turn scaled arrays into batches for :func:`gatedforecast.training.train_network`
and run it with an estimator's settings. :func:`train_on_series` trains a
forecaster's network on every window of a list of scaled series
``(n_t, n_channels)`` (targets first, then covariates: future-known, then
past-only); :func:`train_on_samples`
trains a regressor's network on sequences ``(n, n_steps, n_features)`` and targets
``(n, n_outputs)``. Both share the float32 range check, the validation rule
(:func:`gatedforecast.windows.validation_count`), the run configuration
(:func:`run_training`) and the rollback of a failed fit (:func:`rollback_on_failure`).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
import torch

from ..distributions import DistributionNetwork, NLLLoss, distribution_head
from ..missing import usable_windows
from ..scaling import check_float32_range
from ..training import Batches, MaskedLoss, PinballLoss, TrainingResult, train_network
from ..windows import WindowIndex, gather_windows, validation_count
from .effect import WithCovariateEffect, has_effect
from .setup import _Setup, divergence_hint

__all__ = [
    "rollback_on_failure",
    "run_training",
    "train_on_samples",
    "train_on_series",
    "training_count",
]

#: how the regressors' message about values beyond float32 ends
REGRESSOR_X_FIX = "Standardise X, for example with a StandardScaler in a Pipeline."


@contextmanager
def rollback_on_failure(estimator):
    """Leave ``estimator`` as it was when the block raises.

    Its attributes are put back as they were on entry; so the fitted state must
    be replaced, not changed in place, inside the block (train a copy of the
    network, then assign it).
    """
    before = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(before)
        raise


def run_training(
    network,
    batches: Batches,
    settings,
    rngs: tuple[torch.Generator, torch.Generator],
    first_epoch: int = 1,
    epochs: int | None = None,
    description: str | None = None,
    hint: str | None = None,
    loss=None,
) -> TrainingResult:
    """Train ``network`` in place with the training configuration of ``settings``,
    changed only where given: ``epochs``, the progress bar's ``description``, the
    divergence ``hint`` and the ``loss``."""
    config = copy.copy(settings.config)
    if epochs is not None:
        config.max_epochs = epochs
    if description is not None:
        config.description = description
    if hint is not None:
        config.divergence_hint = hint
    if loss is not None:
        config.loss = loss
    return train_network(network, batches, config, *rngs, first_epoch)


def train_on_series(
    network,
    scaled: list[np.ndarray],
    setup: _Setup,
    settings,
    rngs: tuple[torch.Generator, torch.Generator],
    epochs: int,
    first_epoch: int = 1,
    description: str | None = None,
) -> TrainingResult:
    """Train ``network`` on every window of the scaled series in ``scaled``;
    ``description`` names the run in the progress bar.

    The series are stored end to end in one float32 buffer on the device and
    windows are gathered from it by start position, batch by batch. The last
    windows of each series validate (``settings.validation_size``); continued
    training (``first_epoch > 1``) on too few windows for that trains on all.
    """
    device = settings.device
    window, head, transform = setup.window_length, setup.horizon, setup.transform
    index = WindowIndex.build([len(s) for s in scaled], window, head)
    train, val = index.split_validation(settings.validation_size)
    if train.size == 0 and first_epoch > 1:
        # continued training on a few new windows validates only when it can
        train, val = index.split_validation(None)
    if train.size == 0:
        raise ValueError(
            f"validation_size={settings.validation_size!r} leaves no training "
            f"window out of {len(index)}: use a smaller validation_size, a "
            "shorter window_length, or a longer series."
        )
    values = np.concatenate(scaled)
    if setup.masked:
        train, val = (
            s[usable_windows(values, s, window, head, transform.n_targets)]
            for s in (train, val)
        )
        if train.size == 0:
            raise ValueError(
                "No training window has an observed value of every target in its "
                f"input and an observed target after it (window_length={window}, "
                f"a head of {head} step(s)): y is missing too many values. Pass "
                "series with more observed values, or a longer window_length."
            )
    check_float32_range(
        values,
        "y" if setup.x_columns is None else "y or X",
        "Use scaler='window' or 'standard', which standardise each series, or "
        "divide the data by a large constant.",
    )
    buffer = torch.as_tensor(values, dtype=torch.float32, device=device)
    span = window + head
    n_targets = transform.n_targets
    effect = has_effect(network)
    # past-only covariates are read in the window only, never at forecast steps
    known = setup.future_channels

    head = distribution_head(setup.distribution)

    def make(starts):
        values = gather_windows(buffer, starts, span)
        inputs, context = transform.inputs(values[:, :window])
        if head is not None:
            # a likelihood scores the true values in the series' scaled units
            targets = values[:, window:, :n_targets]
            if network.n_future:
                return (inputs, values[:, window:, known], context), targets
            return (inputs, context), targets
        targets = transform.targets(values[:, window:, :n_targets], context)
        if effect:
            return (inputs, values[:, window:, known], context), targets
        if network.n_future:
            return (inputs, values[:, window:, known]), targets
        return inputs, targets

    batches = Batches(
        make=make,
        train=torch.as_tensor(train, device=device),
        validation=torch.as_tensor(val, device=device),
    )
    module = WithCovariateEffect(network, transform) if effect else network
    if head is not None:
        module = DistributionNetwork(module, head, with_context=effect)
    return run_training(
        # the covariate effect adds to the output in the series' units
        module,
        batches,
        settings,
        rngs,
        first_epoch,
        epochs=epochs,
        description=description,
        hint=divergence_hint(setup),
        loss=training_loss(setup, settings),
    )


def training_loss(setup: _Setup, settings):
    """The loss a forecaster's network trains with: the pinball loss of a
    quantile head, the negative log-likelihood of a likelihood head, else the
    configured one; over the observed targets only when targets may be missing
    (:class:`~gatedforecast.training.MaskedLoss`).
    None: the configured loss as it is."""
    loss = None if setup.levels is None else PinballLoss(setup.levels)
    if setup.distribution is not None:
        loss = NLLLoss(distribution_head(setup.distribution))
    if setup.masked:
        return MaskedLoss(settings.config.loss if loss is None else loss)
    return loss


def training_count(n_samples: int, validation_size) -> int:
    """Samples left for training when the last ones in order validate."""
    n_validation = validation_count(validation_size, n_samples)
    if n_samples - n_validation < 1:
        raise ValueError(
            f"validation_size={validation_size!r} leaves no training sample out of "
            f"{n_samples}: use a smaller validation_size or more samples."
        )
    return n_samples - n_validation


def train_on_samples(
    network,
    sequences: np.ndarray,
    targets: np.ndarray,
    settings,
    rngs: tuple[torch.Generator, torch.Generator],
    first_epoch: int = 1,
) -> TrainingResult:
    """Train ``network`` in place on ``sequences`` and scaled ``targets``; the
    last samples, as ``settings.validation_size`` says, validate."""
    n_train = training_count(len(sequences), settings.validation_size)
    device = settings.device
    check_float32_range(sequences, "X", REGRESSOR_X_FIX)
    check_float32_range(
        targets, "y", "Keep scale_target=True, or divide y by a large constant."
    )
    # torch.tensor copies, so the user's arrays are never shared or written
    inputs = torch.tensor(sequences, dtype=torch.float32, device=device)
    outputs = torch.tensor(targets, dtype=torch.float32, device=device)
    outputs = outputs.unsqueeze(1)
    ids = torch.arange(len(sequences), device=device)

    def make(items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs[items], outputs[items]

    batches = Batches(make=make, train=ids[:n_train], validation=ids[n_train:])
    return run_training(
        network,
        batches,
        settings,
        rngs,
        first_epoch,
        hint="keep scale_target=True and standardise X, for example with a "
        "StandardScaler in a Pipeline.",
    )
