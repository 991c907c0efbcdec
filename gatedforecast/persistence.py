"""Model files that load without running code: :func:`save_model` and :func:`load_model`.

``pickle`` (and sktime's ``save``, joblib, ``torch.load`` without ``weights_only``)
can run arbitrary code while loading, so a model file from elsewhere is as dangerous
as a script from elsewhere. A model file written by :func:`save_model` holds data
only, and :func:`load_model` reads it without unpickling anything:

* ``model.json``: the class (one of the four public estimators), its constructor
  parameters, the package, sktime and torch versions, and every fitted attribute,
  written in an explicit JSON encoding: index values (integers, ``Timestamp`` and
  ``Period`` with their frequency), series keys, scaler statistics, the network's
  shape, sktime's fitted state (cutoff, horizon, metadata, dynamic tags);
* ``arrays.npz``: numeric arrays (context windows, calibration residuals, scaler
  statistics, history columns), read with ``numpy.load(..., allow_pickle=False)``;
* ``weights.pt``: the network weights as ``state_dict`` tensors, read with
  ``torch.load(..., weights_only=True, map_location="cpu")``.

The three sit in one zip file. Only classes on an allow-list are ever built from a
file; anything else in it (another member, an unknown class, type or key) is refused
with :class:`ModelFileError`. The work of loading is bounded before anything in the
file is trusted: each member's size is capped (:data:`MAX_JSON_BYTES`,
:data:`MAX_ARRAYS_BYTES`, :data:`MAX_WEIGHTS_BYTES`), both as the zip declares it
and as it is read, and a network is built only once its description matches the
stored weights' shapes. :func:`save_model` loads what it is about to write the way
:func:`load_model` will, and writes nothing that load would refuse.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import io
import json
import keyword
import os
import pickle
import secrets
import stat
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from dateutil import tz as dateutil_tz
from pandas._libs.tslibs.timezones import tz_compare
from pandas.tseries.frequencies import to_offset
from sktime.forecasting.base import ForecastingHorizon

__all__ = ["ModelFileError", "load_model", "save_model"]

FORMAT = "gatedforecast-model"
FORMAT_VERSION = 1
MODEL_JSON = "model.json"
ARRAYS = "arrays.npz"
WEIGHTS = "weights.pt"
MEMBERS = (MODEL_JSON, ARRAYS, WEIGHTS)
#: the key that marks an encoded (non-JSON) value in model.json
TAG = "__gf__"
#: numpy dtype kinds stored in arrays.npz: bool, integers, floats, complex
NUMERIC_KINDS = "biufc"
#: the keys of model.json, all required
DOCUMENT_KEYS = ("format", "format_version", "class", "versions", "params", "state")

#: the largest model.json that load_model reads (bytes, uncompressed)
MAX_JSON_BYTES = 32 * 2**20
#: the largest arrays.npz that load_model reads (bytes, uncompressed, its members too)
MAX_ARRAYS_BYTES = 256 * 2**20
#: the largest weights.pt that load_model reads (bytes, uncompressed)
MAX_WEIGHTS_BYTES = 256 * 2**20
#: the deepest nesting of lists and objects accepted in model.json
MAX_DEPTH = 64


def _caps() -> dict:
    """Each member's size cap and the name of the module constant that sets it,
    read when called so that a trusted, larger file can be loaded by raising it."""
    return {
        MODEL_JSON: (MAX_JSON_BYTES, "MAX_JSON_BYTES"),
        ARRAYS: (MAX_ARRAYS_BYTES, "MAX_ARRAYS_BYTES"),
        WEIGHTS: (MAX_WEIGHTS_BYTES, "MAX_WEIGHTS_BYTES"),
    }


class ModelFileError(ValueError):
    """A model that cannot be saved safely, or a file that :func:`load_model` refuses."""


# ---------------------------------------------------------------------- allow-lists
def _estimators() -> dict:
    from .forecasting import GRUForecaster, LSTMForecaster
    from .regression import GRURegressor, LSTMRegressor

    return {
        cls.__name__: cls
        for cls in (GRUForecaster, LSTMForecaster, GRURegressor, LSTMRegressor)
    }


def _dataclasses() -> dict:
    from .engine import _Setup
    from .scaling import WindowTransform

    return {"_Setup": _Setup, "WindowTransform": WindowTransform}


def _objects() -> dict:
    from .engine import SeriesEngine
    from .scaling import SeriesScaler

    return {"SeriesScaler": SeriesScaler, "SeriesEngine": SeriesEngine}


def _enums() -> dict:
    from sktime.datatypes._dtypekind import DtypeKind

    return {"DtypeKind": DtypeKind}


def _versions() -> dict:
    import sklearn
    import sktime

    from . import __version__

    return {
        "gatedforecast": __version__,
        "sktime": sktime.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }


# ---------------------------------------------------------------------- networks
def _network_spec(network) -> dict:
    """Constructor arguments of a :class:`ForecastNetwork`, read from the network."""
    encoder = network.encoder
    first = encoder.layers[0]
    spec = {
        "n_inputs": first.input_size,
        "n_targets": network.n_targets,
        "horizon": network.horizon,
        "hidden_sizes": [layer.hidden_size for layer in encoder.layers],
        "cell": encoder.cell,
        "dropout": encoder.dropout,
        "bidirectional": first.bidirectional,
        "n_future": network.n_future,
    }
    if getattr(network, "n_quantiles", 0):
        spec["n_quantiles"] = network.n_quantiles
    return spec


def _build_network(spec: dict):
    from .networks import ForecastNetwork

    spec = dict(spec)
    spec["hidden_sizes"] = tuple(spec["hidden_sizes"])
    return ForecastNetwork(**spec)


def _plain_attributes(module: torch.nn.Module) -> dict:
    """The non-tensor attributes of every submodule, to compare two networks."""
    out = {}
    for name, sub in module.named_modules():
        for key, value in vars(sub).items():
            if not key.startswith("_") and key != "training":
                out[f"{name}.{key}"] = value
    return out


def _check_spec(spec) -> dict:
    """The description of a network read from a file, refused unless every value
    has the type and range :class:`ForecastNetwork` takes."""
    from .networks import CELLS

    if not isinstance(spec, dict):
        raise ModelFileError(f"a network's description is not a mapping: {spec!r:.80}")
    required = {
        "n_inputs",
        "n_targets",
        "horizon",
        "hidden_sizes",
        "cell",
        "dropout",
        "bidirectional",
        "n_future",
    }
    unknown = sorted(set(spec) - required - {"n_quantiles"})
    missing = sorted(required - set(spec))
    if unknown or missing:
        raise ModelFileError(
            f"a network's description has unknown keys {unknown} or lacks {missing}"
        )
    counts = {k: spec[k] for k in ("n_inputs", "n_targets", "horizon")}
    counts["n_future"] = spec["n_future"]
    counts["n_quantiles"] = spec.get("n_quantiles", 0)
    sizes = spec["hidden_sizes"]
    if not isinstance(sizes, list) or not sizes:
        raise ModelFileError(f"hidden_sizes {sizes!r:.80} is not a list of sizes")
    for name, value in [*counts.items(), *(("hidden_sizes", v) for v in sizes)]:
        least = 0 if name in ("n_future", "n_quantiles") else 1
        if type(value) is not int or value < least:
            raise ModelFileError(f"{name} {value!r:.80} is not an integer >= {least}")
    dropout = spec["dropout"]
    if type(dropout) not in (int, float) or not 0 <= dropout < 1:
        raise ModelFileError(f"dropout {dropout!r:.80} is not in [0, 1)")
    if spec["cell"] not in CELLS or type(spec["bidirectional"]) is not bool:
        raise ModelFileError(
            f"cell {spec['cell']!r:.40} or bidirectional "
            f"{spec['bidirectional']!r:.40} is not a known setting"
        )
    return spec


def _check_weights_fit(spec: dict, weights: dict) -> None:
    """Refuse weights whose names or shapes are not those of the network that
    ``spec`` describes, comparing with a skeleton on torch's ``meta`` device
    (which allocates no memory), so that nothing is built from a description the
    stored weights do not back."""
    # every layer has at least two tensors: this bounds the skeleton's work
    if len(spec["hidden_sizes"]) > len(weights):
        raise ModelFileError(
            f"the network's description names {len(spec['hidden_sizes'])} layers "
            f"but {WEIGHTS} holds only {len(weights)} tensors for it"
        )
    with torch.device("meta"):
        skeleton = _build_network(spec)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in weights.items()}
    if stored != expected:
        differ = sorted(
            k
            for k in expected.keys() | stored.keys()
            if expected.get(k) != stored.get(k)
        )
        raise ModelFileError(
            f"the weights in {WEIGHTS} do not match the network described in "
            f"{MODEL_JSON} (they differ at {differ[:3]})"
        )


# ---------------------------------------------------------------------- time zones
def _zone_error(tz, where: str, why: str) -> ModelFileError:
    return ModelFileError(
        f"save_model cannot store the time zone {tz!r} of {where}: it {why}, so "
        "load_model could not restore it. Convert the time index to a named zone "
        "(for example y.tz_convert('Europe/Berlin')) or to UTC "
        "(y.tz_convert('UTC')) before fitting, then save."
    )


def _encode_fixed_tz(tz):
    """A fixed-offset zone of a class load_model rebuilds, or None."""
    kinds = {
        datetime.timezone: "datetime",
        dateutil_tz.tzoffset: "dateutil",
        dateutil_tz.tzutc: "dateutil_utc",
    }
    kind = kinds.get(type(tz))
    offset = None if kind is None else tz.utcoffset(None)
    if offset is None or offset.microseconds:
        return None
    name = None if kind == "dateutil_utc" else tz.tzname(None)
    seconds = offset.days * 86400 + offset.seconds
    return {TAG: "fixed_tz", "type": kind, "seconds": seconds, "name": name}


def _encode_tz(tz, where: str):
    """A time zone as model.json stores it: its name when pandas rebuilds the same
    zone from it, else a fixed offset (with the class that holds it), else refused;
    None when naive."""
    if tz is None:
        return None
    if isinstance(tz, dateutil_tz.tzlocal):
        raise _zone_error(
            tz,
            where,
            "is the local zone of this machine, which differs between machines",
        )
    for encode in (str, _encode_fixed_tz):
        try:
            encoded = encode(tz)
            if encoded is not None and tz_compare(_decode_tz(encoded), tz):
                return encoded
        except (LookupError, TypeError, ValueError, ModelFileError):
            # a zone name pandas does not know: ZoneInfoNotFoundError is a KeyError
            continue
    raise _zone_error(tz, where, f"has no zone name ({str(tz)!r} is not one)")


def _decode_tz(value):
    if value is None:
        return None
    if isinstance(value, str):
        # pandas' own reading of a zone name, as in tz_convert(value)
        return pd.Timestamp(0, tz=value).tz
    if isinstance(value, dict) and value.get(TAG) == "fixed_tz":
        _check_keys(value, ("type", "seconds", "name"), "fixed_tz")
        kind, seconds, name = value["type"], value["seconds"], value["name"]
        if type(seconds) is not int or not -86400 < seconds < 86400:
            raise ModelFileError(f"invalid time zone offset {seconds!r:.40}")
        if name is not None and not isinstance(name, str):
            raise ModelFileError(f"invalid time zone name {name!r:.40}")
        offset = datetime.timedelta(seconds=seconds)
        if kind == "datetime":
            return (
                datetime.timezone(offset)
                if name is None
                else datetime.timezone(offset, name)
            )
        if kind == "dateutil":
            return dateutil_tz.tzoffset(name, offset)
        if kind == "dateutil_utc":
            return dateutil_tz.tzutc()
    raise ModelFileError(f"invalid time zone {value!r:.80} in {MODEL_JSON}")


# ---------------------------------------------------------------------- encoding
class _Encoder:
    """Turns fitted state into JSON, numeric arrays and weight tensors."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.weights: dict[str, dict] = {}
        # a network held by two attributes (network_ and the engine's) is
        # stored once, and loads as one object
        self.networks: dict[int, dict] = {}

    def _array(self, values: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(values)
        return key

    def refuse(self, where: str, value, why: str = "") -> ModelFileError:
        return ModelFileError(
            f"save_model cannot store {where}, a {type(value).__module__}."
            f"{type(value).__qualname__}{why}: model files hold only plain data, "
            "arrays and network weights. Save this model with pickle or sktime's "
            "save instead (both run code when loading: load only files you trust)."
        )

    def encode(self, value, where: str):
        if isinstance(value, np.generic):
            # before int and float: np.float64 is a float, and must stay one
            if value.dtype.kind not in NUMERIC_KINDS + "U":
                raise self.refuse(where, value)
            return {TAG: "np_scalar", "dtype": value.dtype.str, "value": value.item()}
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {TAG: "tuple", "items": items}
        if isinstance(value, dict):
            return self._dict(value, where)
        if isinstance(value, np.ndarray):
            return self._ndarray(value, where)
        if isinstance(value, torch.Tensor):
            if value.dtype == torch.bfloat16 or value.is_sparse:
                raise self.refuse(where, value, f" of dtype {value.dtype}")
            array = value.detach().cpu().numpy()
            return {TAG: "tensor", "key": self._array(array)}
        if isinstance(value, torch.device):
            return {TAG: "device", "value": str(value)}
        if isinstance(value, torch.nn.Module):
            return self._network(value, where)
        if isinstance(value, enum.Enum):
            if type(value) is not _enums().get(type(value).__name__):
                raise self.refuse(where, value)
            return {TAG: "enum", "class": type(value).__name__, "value": value.value}
        if isinstance(value, pd.Timestamp):
            return {
                TAG: "timestamp",
                "value": value.value,
                "unit": value.unit,
                "tz": _encode_tz(value.tz, where),
            }
        if isinstance(value, pd.Period):
            return {TAG: "period", "ordinal": value.ordinal, "freq": value.freqstr}
        if isinstance(value, pd.Timedelta):
            return {TAG: "timedelta", "value": value.value, "unit": value.unit}
        if isinstance(value, pd.offsets.BaseOffset):
            return {TAG: "offset", "value": value.freqstr}
        if isinstance(value, pd.Index):
            return self._index(value, where)
        if isinstance(value, pd.Series):
            return {
                TAG: "series",
                "index": self._index(value.index, f"{where}.index"),
                "values": self._ndarray(value.to_numpy(), where),
                "dtype": str(value.dtype),
                "name": self.encode(value.name, f"{where}.name"),
            }
        if isinstance(value, pd.DataFrame):
            return {
                TAG: "frame",
                "index": self._index(value.index, f"{where}.index"),
                "columns": self._index(value.columns, f"{where}.columns"),
                "data": [
                    self._ndarray(value.iloc[:, i].to_numpy(), f"{where}[{i}]")
                    for i in range(value.shape[1])
                ],
            }
        if isinstance(value, ForecastingHorizon):
            return {
                TAG: "fh",
                "values": self._index(value.to_pandas(), f"{where}.values"),
                "is_relative": bool(value.is_relative),
                "freq": value.freq,
            }
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = type(value).__name__
            if type(value) is not _dataclasses().get(name):
                raise self.refuse(where, value)
            fields = {
                f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                for f in dataclasses.fields(value)
            }
            return {TAG: "dataclass", "class": name, "fields": fields}
        name = type(value).__name__
        if type(value) is _objects().get(name):
            state = self._dict(vars(value), where)
            return {TAG: "object", "class": name, "state": state}
        raise self.refuse(where, value)

    def _dict(self, value: dict, where: str):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        items = [
            [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
            for k, v in value.items()
        ]
        return {TAG: "dict", "items": items}

    def _ndarray(self, value: np.ndarray, where: str):
        if value.dtype.kind in NUMERIC_KINDS:
            return {TAG: "ndarray", "key": self._array(value)}
        if value.dtype.kind in "OUT" and all(isinstance(v, str) for v in value.flat):
            kind = "object" if value.dtype.kind == "O" else "str"
            return {
                TAG: "str_array",
                "dtype": kind,
                "shape": list(value.shape),
                "values": [str(v) for v in value.flat],
            }
        raise self.refuse(where, value, f" of dtype {value.dtype}")

    def _index(self, index: pd.Index, where: str):
        name = self.encode(index.name, f"{where}.name")
        if isinstance(index, pd.MultiIndex):
            levels = [
                self._index(index.get_level_values(i), f"{where}.levels[{i}]")
                for i in range(index.nlevels)
            ]
            names = [self.encode(n, f"{where}.names") for n in index.names]
            return {TAG: "index", "kind": "multi", "levels": levels, "names": names}
        if isinstance(index, pd.RangeIndex):
            return {
                TAG: "index",
                "kind": "range",
                "start": index.start,
                "stop": index.stop,
                "step": index.step,
                "name": name,
            }
        if isinstance(index, pd.DatetimeIndex):
            return {
                TAG: "index",
                "kind": "datetime",
                "values": index.asi8.tolist(),
                "unit": index.unit,
                "tz": _encode_tz(index.tz, where),
                "freq": index.freqstr,
                "name": name,
            }
        if isinstance(index, pd.PeriodIndex):
            return {
                TAG: "index",
                "kind": "period",
                "ordinals": index.asi8.tolist(),
                "freq": index.freqstr,
                "name": name,
            }
        if isinstance(index, pd.TimedeltaIndex):
            return {
                TAG: "index",
                "kind": "timedelta",
                "values": index.asi8.tolist(),
                "unit": index.unit,
                "name": name,
            }
        values = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(index.tolist())]
        return {
            TAG: "index",
            "kind": "values",
            "values": values,
            "dtype": str(index.dtype),
            "name": name,
        }

    def _network(self, network: torch.nn.Module, where: str):
        from .networks import ForecastNetwork

        if type(network) is not ForecastNetwork:
            raise self.refuse(where, network)
        if id(network) in self.networks:
            return self.networks[id(network)]
        spec = _network_spec(network)
        rebuilt = _build_network(spec)
        state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        try:
            rebuilt.load_state_dict(state)
        except RuntimeError as error:
            raise self.refuse(where, network, f" ({error})") from None
        if _plain_attributes(rebuilt) != _plain_attributes(network):
            raise self.refuse(where, network, " with settings save_model does not know")
        key = f"w{len(self.weights)}"
        self.weights[key] = state
        self.networks[id(network)] = {
            TAG: "network",
            "spec": self.encode(spec, f"{where}.spec"),
            "weights": key,
            "training": network.training,
        }
        return self.networks[id(network)]


# ---------------------------------------------------------------------- decoding
#: the keys of each encoded value type, besides the tag; all required
KINDS = {
    "np_scalar": ("dtype", "value"),
    "tuple": ("items",),
    "dict": ("items",),
    "ndarray": ("key",),
    "str_array": ("dtype", "shape", "values"),
    "tensor": ("key",),
    "device": ("value",),
    "enum": ("class", "value"),
    "timestamp": ("value", "unit", "tz"),
    "period": ("ordinal", "freq"),
    "timedelta": ("value", "unit"),
    "offset": ("value",),
    "index": ("kind",),  # and the keys of its kind, in INDEX_KINDS
    "series": ("index", "values", "dtype", "name"),
    "frame": ("index", "columns", "data"),
    "fh": ("values", "is_relative", "freq"),
    "dataclass": ("class", "fields"),
    "object": ("class", "state"),
    "network": ("spec", "weights", "training"),
}
INDEX_KINDS = {
    "multi": ("levels", "names"),
    "range": ("start", "stop", "step", "name"),
    "datetime": ("values", "unit", "tz", "freq", "name"),
    "period": ("ordinals", "freq", "name"),
    "timedelta": ("values", "unit", "name"),
    "values": ("values", "dtype", "name"),
}
#: the errors that decoding a malformed file can raise from the code it calls
#: (numpy, pandas, torch, the constructors): reported as ModelFileError
MALFORMED = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RuntimeError,
    TypeError,
    ValueError,
)


