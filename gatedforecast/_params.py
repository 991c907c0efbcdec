"""Validation of the parameters shared by the forecasters and the regressors.

Each check names the parameter, the value it got and what it accepts, so a bad
setting fails in ``fit`` with a message that says how to fix it, before torch sees it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .devices import resolve_device
from .networks import CELLS
from .training import LOSSES, LR_SCHEDULES, OPTIMIZERS, TrainingConfig


def _choices(choices) -> str:
    return ", ".join(repr(c) for c in choices)


def check_choice(name: str, value, choices):
    """``value`` must be one of ``choices`` (compared with ==, strings or None)."""
    if not (value is None or isinstance(value, str)) or value not in choices:
        raise ValueError(
            f"{name}={value!r} is not valid; choose one of {_choices(choices)}."
        )
    return value


def check_int(
    name: str,
    value,
    minimum: int = 1,
    allow_none: bool = False,
    allow_auto: bool = False,
):
    """An integer ``>= minimum`` (bools are refused), or None or ``"auto"`` when
    allowed."""
    if value is None and allow_none:
        return None
    if allow_auto and isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        others = [
            *(['"auto"'] if allow_auto else []),
            *(["None"] if allow_none else []),
        ]
        extra = "".join(f", {o}" for o in others[:-1])
        extra += f" or {others[-1]}" if others else ""
        raise TypeError(
            f"{name} must be an int >= {minimum}{extra}, got {value!r} "
            f"({type(value).__name__})."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.")
    return int(value)


def check_float(
    name: str,
    value,
    low: float,
    high: float | None = None,
    low_inclusive: bool = False,
    high_inclusive: bool = False,
    allow_none: bool = False,
):
    """A real number in the given interval, or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {value!r} ({type(value).__name__})."
        )
    value = float(value)
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    bounds = f"{left}{low:g}, {'inf' if high is None else f'{high:g}'}{right}"
    ok_low = value >= low if low_inclusive else value > low
    ok_high = high is None or (value <= high if high_inclusive else value < high)
    if not (np.isfinite(value) and ok_low and ok_high):
        raise ValueError(f"{name} must be in {bounds}, got {value!r}.")
    return value


def check_hidden_sizes(value) -> tuple[int, ...]:
    """An int (one layer) or a non-empty tuple/list of positive ints, one per layer."""
    sizes = (value,) if isinstance(value, numbers.Integral) else value
    if isinstance(value, bool) or not isinstance(sizes, (tuple, list)) or not sizes:
        raise TypeError(
            "hidden_sizes must be a positive int or a non-empty tuple of positive "
            f"ints, one per layer such as (128, 64); got {value!r}."
        )
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                "hidden_sizes must hold positive ints, one per layer such as "
                f"(128, 64); got {value!r}."
            )
    return tuple(int(s) for s in sizes)


def _check_component(
    name: str, value, names, base: type, base_name: str, call_form: str
):
    """A name from ``names``, a subclass of ``base``, or a callable instance."""
    if isinstance(value, str):
        return check_choice(name, value, tuple(names))
    if isinstance(value, type) and issubclass(value, base):
        return value
    if callable(value) and not isinstance(value, type):
        return value
    raise TypeError(
        f"{name} must be one of {_choices(names)}, a {base_name} subclass, or a "
        f"{call_form}; got {value!r}."
    )


def check_optimizer(value):
    """A name from OPTIMIZERS, a torch Optimizer subclass, or a callable."""
    return _check_component(
        "optimizer",
        value,
        OPTIMIZERS,
        torch.optim.Optimizer,
        "torch.optim.Optimizer",
        "callable(params, lr=...) returning one",
    )


def check_loss(value):
    """A name from LOSSES, an ``nn.Module`` subclass, or a callable(pred, target)."""
    return _check_component(
        "loss",
        value,
        LOSSES,
        torch.nn.Module,
        "torch.nn.Module",
        "callable(prediction, target) returning a scalar tensor",
    )


def seed_from(random_state) -> int:
    """An int seed for local generators; None draws fresh entropy."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int64).max))
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            "random_state must be None, an int, or a numpy RandomState/Generator; "
            f"got {random_state!r}."
        )
    if random_state < 0:
        raise ValueError(
            f"random_state must be a non-negative int, got {random_state}."
        )
    return int(random_state)


@dataclass
class CoreSettings:
    """Validated network and training settings of an estimator."""

    hidden_sizes: tuple[int, ...]
    cell: str
    dropout: float
    bidirectional: bool
    config: TrainingConfig
    validation_size: int | float | None
    device: torch.device
    seed: int


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_validation_size(value):
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return check_int("validation_size", value, minimum=1)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_float("validation_size", value, 0.0, 1.0)
    raise TypeError(
        "validation_size must be None, a float in (0, 1) (a fraction of the windows) "
        f"or an int >= 1 (a number of windows); got {value!r}."
    )


def core_settings(est, cell: str) -> CoreSettings:
    """Validate the parameters every estimator of the package shares."""
    if cell not in CELLS:
        raise ValueError(
            f"cell={cell!r} is not valid; choose one of {_choices(CELLS)}."
        )
    config = TrainingConfig(
        optimizer=check_optimizer(est.optimizer),
        loss=check_loss(est.loss),
        learning_rate=check_float("learning_rate", est.learning_rate, 0.0),
        batch_size=check_int("batch_size", est.batch_size),
        max_epochs=check_int("max_epochs", est.max_epochs),
        steps_per_epoch=(
            "auto"
            if est.steps_per_epoch == "auto"
            else check_int("steps_per_epoch", est.steps_per_epoch, allow_none=True)
        ),
        gradient_clip=check_float(
            "gradient_clip", est.gradient_clip, 0.0, allow_none=True
        ),
        patience=check_int("patience", est.patience, allow_none=True),
        min_delta=check_float("min_delta", est.min_delta, 0.0, low_inclusive=True),
        restore_best_weights=check_bool(
            "restore_best_weights", est.restore_best_weights
        ),
        lr_schedule=check_choice("lr_schedule", est.lr_schedule, LR_SCHEDULES),
        verbose=check_int("verbose", est.verbose, minimum=0),
        n_threads=check_int("n_threads", est.n_threads, allow_none=True),
    )
    return CoreSettings(
        hidden_sizes=check_hidden_sizes(est.hidden_sizes),
        cell=cell,
        dropout=check_float("dropout", est.dropout, 0.0, 1.0, low_inclusive=True),
        bidirectional=check_bool("bidirectional", est.bidirectional),
        config=config,
        validation_size=check_validation_size(est.validation_size),
        device=resolve_device(est.device),
        seed=seed_from(est.random_state),
    )


def generators(seed: int, device: torch.device):
    """A CPU generator (init, shuffling) and one on ``device`` (dropout masks)."""
    cpu = torch.Generator().manual_seed(seed)
    on_device = cpu if device.type == "cpu" else torch.Generator(device=device)
    if on_device is not cpu:
        on_device.manual_seed(seed + 1)
    return cpu, on_device
