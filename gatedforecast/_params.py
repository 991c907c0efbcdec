"""The public parameters of the forecasters and the regressors, each declared once.

:data:`PARAMETERS` lists every constructor parameter of :class:`GRUForecaster`,
:class:`LSTMForecaster`, :class:`GRURegressor` and :class:`LSTMRegressor` in
signature order: its kind of value, range, choices (read from the registry that
defines them, so a new scaler, loss or optimizer is accepted and documented as soon
as it is registered), whether None or ``"auto"`` is allowed, its default and the
estimators that take it. :data:`RULES` ties parameters together. From these come the
estimators' checks in ``fit`` (:func:`check_params`, :func:`core_settings`), the
``Parameters`` sections of their docstrings (:mod:`gatedforecast._docs`), the command
line's choices (:func:`choices`) and the bad-input tests.

A new parameter is one entry here (in signature order), its description in
``gatedforecast._docs.PARAMETER_TEXT`` and the argument in the estimators'
``__init__``; ``tests/test_docs.py`` checks that the three agree, and
``tests/test_bad_input.py`` tries bad values of it. A new choice is one entry in its
registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import (
    check_bool,
    check_choice,
    check_component,
    check_float,
    check_hidden_sizes,
    check_int,
    check_labels,
    check_levels,
    check_random_state,
    check_size,
)
from .accelerate import warn_off_cuda
from .devices import resolve_device
from .distributed import check_distributed, rank_device
from .networks import CELLS
from .training import TrainingConfig

FORECASTER = "forecaster"
REGRESSOR = "regressor"
BOTH = frozenset({FORECASTER, REGRESSOR})
ONLY_FORECASTER = frozenset({FORECASTER})
ONLY_REGRESSOR = frozenset({REGRESSOR})


@dataclass(frozen=True)
class Parameter:
    """One constructor parameter: what it accepts and where it appears.

    ``kind`` picks the check: ``"int"`` (``>= low``), ``"float"`` (in the interval
    from ``low`` to ``high``, ``closed`` saying which ends belong to it),
    ``"bool"``, ``"choice"`` (one of ``registry``), ``"component"`` (a name from
    ``registry``, a subclass of ``base`` or a callable), ``"sizes"`` (layer
    widths), ``"size"`` (a fraction or a count), ``"levels"`` (quantile levels),
    ``"labels"`` (column labels), ``"device"``, ``"seed"`` and ``"distributed"``
    (``"auto"`` or a bool). ``registry`` is ``"module:NAME"`` inside the
    package, read when needed. ``default`` is a value, or a mapping from family
    to value when the families differ.
    """

    name: str
    kind: str
    default: object
    families: frozenset = BOTH
    low: float | None = None
    high: float | None = None
    closed: str = "[)"
    none: bool = False
    auto: bool = False
    registry: str | None = None
    base: tuple | None = None
    type_doc: str | None = None

    def default_for(self, family: str):
        if isinstance(self.default, Mapping):
            return self.default[family]
        return self.default

    def choices(self) -> tuple | None:
        """The values a choice takes, ``"auto"`` first and None last when allowed;
        the names of a component's registry; None for other kinds."""
        if self.registry is None:
            return None
        registered = _registered(self.registry)
        names = [c for c in registered if c is not None]
        if self.kind == "component":
            return tuple(names)
        none = self.none or None in registered
        return (*(["auto"] if self.auto else []), *names, *([None] if none else []))

    def check(self, value):
        """``value`` checked, in the form the estimators use (ints, floats,
        tuples, a torch.device); raises TypeError/ValueError naming the fix."""
        if self.kind == "int":
            return check_int(self.name, value, self.low, self.none, self.auto)
        if self.kind == "float":
            low, high = self.closed[0] == "[", self.closed[1] == "]"
            return check_float(
                self.name, value, self.low, self.high, low, high, self.none
            )
        if self.kind == "choice":
            return check_choice(self.name, value, self.choices())
        if self.kind == "component":
            return check_component(self.name, value, self.choices(), *self.base)
        if self.none and value is None:
            return None
        return _KIND_CHECKS[self.kind](self.name, value)


def _registered(registry: str):
    """The registry ``"module:NAME"`` of the package, imported when first read
    (the registries' modules import this one)."""
    module, attribute = registry.split(":")
    return getattr(importlib.import_module(f"gatedforecast.{module}"), attribute)