def _check_keys(value: dict, keys, kind: str) -> None:
    """Refuse an encoded value with other keys than its type writes."""
    expected = {TAG, *keys}
    if set(value) != expected:
        unknown = sorted(map(str, set(value) - expected))
        missing = sorted(expected - set(value))
        raise ModelFileError(
            f"a {kind!r} value in {MODEL_JSON} has unknown keys {unknown} or lacks "
            f"{missing}"
        )


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise ModelFileError(f"{what} in {MODEL_JSON} is not a mapping: {value!r:.80}")
    return value


class _Decoder:
    """Builds values back from model.json, the arrays and the weights; only the
    types the encoder writes, with exactly their keys, and only allow-listed
    classes. Records which arrays and weights it used."""

    def __init__(self, arrays: dict, weights: dict) -> None:
        self.arrays = arrays
        self.weights = weights
        self.used_arrays: set = set()
        self.used_weights: set = set()
        self.networks: dict = {}

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if TAG not in value:
            return {k: self.decode(v) for k, v in value.items()}
        kind = value[TAG]
        if not isinstance(kind, str) or kind not in KINDS:
            raise ModelFileError(f"unknown value type {kind!r:.80} in {MODEL_JSON}")
        if kind != "index":
            _check_keys(value, KINDS[kind], kind)
        return getattr(self, f"_decode_{kind}")(value)

    def _array(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise ModelFileError(f"{ARRAYS} lacks the array {key!r:.80}")
        self.used_arrays.add(key)
        return self.arrays[key]

    def _decode_np_scalar(self, v):
        dtype = np.dtype(v["dtype"])
        value = v["value"]
        if dtype.kind == "U" and isinstance(value, str):
            return np.str_(value)
        if dtype.kind not in NUMERIC_KINDS or dtype.itemsize > 32:
            raise ModelFileError(f"unsupported scalar dtype {dtype}")
        return np.array(value, dtype=dtype)[()]

    def _decode_tuple(self, v):
        return tuple(self.decode(x) for x in v["items"])

    def _decode_dict(self, v):
        return {_hashable(self.decode(k)): self.decode(x) for k, x in v["items"]}

    def _decode_ndarray(self, v):
        return self._array(v["key"])

    def _decode_str_array(self, v):
        dtype = object if v["dtype"] == "object" else str
        values = np.empty(len(v["values"]), dtype=object)
        values[:] = [str(x) for x in v["values"]]
        return values.astype(dtype).reshape(v["shape"])

    def _decode_tensor(self, v):
        return torch.from_numpy(np.array(self._array(v["key"])))

    def _decode_device(self, v):
        return torch.device(str(v["value"]))

    def _decode_enum(self, v):
        cls = _enums().get(v["class"])
        if cls is None:
            raise ModelFileError(f"class {v['class']!r} is not on the allow-list")
        return cls(v["value"])

    def _decode_timestamp(self, v):
        stamp = pd.Timestamp(int(v["value"]), unit="ns", tz=_decode_tz(v["tz"]))
        return stamp.as_unit(v["unit"])

    def _decode_period(self, v):
        return pd.Period(ordinal=int(v["ordinal"]), freq=v["freq"])

    def _decode_timedelta(self, v):
        return pd.Timedelta(int(v["value"]), unit="ns").as_unit(v["unit"])

    def _decode_offset(self, v):
        return to_offset(v["value"])

    def _decode_series(self, v):
        return pd.Series(
            self.decode(v["values"]),
            index=self._decode_index(v["index"]),
            name=self.decode(v["name"]),
        ).astype(v["dtype"])

    def _decode_frame(self, v):
        columns = self._decode_index(v["columns"])
        data = [self.decode(c) for c in v["data"]]
        frame = pd.DataFrame(
            dict(enumerate(data)), index=self._decode_index(v["index"])
        )
        frame.columns = columns
        return frame

    def _decode_fh(self, v):
        return ForecastingHorizon(
            self._decode_index(v["values"]),
            is_relative=bool(v["is_relative"]),
            freq=v["freq"],
        )

    def _decode_dataclass(self, v):
        cls = _dataclasses().get(v["class"])
        if cls is None:
            raise ModelFileError(f"class {v['class']!r} is not on the allow-list")
        fields = _mapping(v["fields"], f"the fields of {v['class']}")
        return cls(**{k: self.decode(x) for k, x in fields.items()})

    def _decode_object(self, v):
        cls = _objects().get(v["class"])
        if cls is None:
            raise ModelFileError(f"class {v['class']!r} is not on the allow-list")
        obj = cls.__new__(cls)
        state = _mapping(self.decode(v["state"]), f"the state of {v['class']}")
        for key, value in state.items():
            _set_attribute(obj, key, value)
        return obj

    def _decode_network(self, v):
        key = v["weights"]
        if not isinstance(key, str) or key not in self.weights:
            raise ModelFileError(f"{WEIGHTS} lacks the weights {key!r:.80}")
        if type(v["training"]) is not bool:
            raise ModelFileError(f"invalid network mode {v['training']!r:.40}")
        spec = _check_spec(self.decode(v["spec"]))
        if key in self.networks:
            # a second attribute holding the same network: the same description
            if spec != _network_spec(self.networks[key]):
                raise ModelFileError(
                    f"the network with weights {key!r:.80} is described twice, "
                    "differently"
                )
            return self.networks[key]
        self.used_weights.add(key)
        _check_weights_fit(spec, self.weights[key])
        network = _build_network(spec)
        network.load_state_dict(self.weights[key])
        self.networks[key] = network.train(v["training"])
        return self.networks[key]

    def _decode_index(self, v):
        if not isinstance(v, dict) or v.get(TAG) != "index":
            raise ModelFileError(f"expected an index in {MODEL_JSON}, got {v!r:.80}")
        kind = v.get("kind")
        if not isinstance(kind, str) or kind not in INDEX_KINDS:
            raise ModelFileError(f"unknown index kind {kind!r:.80} in {MODEL_JSON}")
        _check_keys(v, ("kind", *INDEX_KINDS[kind]), f"{kind} index")
        if kind == "multi":
            levels = [self._decode_index(level) for level in v["levels"]]
            names = [self.decode(n) for n in v["names"]]
            return pd.MultiIndex.from_arrays(levels, names=names)
        name = self.decode(v["name"])
        if kind == "range":
            return pd.RangeIndex(v["start"], v["stop"], v["step"], name=name)
        if kind == "datetime":
            values = np.asarray(v["values"], dtype=np.int64)
            index = pd.DatetimeIndex(values.view(f"datetime64[{v['unit']}]"))
            tz = _decode_tz(v["tz"])
            if tz is not None:
                index = index.tz_localize("UTC").tz_convert(tz)
            return pd.DatetimeIndex(index, freq=v["freq"], name=name)
        if kind == "period":
            ordinals = np.asarray(v["ordinals"], dtype=np.int64)
            return pd.PeriodIndex.from_ordinals(ordinals, freq=v["freq"], name=name)
        if kind == "timedelta":
            values = np.asarray(v["values"], dtype=np.int64)
            return pd.TimedeltaIndex(
                values.view(f"timedelta64[{v['unit']}]"), name=name
            )
        values = [self.decode(x) for x in v["values"]]
        return pd.Index(values, dtype=v["dtype"], name=name, tupleize_cols=False)


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _set_attribute(obj, name, value) -> None:
    """Set a decoded attribute, refusing names that are not plain attributes, and
    names the class itself defines (a method or property the value would hide)."""
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name.startswith("__")
        or hasattr(type(obj), name)
    ):
        raise ModelFileError(f"{MODEL_JSON} names an invalid attribute {name!r:.80}")
    setattr(obj, name, value)


