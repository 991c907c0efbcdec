"""The declared fitted state of each estimator: what a model file holds.

An estimator class names its schema in ``_state_schema``; its ``_fitted_state``
returns a mapping with exactly the keys of that schema, and
``_restore_fitted_state`` sets a new estimator up from one. :func:`check_state`
refuses a state with unknown or missing keys, or a value of another kind, with
:class:`~gatedforecast.persistence.ModelFileError`: on saving (before anything is
written), on loading (after decoding), and for files of format version 1 once
their attributes are converted.

A schema is a mapping of key to kind: a record (a nested mapping), :class:`Maybe`
(the kind or ``None``), :class:`Optional` (a key that may be absent),
:class:`ListOf`, :class:`Added` (a key that files written before it lack:
:func:`with_added` gives them its default), or the name of a leaf kind in
:data:`LEAVES`. The keys are the file format: rename or remove one only with a
new format version, and a conversion from the old one.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sktime.forecasting.base import ForecastingHorizon

from ._model_archive import NUMERIC_KINDS, ModelFileError
from .networks import ForecastNetwork

__all__ = [
    "SCHEMAS",
    "Added",
    "ListOf",
    "Maybe",
    "Optional",
    "check_state",
    "with_added",
]


@dataclass(frozen=True)
class Maybe:
    """The kind, or ``None``."""

    kind: object


@dataclass(frozen=True)
class Added:
    """A key added to the format after files were written without it: of the
    kind ``kind``, and ``default`` (what those files were fitted with) where a
    file lacks it."""

    kind: object
    default: object = None


@dataclass(frozen=True)
class Optional:
    """A key that may be absent (a file written before the key existed, or a
    state without the feature it records), else of the kind."""

    kind: object


@dataclass(frozen=True)
class ListOf:
    """A list of values of one kind."""

    kind: object


def _is_label(value) -> bool:
    """A label of a pandas index: a series key's part or a time point."""
    if isinstance(value, tuple):
        return all(_is_label(v) for v in value)
    if isinstance(value, np.generic):
        return value.dtype.kind in NUMERIC_KINDS + "U"
    return value is None or isinstance(
        value, (bool, int, float, str, pd.Timestamp, pd.Period, pd.Timedelta)
    )


def _is_stored(value) -> bool:
    """A value of sktime's conversion store: a label, a list of them, an index."""
    if isinstance(value, list):
        return all(_is_label(v) for v in value)
    return isinstance(value, pd.Index) or _is_label(value)


#: the leaf kinds: a description for messages, and the test a value passes
LEAVES = {
    "int": (
        "an integer",
        lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    ),
    "float": (
        "a number",
        lambda v: isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)),
    ),
    "bool": ("a bool", lambda v: isinstance(v, (bool, np.bool_))),
    "str": ("a string", lambda v: isinstance(v, str)),
    "array": (
        "a numeric array",
        lambda v: isinstance(v, np.ndarray) and v.dtype.kind in NUMERIC_KINDS,
    ),
    "strings": (
        "an array of strings",
        lambda v: isinstance(v, np.ndarray) and v.dtype.kind in "OU",
    ),
    "tensor": ("a tensor", lambda v: isinstance(v, torch.Tensor)),
    "index": ("a pandas Index", lambda v: isinstance(v, pd.Index)),
    "frame": ("a DataFrame", lambda v: isinstance(v, pd.DataFrame)),
    "fh": ("a ForecastingHorizon", lambda v: isinstance(v, ForecastingHorizon)),
    "network": ("a network", lambda v: type(v) is ForecastNetwork),
    "freq": ("a frequency", lambda v: isinstance(v, pd.offsets.BaseOffset)),
    "label": ("an index label or a tuple of them", _is_label),
    "store": (
        "a mapping of names to labels or indexes",
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and _is_stored(x) for k, x in v.items())
        ),
    ),
}

# ---------------------------------------------------------------------- schemas
#: the series scaler: the method and one location and scale per series and channel
SCALER = {"method": Maybe("str"), "loc": "array", "scale": "array"}

#: how a forecaster's network reads series, fixed when it is first trained
SETUP = {
    "window_length": "int",
    "horizon": "int",
    "transform": {
        "normalize": "bool",
        "baseline": Maybe("str"),
        "seasonal_period": Maybe("int"),
        "horizon": "int",
        "n_targets": Maybe("int"),
        # written only for a network with mask channels (missing targets)
        "masked": Optional("bool"),
    },
    "scaler_method": Maybe("str"),
    "columns": "index",
    "x_columns": Maybe("index"),
    "levels": Maybe(ListOf("float")),
    # the covariates known only up to the cutoff, the last of x_columns
    "past_columns": Added(Maybe("index"), None),
    # static covariates (written only when there are some): their columns,
    # numeric ones first, the numeric ones' fit-time location and scale, and
    # the levels of each category
    "static": Optional(
        {
            "columns": "index",
            "n_numeric": "int",
            "loc": "array",
            "scale": "array",
            "levels": ListOf("index"),
        }
    ),
    # a likelihood head's name, written only for one
    "distribution": Optional("str"),
    # category columns read through time (written only when there are some):
    # their labels in X and the levels each is expanded into
    "categories": Optional({"columns": "index", "levels": ListOf("index")}),
}