#: the interval methods by name: classes whose flags the rules read
INTERVAL_REGISTRY = "engine.interval_methods:INTERVAL_METHODS"


def interval_flag(name: str | None, flag: str) -> bool:
    """The flag ``flag`` (``"quantile_head"``, ``"needs_dropout"``) of the
    interval method called ``name``; False for None or a name not registered."""
    method = _registered(INTERVAL_REGISTRY).get(name) if isinstance(name, str) else None
    return bool(getattr(method, flag, False))


def _check_device(name: str, value) -> torch.device:
    return resolve_device(value)


_KIND_CHECKS: dict[str, Callable] = {
    "bool": check_bool,
    "sizes": check_hidden_sizes,
    "size": check_size,
    "levels": check_levels,
    "labels": check_labels,
    "device": _check_device,
    "seed": check_random_state,
    "distributed": check_distributed,
}

_F, _R = ONLY_FORECASTER, ONLY_REGRESSOR

#: every public parameter, in the order of the signatures (each family's
#: parameters are a subsequence of this order)
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("window_length", "int", "auto", _F, low=1, none=True, auto=True),
    Parameter("hidden_sizes", "sizes", 64, type_doc="int or tuple of int"),
    Parameter("dropout", "float", 0.0, low=0.0, high=1.0, closed="[)"),
    Parameter("bidirectional", "bool", False),
    Parameter("attention", "bool", False),
    Parameter("ensemble_size", "int", "auto", low=1, auto=True),
    Parameter("n_features", "int", None, _R, low=1, none=True),
    Parameter("scale_target", "bool", True, _R),
    Parameter("strategy", "choice", "direct", _F, registry="forecasting:STRATEGIES"),
    Parameter("horizon", "int", None, _F, low=1, none=True),
    Parameter(
        "past_covariates", "labels", None, _F, none=True,
        type_doc="list of column labels or None",
    ),
    Parameter(
        "static_covariates", "labels", None, _F, none=True,
        type_doc="list of column labels or None",
    ),
    Parameter("scaler", "choice", "window", _F, none=True, registry="scaling:SCALER_REGISTRY"),
    Parameter(
        "baseline", "choice", "auto", _F, none=True, auto=True,
        registry="scaling:BASELINES",
    ),
    Parameter("seasonal_period", "int", "auto", _F, low=1, none=True, auto=True),
    Parameter(
        "loss", "component", {FORECASTER: "mae", REGRESSOR: "mse"},
        registry="training:LOSSES",
        base=(
            (torch.nn.Module, "torch.nn.Module"),
            "callable(prediction, target) returning a scalar tensor",
        ),
        type_doc="nn.Module subclass or callable",
    ),
    Parameter(
        "optimizer", "component", "adam", registry="training:OPTIMIZERS",
        base=(
            (torch.optim.Optimizer, "torch.optim.Optimizer"),
            "callable(params, lr=...) returning one",
        ),
        type_doc="Optimizer subclass or callable",
    ),
    Parameter("learning_rate", "float", 1e-3, low=0.0, closed="()"),
    Parameter("batch_size", "int", 32, low=1),
    Parameter("max_epochs", "int", 100, low=1),
    Parameter("steps_per_epoch", "int", "auto", low=1, none=True, auto=True),
    Parameter("gradient_clip", "float", 1.0, low=0.0, closed="()", none=True),
    Parameter("bptt_chunk", "int", None, low=1, none=True),
    Parameter("validation_size", "size", None, none=True, type_doc="int, float or None"),
    Parameter("patience", "int", None, low=1, none=True),
    Parameter("min_delta", "float", 0.0, low=0.0, closed="[)"),
    Parameter("restore_best_weights", "bool", True),
    Parameter("lr_schedule", "choice", None, none=True, registry="training:LR_SCHEDULES"),
    Parameter("warm_start", "bool", False, _R),
    Parameter("update_epochs", "int", None, _F, low=1, none=True),
    Parameter("global_model", "bool", True, _F),
    Parameter("fine_tune_epochs", "int", 0, _F, low=0),
    Parameter(
        "interval_method", "choice", "conformal", _F, none=True,
        registry=INTERVAL_REGISTRY,
    ),
    Parameter(
        "quantiles", "levels", None, _F, none=True, type_doc="tuple of float or None"
    ),
    Parameter(
        "distribution", "choice", None, _F, none=True,
        registry="distributions:DISTRIBUTIONS",
    ),
    Parameter("calibration_size", "int", "auto", _F, low=1, auto=True),
    Parameter("n_samples", "int", 100, _F, low=2),
    Parameter("device", "device", "auto", type_doc="str or torch.device"),
    Parameter("n_threads", "int", None, low=1, none=True),
    Parameter("distributed", "distributed", "auto", type_doc='"auto" or bool'),
    Parameter(
        "mixed_precision", "choice", None, none=True,
        registry="accelerate:MIXED_PRECISION",
    ),
    Parameter("torch_compile", "bool", False),
    Parameter(
        "random_state", "seed", None, none=True,
        type_doc="int, RandomState, Generator or None",
    ),
    Parameter("verbose", "int", 0, low=0),
)  # fmt: skip

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}