# ---------------------------------------------------------------------- save
def _check_savable(estimator) -> str:
    name = type(estimator).__name__
    if _estimators().get(name) is not type(estimator):
        raise ModelFileError(
            f"save_model saves {', '.join(sorted(_estimators()))}; got "
            f"{type(estimator).__qualname__}. Save other objects with pickle or "
            "sktime's save."
        )
    fitted = (
        estimator.is_fitted
        if hasattr(estimator, "is_fitted")
        else hasattr(estimator, "network_")
    )
    if not fitted:
        raise ModelFileError(f"This {name} is not fitted yet: call fit before saving.")
    for param, example in (("optimizer", "'adam'"), ("loss", "'mse'")):
        value = getattr(estimator, param)
        if not isinstance(value, str):
            raise ModelFileError(
                f"{param}={value!r} is not a name: a model file stores only data, "
                f"so it cannot rebuild a custom {param} when it is loaded (that "
                f"would mean running code from the file). Use a named {param} "
                f"(such as {example}) to save with save_model, or save this "
                "model with pickle or sktime's save (which run code on loading: "
                "load only files you trust)."
            )
    if getattr(estimator, "_is_vectorized", False):
        raise ModelFileError(
            "save_model does not save a forecaster fitted with global_model=False on "
            "a panel: sktime keeps one fitted forecaster per series in "
            "forecasters_. Save it with pickle or sktime's save, or fit with "
            "global_model=True (one network over all series) to use save_model."
        )
    return name


