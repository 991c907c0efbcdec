"""Reading model files of format version 1 (gatedforecast 0.1), kept for loading.

A version 1 file stored every attribute of the fitted estimator (``vars()``),
sktime's internals included, with a few more encoded types than version 2 has:
dataclasses and objects named by class (the window settings, the scaler), enums,
mappings with non-string keys and pandas Series. They are read here into plain
values (:class:`V1Record` for the named classes, which are never built), and
:func:`state_from_v1` maps the attributes to the declared state of
:mod:`gatedforecast._model_state`, from which the estimator is restored as from a
version 2 file. Nothing here writes a file.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass

import pandas as pd

from ._model_archive import MODEL_JSON, ModelFileError
from ._model_values import KINDS, ValueDecoder

__all__ = ["V1Decoder", "decode_attributes", "state_from_v1"]

#: the classes version 1 files name, by the tag that holds them, and their fields
V1_CLASSES = {
    "dataclass": {
        "_Setup": (
            "window_length",
            "horizon",
            "transform",
            "scaler_method",
            "columns",
            "x_columns",
            "levels",
        ),
        "WindowTransform": (
            "normalize",
            "baseline",
            "seasonal_period",
            "horizon",
            "n_targets",
        ),
    },
    "object": {"SeriesScaler": ("method", "loc_", "scale_")},
    "enum": {"DtypeKind": ()},
}

#: sktime's attributes of a fitted forecaster in a version 1 file
_SKTIME = (
    "_fh",
    "_cutoff",
    "_converter_store_y",
    "_state",
    "_tags_dynamic",
    "_config_dynamic",
    "_y",
    "_X",
    "_y_metadata",
    "_y_mtype_last_seen",
    "_is_vectorized",
    "_pretrained_attrs",
)
#: the attributes a version 1 file may hold, per kind of estimator
V1_ATTRIBUTES = {
    "forecaster": {
        *_SKTIME,
        *("_time_freq", "network_", "device_", "window_length_", "horizon_"),
        *("seasonal_period_", "baseline_", "n_parameters_", "n_series_"),
        *("_columns", "_x_columns", "_index_names", "_keys", "_last_index"),
        *("_scaler", "_transform", "_setup", "_tails", "history_", "n_epochs_"),
        *("best_epoch_", "_rng_state", "_typical_spread", "_residuals"),
        *("_warnings_given", "pretrained_network_", "pretrained_setup_"),
        "pretrained_history_",
    },
    "regressor": {
        *("n_features_in_", "feature_names_in_", "history_", "n_epochs_"),
        *("best_epoch_", "network_", "device_", "n_outputs_", "n_parameters_"),
        *("_scaler", "_sequence_shape", "_input_ndim", "_y_ndim", "_rng_state"),
    },
}


@dataclass(frozen=True)
class V1Record:
    """A dataclass or object of a version 1 file: its class name and fields."""

    name: str
    fields: dict


def _fields(value, cls: str) -> dict:
    """The fields of ``value``, refused unless it is a record of class ``cls``."""
    if not isinstance(value, V1Record) or value.name != cls:
        raise ModelFileError(f"expected a {cls} in {MODEL_JSON}, got {value!r:.80}")
    return value.fields


def _valid_name(name) -> bool:
    return (
        isinstance(name, str)
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("__")
    )


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


class V1Decoder(ValueDecoder):
    """The value types of version 2, and those only version 1 files hold."""

    kinds = {
        **KINDS,
        "dict": ("items",),
        "enum": ("class", "value"),
        "series": ("index", "values", "dtype", "name"),
        "dataclass": ("class", "fields"),
        "object": ("class", "state"),
    }

    def _record(self, tag: str, name, fields) -> V1Record:
        known = V1_CLASSES[tag]
        if not isinstance(name, str) or name not in known:
            raise ModelFileError(f"class {name!r:.80} is not on the allow-list")
        if not isinstance(fields, dict):
            raise ModelFileError(
                f"the {'state' if tag == 'object' else 'fields'} of {name} in "
                f"{MODEL_JSON} is not a mapping: {fields!r:.80}"
            )
        unknown = sorted(map(str, set(fields) - set(known[name])))
        if unknown or not all(map(_valid_name, fields)):
            raise ModelFileError(f"{name} in {MODEL_JSON} has unknown keys {unknown}")
        return V1Record(name, {k: self.decode(x) for k, x in fields.items()})

    def _decode_dict(self, v):
        return {_hashable(self.decode(k)): self.decode(x) for k, x in v["items"]}

    def _decode_enum(self, v):
        self._record("enum", v["class"], {})
        if type(v["value"]) is not int:
            raise ModelFileError(f"invalid {v['class']} value {v['value']!r:.40}")
        return v["value"]

    def _decode_series(self, v):
        return pd.Series(
            self.decode(v["values"]),
            index=self._decode_index(v["index"]),
            name=self.decode(v["name"]),
        ).astype(v["dtype"])

    def _decode_dataclass(self, v):
        return self._record("dataclass", v["class"], v["fields"])

    def _decode_object(self, v):
        return self._record("object", v["class"], v["state"])


def decode_attributes(state: dict, decoder: V1Decoder, schema: str) -> dict:
    """The attributes stored in a version 1 document's ``state``; ``schema``
    names the kind of estimator (a key of :data:`V1_ATTRIBUTES`)."""
    known = V1_ATTRIBUTES[schema]
    for name in state:
        if not _valid_name(name) or name not in known:
            raise ModelFileError(
                f"{MODEL_JSON} names an invalid attribute {name!r:.80}"
            )
    return {name: decoder.decode(value) for name, value in state.items()}


def _setup(record) -> dict:
    fields = _fields(record, "_Setup")
    transform = _fields(fields["transform"], "WindowTransform")
    levels = fields.get("levels")
    return {
        "window_length": fields["window_length"],
        "horizon": fields["horizon"],
        "transform": {
            k: transform[k] for k in V1_CLASSES["dataclass"]["WindowTransform"]
        },
        "scaler_method": fields["scaler_method"],
        "columns": fields["columns"],
        "x_columns": fields["x_columns"],
        "levels": None if levels is None else list(levels),
    }


def _scaler(record) -> dict:
    fields = _fields(record, "SeriesScaler")
    return {
        "method": fields["method"],
        "loc": fields["loc_"],
        "scale": fields["scale_"],
    }


def _forecaster(a: dict) -> dict:
    if a["_state"] != "fitted" or a.get("_is_vectorized", False) is not False:
        raise ModelFileError(
            f"holds a forecaster in state {a['_state']!r:.40} (vectorised: "
            f"{a.get('_is_vectorized')!r:.10}), which save_model never wrote"
        )
    metadata = a["_y_metadata"]
    if not isinstance(metadata, dict):
        raise ModelFileError(f"_y_metadata is not a mapping: {metadata!r:.80}")
    pretrained = None
    if a.get("pretrained_network_") is not None:
        pretrained = {
            "network": a["pretrained_network_"],
            "setup": _setup(a["pretrained_setup_"]),
            "history": a["pretrained_history_"],
        }
    return {
        "network": a["network_"],
        "device": str(a["device_"]),
        "setup": _setup(a["_setup"]),
        "scaler": _scaler(a["_scaler"]),
        "tails": a["_tails"],
        "typical_spread": a["_typical_spread"],
        "residuals": a["_residuals"],
        "rng_state": a["_rng_state"],
        "history": a["history_"],
        "n_epochs": a["n_epochs_"],
        "best_epoch": a["best_epoch_"],
        # version 1 kept only the last training's epochs
        "calibration_epochs": None,
        "series": {
            "keys": a["_keys"],
            "last": a["_last_index"],
            "index_names": a["_index_names"],
            "columns": a["_columns"],
            "x_columns": a["_x_columns"],
            "time_freq": a["_time_freq"],
        },
        "sktime": {
            "cutoff": a["_cutoff"],
            "fh": a["_fh"],
            "mtype": metadata["mtype"],
            "scitype": metadata["scitype"],
            "n_features": metadata["n_features"],
            "feature_names": metadata["feature_names"],
            "converter_store": a["_converter_store_y"],
        },
        "pretrained": pretrained,
    }


def _regressor(a: dict) -> dict:
    return {
        "network": a["network_"],
        "device": str(a["device_"]),
        "scaler": _scaler(a["_scaler"]),
        "n_outputs": a["n_outputs_"],
        "sequence_shape": list(a["_sequence_shape"]),
        "input_ndim": a["_input_ndim"],
        "y_ndim": a["_y_ndim"],
        "rng_state": a["_rng_state"],
        "history": a["history_"],
        "n_epochs": a["n_epochs_"],
        "best_epoch": a["best_epoch_"],
        "n_features_in": a["n_features_in_"],
        "feature_names_in": a.get("feature_names_in_"),
    }


def state_from_v1(schema: str, attributes: dict) -> dict:
    """The declared state (:mod:`gatedforecast._model_state`) of an estimator
    whose version 1 file held ``attributes`` (its ``vars()`` less its
    parameters); ``schema`` is the estimator's ``_state_schema``. The result is
    checked against the schema by the caller."""
    convert = {"forecaster": _forecaster, "regressor": _regressor}[schema]
    try:
        return convert(attributes)
    except KeyError as error:
        raise ModelFileError(
            f"{MODEL_JSON} of format version 1 lacks {error}, which a fitted "
            "estimator of that version always has"
        ) from None
    except (AttributeError, TypeError) as error:
        raise ModelFileError(
            f"{MODEL_JSON} of format version 1 holds a value of the wrong kind "
            f"({error})"
        ) from None