@dataclass(frozen=True)
class Rule:
    """A constraint between parameters: ``broken(values)`` on the checked values
    says that the combination is refused, with ``message`` (formatted with the
    values of ``names``: ``{interval_method!r}``). A rule applies to the
    estimators that take all its ``names``. With ``before``, the rule is tried just
    before that parameter's own check, on its value as given: a value the rule
    refuses outright is not worth checking in detail. ``example`` is a setting
    that breaks the rule (the tests try it)."""

    names: tuple[str, ...]
    broken: Callable[[Mapping], bool]
    message: str
    example: Mapping
    before: str | None = None

    def describe(self, values: Mapping) -> str:
        """The message for ``values``, which break the rule."""
        return self.message.format(**{name: values[name] for name in self.names})


RULES: tuple[Rule, ...] = (
    Rule(
        ("interval_method", "dropout"),
        lambda v: (
            interval_flag(v["interval_method"], "needs_dropout") and not v["dropout"]
        ),
        "interval_method={interval_method!r} samples dropout masks, so it needs "
        "dropout > 0 (for example dropout=0.1); or use interval_method='conformal'.",
        example={"interval_method": "mc_dropout", "dropout": 0.0},
    ),
    Rule(
        ("quantiles", "interval_method"),
        lambda v: (
            v["quantiles"] is not None
            and not interval_flag(v["interval_method"], "quantile_head")
        ),
        "quantiles sets the levels of a quantile head; set "
        "interval_method='quantile' to train one, or leave quantiles=None.",
        example={"interval_method": None, "quantiles": (0.1, 0.5, 0.9)},
        before="quantiles",
    ),
    Rule(
        ("distribution", "interval_method"),
        lambda v: (
            v["distribution"] is not None
            and (
                interval_flag(v["interval_method"], "quantile_head")
                or interval_flag(v["interval_method"], "needs_dropout")
            )
        ),
        "distribution={distribution!r} gives the prediction intervals itself, but "
        "interval_method={interval_method!r} asks for another kind; leave "
        "interval_method at 'conformal' (read as 'distribution' then), set "
        "'distribution' or None, or use distribution=None.",
        example={"distribution": "normal", "interval_method": "quantile"},
    ),
    Rule(
        ("interval_method", "distribution"),
        lambda v: (
            interval_flag(v["interval_method"], "reads_distribution")
            and v["distribution"] is None
        ),
        "interval_method={interval_method!r} reads the forecast distribution of a "
        "likelihood head; set distribution='normal', 'student_t' or "
        "'negative_binomial', or choose interval_method='conformal'.",
        example={"interval_method": "distribution", "distribution": None},
    ),
    Rule(
        ("bptt_chunk", "bidirectional"),
        lambda v: v["bptt_chunk"] is not None and v["bidirectional"],
        "bptt_chunk={bptt_chunk!r} reads windows forwards chunk by chunk, but a "
        "bidirectional network reads them backwards too; use bidirectional=False, "
        "or bptt_chunk=None.",
        example={"bptt_chunk": 16, "bidirectional": True},
    ),
    Rule(
        ("bptt_chunk", "ensemble_size"),
        lambda v: (
            v["bptt_chunk"] is not None
            and not isinstance(v["ensemble_size"], str)
            and v["ensemble_size"] != 1
        ),
        "bptt_chunk={bptt_chunk!r} trains one network chunk by chunk; an ensemble "
        "(ensemble_size={ensemble_size!r}) reads whole windows. Use ensemble_size=1 "
        "(or 'auto', which then trains one network), or bptt_chunk=None.",
        example={"bptt_chunk": 16, "ensemble_size": 3},
    ),
    Rule(
        ("baseline", "seasonal_period"),
        lambda v: v["baseline"] == "seasonal" and v["seasonal_period"] is None,
        "baseline='seasonal' needs seasonal_period, the season length in steps "
        "(for example 12 for monthly data).",
        example={"baseline": "seasonal", "seasonal_period": None},
    ),
)