def save_model(estimator, path) -> Path:
    """Save a fitted estimator to a model file that loads without running code.

    Parameters
    ----------
    estimator : GRUForecaster, LSTMForecaster, GRURegressor or LSTMRegressor
        A fitted estimator whose ``optimizer`` and ``loss`` are names (strings).
    path : str or path-like
        Where to write the file (a zip archive); an existing file is replaced
        (keeping its permissions; a new file gets those the umask gives), and a
        failed save leaves no file behind.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ModelFileError
        If the estimator is not fitted, has a custom optimizer or loss, was fitted
        per series (``global_model=False`` on a panel), holds something that is
        not plain data (a time zone without a name or a fixed offset, say), or
        would make a file that :func:`load_model` refuses (checked by loading it
        before it is written).
    TypeError
        If ``path`` is not a str or an ``os.PathLike``.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from gatedforecast import LSTMForecaster, load_model, save_model
    >>> forecaster = LSTMForecaster(window_length=12, max_epochs=2, random_state=0)
    >>> forecaster = forecaster.fit(load_airline(), fh=[1, 2, 3])
    >>> save_model(forecaster, "airline.gfm").name
    'airline.gfm'
    >>> load_model("airline.gfm").predict().equals(forecaster.predict())
    True
    """
    _check_path(path, "save_model")
    name = _check_savable(estimator)
    encoder = _Encoder()
    params = estimator.get_params(deep=False)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": name,
        "versions": _versions(),
        "params": {k: encoder.encode(v, f"parameter {k}") for k, v in params.items()},
        "state": {
            k: encoder.encode(v, f"attribute {k}")
            for k, v in vars(estimator).items()
            if k not in params
        },
    }
    text = json.dumps(document, indent=1, allow_nan=True)
    arrays = io.BytesIO()
    np.savez(arrays, **encoder.arrays)
    weights = io.BytesIO()
    torch.save(encoder.weights, weights)
    members = {
        MODEL_JSON: text.encode("utf-8"),
        ARRAYS: arrays.getvalue(),
        WEIGHTS: weights.getvalue(),
    }
    path = Path(path)
    # load what is about to be written, as load_model will: never write a file
    # that load_model refuses
    try:
        _load_members(members, path)
    except ModelFileError as error:
        raise ModelFileError(
            f"save_model did not write {path}, as load_model would refuse the "
            f"file: {error}"
        ) from None
    _write_atomically(path, members)
    return path