FORECASTER = {
    # the network, the device it was trained on, and how it reads series
    "network": "network",
    "device": "str",
    "setup": SETUP,
    "scaler": SCALER,
    # the last window_length + horizon - 1 scaled values of each series
    "tails": "array",
    # calibration: typical window spreads (scaler="window") and scaled residuals
    "typical_spread": Maybe("array"),
    "residuals": Maybe("array"),
    # a likelihood head's calibrated scale factors (files written before them
    # read the scales as trained)
    "scale_factors": Added(Maybe("array"), None),
    # the shuffling generator's state, so that update trains on as fit would
    "rng_state": "tensor",
    "history": "frame",
    "n_epochs": "int",
    "best_epoch": "int",
    # epochs of the first training when fit trained twice (calibration, then all)
    "calibration_epochs": Maybe("int"),
    # the series of the last fit: their keys in a panel (None for one series),
    # the last time point of each, the names of y's index levels, the columns of
    # y and X (a pretrained network's setup keeps those it was pretrained on),
    # the frequency of the time points
    "series": {
        "keys": ListOf("label"),
        "last": ListOf("label"),
        "index_names": ListOf("label"),
        "columns": "index",
        "x_columns": Maybe("index"),
        "time_freq": Maybe("freq"),
    },
    # what sktime's predict, update and predict_interval read after fit
    "sktime": {
        "cutoff": "index",
        "fh": Maybe("fh"),
        "mtype": "str",
        "scitype": "str",
        "n_features": "int",
        "feature_names": ListOf("label"),
        "converter_store": "store",
    },
    # what pretrain left, for later fits to start from
    "pretrained": Maybe({"network": "network", "setup": SETUP, "history": "frame"}),
}

REGRESSOR = {
    "network": "network",
    "device": "str",
    "scaler": SCALER,
    "n_outputs": "int",
    # (n_steps, n_features) of a sequence, and the dimensions of X and y in fit
    "sequence_shape": ListOf("int"),
    "input_ndim": "int",
    "y_ndim": "int",
    "rng_state": "tensor",
    "history": "frame",
    "n_epochs": "int",
    "best_epoch": "int",
    # scikit-learn's record of the input: n_features_in_, feature_names_in_
    "n_features_in": "int",
    "feature_names_in": Maybe("strings"),
}

#: the schema each estimator names in its ``_state_schema``
SCHEMAS = {"forecaster": FORECASTER, "regressor": REGRESSOR}


def check_state(schema, value, where: str = "state") -> None:
    """Refuse ``value`` unless it has exactly the keys and kinds of ``schema``."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise ModelFileError(f"{where} is not a mapping: {value!r:.80}")
        unknown = sorted(map(str, set(value) - set(schema)))
        missing = sorted(
            k for k in set(schema) - set(value) if not isinstance(schema[k], Optional)
        )
        if unknown or missing:
            raise ModelFileError(
                f"{where} has unknown keys {unknown!s:.200} or lacks {missing}; "
                f"the declared keys are {list(schema)}"
            )
        for key, kind in schema.items():
            if isinstance(kind, Optional):
                if key in value:
                    check_state(kind.kind, value[key], f"{where}[{key!r}]")
                continue
            check_state(kind, value[key], f"{where}[{key!r}]")
    elif isinstance(schema, Added):
        check_state(schema.kind, value, where)
    elif isinstance(schema, Maybe):
        if value is not None:
            check_state(schema.kind, value, where)
    elif isinstance(schema, ListOf):
        if not isinstance(value, list):
            raise ModelFileError(f"{where} is not a list: {value!r:.80}")
        for i, item in enumerate(value):
            check_state(schema.kind, item, f"{where}[{i}]")
    else:
        description, test = LEAVES[schema]
        if not test(value):
            raise ModelFileError(
                f"{where} is not {description}: got a {type(value).__name__} "
                f"{value!r:.80}"
            )


def with_added(schema, value):
    """``value`` with the default of every :class:`Added` key of ``schema`` that
    it lacks (a file written before the key was added); other values as they are."""
    if isinstance(schema, Maybe):
        return value if value is None else with_added(schema.kind, value)
    if not isinstance(schema, dict) or not isinstance(value, dict):
        return value
    filled = {}
    for key, item in value.items():
        kind = schema.get(key)
        filled[key] = item if kind is None else with_added(kind, item)
    for key, kind in schema.items():
        if isinstance(kind, Added) and key not in value:
            filled[key] = kind.default
    return filled