def parameters(family: str) -> tuple[Parameter, ...]:
    """The parameters of ``family`` (``"forecaster"`` or ``"regressor"``), in
    signature order."""
    if family not in BOTH:
        raise ValueError(
            f"family={family!r} is not valid; choose one of {sorted(BOTH)}."
        )
    return tuple(p for p in PARAMETERS if family in p.families)


def rules(family: str) -> tuple[Rule, ...]:
    """The rules between the parameters of ``family``."""
    names = {p.name for p in parameters(family)}
    return tuple(rule for rule in RULES if set(rule.names) <= names)


def choices(name: str) -> tuple | None:
    """The values parameter ``name`` takes, for a command line's choices: the
    registered names, with ``"auto"`` first and None last where they are allowed;
    None for a parameter without a fixed set of values (numbers, devices)."""
    if name not in BY_NAME:
        raise ValueError(f"{name!r} is not a parameter of the estimators.")
    return BY_NAME[name].choices()


def check_value(name: str, value):
    """``value`` of parameter ``name`` checked against its declaration."""
    return BY_NAME[name].check(value)


def check_params(estimator, family: str) -> dict:
    """Check every parameter of ``family`` on ``estimator`` and the rules between
    them; return the checked values by name. The first bad value raises."""
    family_rules = rules(family)
    values = {}
    for param in parameters(family):
        value = getattr(estimator, param.name)
        for rule in family_rules:
            given = {**values, param.name: value}
            if rule.before == param.name and rule.broken(given):
                raise ValueError(rule.describe(given))
        values[param.name] = param.check(value)
    for rule in family_rules:
        if rule.before is None and rule.broken(values):
            raise ValueError(rule.describe(values))
    return values


def seed_from(random_state) -> int:
    """An int seed for local generators; None draws fresh entropy."""
    random_state = check_value("random_state", random_state)
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int64).max))
    return random_state


@dataclass
class CoreSettings:
    """Validated network and training settings of an estimator."""

    hidden_sizes: tuple[int, ...]
    cell: str
    dropout: float
    bidirectional: bool
    ensemble_size: int | str
    config: TrainingConfig
    validation_size: int | float | None
    device: torch.device
    seed: int


def core_settings(est, cell: str) -> CoreSettings:
    """The checked settings of the parameters every estimator of the package
    shares, with the seed drawn from ``random_state``."""
    check_choice("cell", cell, tuple(CELLS))

    def value(name: str):
        return check_value(name, getattr(est, name))

    config = TrainingConfig(
        **{
            name: value(name)
            for name in (
                "optimizer",
                "loss",
                "learning_rate",
                "batch_size",
                "max_epochs",
                "steps_per_epoch",
                "gradient_clip",
                "bptt_chunk",
                "patience",
                "min_delta",
                "restore_best_weights",
                "lr_schedule",
                "verbose",
                "n_threads",
                "distributed",
                "mixed_precision",
                "torch_compile",
            )
        }
    )
    device = rank_device(value("device"), config.distributed)
    warn_off_cuda(device, config.mixed_precision, config.torch_compile)
    return CoreSettings(
        hidden_sizes=value("hidden_sizes"),
        cell=cell,
        dropout=value("dropout"),
        bidirectional=value("bidirectional"),
        ensemble_size=_ensemble_size(value("ensemble_size"), config.bptt_chunk),
        config=config,
        validation_size=value("validation_size"),
        device=device,
        seed=seed_from(est.random_state),
    )


def _ensemble_size(value, bptt_chunk):
    """``ensemble_size``, with ``"auto"`` meaning one network when training goes
    chunk by chunk (``bptt_chunk``): ensembles read whole windows."""
    return 1 if value == "auto" and bptt_chunk is not None else value


def generators(seed: int, device: torch.device):
    """A CPU generator (init, shuffling) and one on ``device`` (dropout masks)."""
    cpu = torch.Generator().manual_seed(seed)
    on_device = cpu if device.type == "cpu" else torch.Generator(device=device)
    if on_device is not cpu:
        on_device.manual_seed(seed + 1)
    return cpu, on_device