def _write_atomically(path: Path, members: dict) -> None:
    """Write the zip to a new file beside ``path``, then move it over ``path``: a
    failed save leaves no file behind, and an existing file whole. The file gets
    the mode of the file it replaces, or the mode any new file gets (``0o666``
    less the umask): the kernel applies the umask when the file is created."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            handle = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with (
            os.fdopen(handle, "wb") as file,
            zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            for name, data in members.items():
                archive.writestr(name, data)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------- load
def _check_path(path, function: str) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{function} takes the path of a file, a str or an os.PathLike (such "
            f"as pathlib.Path); got {type(path).__qualname__}."
            + (
                " To load a model held in memory, write the bytes to a file first."
                if isinstance(path, (bytes, bytearray, memoryview))
                else ""
            )
        )


def _too_large(source, name: str, what: str, cap: int, constant: str):
    return ModelFileError(
        f"{source}: {name} {what}, more than the {cap:,} bytes load_model reads "
        f"(gatedforecast.persistence.{constant}); it is refused before it is read. "
        "Raise that limit only to load a file you trust."
    )


def _read(path) -> dict:
    """The three members of the zip at ``path``, as bytes, each read only when
    its declared size is within its cap, and no further than the cap."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        limit = sum(cap for cap, _ in _caps().values()) + 2**20
        if size > limit:
            raise ModelFileError(
                f"{path} holds {size:,} bytes, more than a model file within the "
                f"size limits of load_model ({limit:,} bytes); it is refused before "
                "it is read."
            )
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise ModelFileError(
                f"{path} is not a gatedforecast model file ({error}); model files "
                "are written by save_model."
            ) from None
        with archive:
            names = archive.namelist()
            unexpected = sorted(set(names) - set(MEMBERS))
            missing = sorted(set(MEMBERS) - set(names))
            if unexpected or missing or len(names) != len(MEMBERS):
                raise ModelFileError(
                    f"{path} is not a model file written by save_model: it should "
                    f"hold exactly {list(MEMBERS)}"
                    + (
                        f"; it has unexpected member(s) {unexpected}"
                        if unexpected
                        else ""
                    )
                    + (f"; it lacks {missing}" if missing else "")
                    + ". It is refused without reading it."
                )
            return {name: _read_member(archive, name, path) for name in MEMBERS}


def _read_member(archive: zipfile.ZipFile, name: str, source) -> bytes:
    cap, constant = _caps()[name]
    info = archive.getinfo(name)
    if info.file_size > cap:
        raise _too_large(
            source, name, f"declares {info.file_size:,} bytes", cap, constant
        )
    try:
        with archive.open(info) as member:
            data = member.read(cap + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,  # encrypted, or an unknown compression method
        ValueError,
    ) as error:
        raise ModelFileError(
            f"{source}: {name} cannot be read ({error}); the file is damaged."
        ) from None
    if len(data) > cap:
        raise _too_large(source, name, "holds more bytes than that", cap, constant)
    return data


def _inner_zip(data: bytes, source, name: str) -> zipfile.ZipFile:
    """The zip archive that ``arrays.npz`` and ``weights.pt`` each are, refused when
    its members declare more bytes in all than the member's cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ModelFileError(
            f"{source}: {name} is not the archive save_model writes ({error})"
        ) from None
    cap, constant = _caps()[name]
    declared = sum(info.file_size for info in infos)
    if declared > cap:
        archive.close()
        raise _too_large(
            source, name, f"declares {declared:,} bytes of contents", cap, constant
        )
    return archive


def _parse_json(data: bytes, source):
    try:
        document = json.loads(data)
    except RecursionError:
        raise ModelFileError(
            f"{source}: {MODEL_JSON} is nested more deeply than Python can read"
        ) from None
    except ValueError as error:  # not JSON, not UTF-8, an integer too long
        raise ModelFileError(f"{source}: {MODEL_JSON} is not JSON ({error})") from None
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ModelFileError(
                f"{source}: {MODEL_JSON} is nested more than {MAX_DEPTH} levels deep; "
                "save_model writes far fewer."
            )
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return document


def _check_document(document, source):
    """The class a document names, once its top-level keys are checked."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{source} is not a {FORMAT} file.")
    version = document.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(
            f"{source} has an invalid format version {version!r:.40}; save_model "
            "writes a whole number from 1."
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{source} has format version {version!r}; this gatedforecast reads "
            f"versions up to {FORMAT_VERSION}. Upgrade gatedforecast to load it."
        )
    unknown = sorted(map(str, set(document) - set(DOCUMENT_KEYS)))
    missing = sorted(set(DOCUMENT_KEYS) - set(document))
    if unknown or missing:
        raise ModelFileError(
            f"{source}: {MODEL_JSON} has unknown keys {unknown!s:.200} or lacks "
            f"{missing}; save_model writes exactly {list(DOCUMENT_KEYS)}."
        )
    name = document["class"]
    cls = _estimators().get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(
            f"{source} names the class {name!r:.80}, which is not one of "
            f"{sorted(_estimators())}; it is refused."
        )
    for key in ("versions", "params", "state"):
        if not isinstance(document[key], dict) or TAG in document[key]:
            raise ModelFileError(f"{source}: '{key}' in {MODEL_JSON} must be a mapping")
    return cls


def _array_keys(document) -> set:
    """The keys of the arrays that ``document`` refers to."""
    keys, stack = set(), [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get(TAG) in ("ndarray", "tensor") and isinstance(
                value.get("key"), str
            ):
                keys.add(value["key"])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return keys


def _parse_arrays(data: bytes, source, used: set) -> dict:
    """The arrays of ``arrays.npz`` that model.json refers to (``used``); any other
    member is refused unread. Each member must be a ``.npy`` array of a numeric
    dtype whose header's shape matches the size the zip declares for it, checked
    before the array is allocated, and then read into it in place."""

    def refuse(detail):
        return ModelFileError(
            f"{source}: {ARRAYS} holds something other than plain numeric arrays "
            f"({detail}); it is refused."
        )

    arrays = {}
    with _inner_zip(data, source, ARRAYS) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise refuse(f"the member {info.filename!r:.80} is not a .npy array")
            key = info.filename[: -len(".npy")]
            if key not in used:
                raise ModelFileError(
                    f"{source}: {ARRAYS} holds the array {key!r:.80}, which "
                    f"{MODEL_JSON} does not use; it is refused unread."
                )
            try:
                with archive.open(info) as member:
                    arrays[key] = _read_npy(member, info, refuse)
            except ModelFileError:
                raise
            except (*MALFORMED, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise refuse(e) from None
    return arrays


def _read_npy(member, info: zipfile.ZipInfo, refuse) -> np.ndarray:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise refuse(f"{info.filename} has npy format version {version}")
    if dtype.hasobject or dtype.kind not in NUMERIC_KINDS:
        raise refuse(
            f"{info.filename} has dtype {dtype}; object arrays could only be "
            "restored by unpickling, which could run code"
        )
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = info.file_size - member.tell()
    if size != available:
        raise refuse(
            f"{info.filename} declares shape {shape} but holds {available} bytes "
            "of data"
        )
    buffer = np.empty(size, dtype=np.uint8)
    view, done = memoryview(buffer), 0
    while done < size:
        count = member.readinto(view[done:])
        if not count:
            raise refuse(f"{info.filename} ends before its data")
        done += count
    return buffer.view(dtype).reshape(shape, order="F" if fortran else "C")


def _parse_weights(data: bytes, source) -> dict:
    """The tensors of ``weights.pt``: read by torch's ``weights_only`` loader once
    the archive's declared sizes are within the cap, then refused unless they are
    named groups of dense, finite floating-point tensors."""
    _inner_zip(data, source, WEIGHTS).close()
    try:
        weights = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except (*MALFORMED, pickle.UnpicklingError, EOFError) as error:
        raise ModelFileError(
            f"{source}: {WEIGHTS} holds something other than tensors ({error}); it "
            "is refused, as reading it could run code."
        ) from None
    groups = weights.values() if isinstance(weights, dict) else [None]
    for group in groups:
        tensors = group.items() if isinstance(group, dict) else [(None, None)]
        for key, tensor in tensors:
            if (
                not isinstance(key, str)
                or type(tensor) is not torch.Tensor
                or tensor.layout is not torch.strided
                or not tensor.is_floating_point()
            ):
                raise ModelFileError(
                    f"{source}: {WEIGHTS} holds something other than named groups "
                    "of floating-point tensors; it is refused."
                )
            if not torch.isfinite(tensor).all():
                raise ModelFileError(
                    f"{source}: {WEIGHTS} holds non-finite weights (NaN or inf) in "
                    f"{key!r:.80}; a network with them cannot predict."
                )
    return weights


def _load_members(members: dict, source):
    """The estimator that the three members of a model file describe, each member
    checked before anything is built from it; ``source`` names the file."""
    for name, data in members.items():
        cap, constant = _caps()[name]
        if len(data) > cap:
            raise _too_large(source, name, f"holds {len(data):,} bytes", cap, constant)
    document = _parse_json(members[MODEL_JSON], source)
    cls = _check_document(document, source)
    arrays = _parse_arrays(members[ARRAYS], source, _array_keys(document))
    weights = _parse_weights(members[WEIGHTS], source)
    _check_versions(source, document["versions"])
    decoder = _Decoder(arrays, weights)
    try:
        params = decoder.decode(document["params"])
        accepted = {
            name
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self"
            and parameter.kind
            in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        }
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ModelFileError(
                f"sets unknown parameters {unknown!r:.200} of {cls.__name__}."
            )
        state = decoder.decode(document["state"])
        estimator = cls(**params)
        for key, value in state.items():
            _set_attribute(estimator, key, value)
    except ModelFileError as error:
        raise ModelFileError(f"{source}: {error}") from None
    except MALFORMED as error:
        raise ModelFileError(
            f"{source} is damaged or was not written by save_model: "
            f"{type(error).__name__}: {error}"
        ) from error
    unused = sorted(set(arrays) - decoder.used_arrays) + sorted(
        set(weights) - decoder.used_weights
    )
    if unused:
        raise ModelFileError(
            f"{source}: {ARRAYS} or {WEIGHTS} holds {unused[:5]!r:.200}, which "
            f"{MODEL_JSON} does not use; it is refused."
        )
    return estimator


def _check_versions(path, saved: dict) -> None:
    here = _versions()
    differ = [
        f"{name} {str(saved.get(name)):.40} (here {here[name]})"
        for name in ("gatedforecast", "sktime", "torch")
        if saved.get(name) != here[name]
    ]
    if differ:
        warnings.warn(
            f"{path} was saved with {', '.join(differ)}. It loads, but predictions "
            "may differ slightly; fit again with these versions for exact results.",
            UserWarning,
            stacklevel=4,
        )


def load_model(path):
    """Load an estimator saved by :func:`save_model`, without running code from it.

    Parameters
    ----------
    path : str or path-like
        A file written by ``estimator.save_model(path)``.

    Returns
    -------
    GRUForecaster, LSTMForecaster, GRURegressor or LSTMRegressor
        The fitted estimator, its network on the CPU; ``predict`` gives the same
        values as the saved estimator did (on the same versions of the libraries).

    Raises
    ------
    ModelFileError
        For every file that is not a well-formed model file written by
        :func:`save_model`: not a zip of exactly its three members, a member
        larger than its cap (:data:`MAX_JSON_BYTES`, :data:`MAX_ARRAYS_BYTES`,
        :data:`MAX_WEIGHTS_BYTES`), a class outside the four public estimators,
        an unknown key, value type, parameter or attribute, values out of range,
        anything that could run code (pickled objects), weights that do not match
        the network described or are not finite, a missing or newer format
        version. See docs/persistence.md for the full list.
    FileNotFoundError
        If there is no file at ``path`` (other errors opening it, such as
        ``PermissionError``, are raised as they are).
    TypeError
        If ``path`` is not a str or an ``os.PathLike``.

    Warns
    -----
    UserWarning
        When the file was written with another version of gatedforecast, sktime
        or torch.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from gatedforecast import GRUForecaster, load_model
    >>> forecaster = GRUForecaster(window_length=12, max_epochs=2, random_state=0)
    >>> forecaster = forecaster.fit(load_airline(), fh=[1, 2, 3])
    >>> forecaster.save_model("airline.gfm").name
    'airline.gfm'
    >>> loaded = load_model("airline.gfm")
    >>> loaded.predict().equals(forecaster.predict())
    True
    """
    _check_path(path, "load_model")
    return _load_members(_read(path), path)
