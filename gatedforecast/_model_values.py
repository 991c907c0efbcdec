"""Values in a model file: an explicit encoding to JSON, numeric arrays and weights.

Plain JSON holds ``None``, bools, ints, floats, strings, lists and mappings with
string keys. Every other value a model file holds is a JSON object tagged with
:data:`TAG` naming its type, with exactly the keys of that type (:data:`KINDS`):
numpy scalars, tuples, numeric arrays (stored in ``arrays.npz`` under a key),
arrays of strings, tensors, torch devices, ``Timestamp``, ``Period``,
``Timedelta``, frequencies, pandas indexes, data frames of numeric columns,
sktime's ``ForecastingHorizon`` and networks (their description in JSON, their
weights in ``weights.pt``). No value is rebuilt by a class name read from a file.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import torch
from dateutil import tz as dateutil_tz
from pandas._libs.tslibs.timezones import tz_compare
from pandas.tseries.frequencies import to_offset
from sktime.forecasting.base import ForecastingHorizon

from ._model_archive import ARRAYS, MODEL_JSON, NUMERIC_KINDS, WEIGHTS, ModelFileError
from ._model_networks import (
    build_network,
    check_spec,
    check_weights_fit,
    network_spec,
    plain_attributes,
)
from .networks import ForecastNetwork

#: the key that marks an encoded (non-JSON) value in model.json
TAG = "__gf__"

#: the keys of each encoded value type, besides the tag; all required
KINDS = {
    "np_scalar": ("dtype", "value"),
    "tuple": ("items",),
    "ndarray": ("key",),
    "str_array": ("dtype", "shape", "values"),
    "tensor": ("key",),
    "device": ("value",),
    "timestamp": ("value", "unit", "tz"),
    "period": ("ordinal", "freq"),
    "timedelta": ("value", "unit"),
    "offset": ("value",),
    "index": ("kind",),  # and the keys of its kind, in INDEX_KINDS
    "frame": ("index", "columns", "data"),
    "fh": ("values", "is_relative", "freq"),
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


def refuse(where: str, value, why: str = "") -> ModelFileError:
    return ModelFileError(
        f"save_model cannot store {where}, a {type(value).__module__}."
        f"{type(value).__qualname__}{why}: model files hold only plain data, "
        "arrays and network weights. Save this model with pickle or sktime's "
        "save instead (both run code when loading: load only files you trust)."
    )


def check_keys(value: dict, keys, kind: str) -> None:
    """Refuse an encoded value with other keys than its type writes."""
    expected = {TAG, *keys}
    if set(value) != expected:
        unknown = sorted(map(str, set(value) - expected))
        missing = sorted(expected - set(value))
        raise ModelFileError(
            f"a {kind!r} value in {MODEL_JSON} has unknown keys {unknown} or lacks "
            f"{missing}"
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


def encode_tz(tz, where: str):
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
            if encoded is not None and tz_compare(decode_tz(encoded), tz):
                return encoded
        except (LookupError, TypeError, ValueError, ModelFileError):
            # a zone name pandas does not know: ZoneInfoNotFoundError is a KeyError
            continue
    raise _zone_error(tz, where, f"has no zone name ({str(tz)!r} is not one)")


def decode_tz(value):
    if value is None:
        return None
    if isinstance(value, str):
        # pandas' own reading of a zone name, as in tz_convert(value)
        return pd.Timestamp(0, tz=value).tz
    if isinstance(value, dict) and value.get(TAG) == "fixed_tz":
        check_keys(value, ("type", "seconds", "name"), "fixed_tz")
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
class ValueEncoder:
    """Turns values into JSON, collecting numeric arrays and network weights."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.weights: dict[str, dict] = {}

    def _array(self, values: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(values)
        return key

    def encode(self, value, where: str):
        if isinstance(value, np.generic):
            # before int and float: np.float64 is a float, and must stay one
            if value.dtype.kind not in NUMERIC_KINDS + "U":
                raise refuse(where, value)
            return {TAG: "np_scalar", "dtype": value.dtype.str, "value": value.item()}
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {TAG: "tuple", "items": items}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value) or TAG in value:
                raise refuse(where, value, " with keys other than names")
            return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return self._ndarray(value, where)
        if isinstance(value, torch.Tensor):
            if value.dtype == torch.bfloat16 or value.is_sparse:
                raise refuse(where, value, f" of dtype {value.dtype}")
            array = value.detach().cpu().numpy()
            return {TAG: "tensor", "key": self._array(array)}
        if isinstance(value, torch.device):
            return {TAG: "device", "value": str(value)}
        if isinstance(value, torch.nn.Module):
            return self._network(value, where)
        if isinstance(value, pd.Timestamp):
            return {
                TAG: "timestamp",
                "value": value.value,
                "unit": value.unit,
                "tz": encode_tz(value.tz, where),
            }
        if isinstance(value, pd.Period):
            return {TAG: "period", "ordinal": value.ordinal, "freq": value.freqstr}
        if isinstance(value, pd.Timedelta):
            return {TAG: "timedelta", "value": value.value, "unit": value.unit}
        if isinstance(value, pd.offsets.BaseOffset):
            return {TAG: "offset", "value": value.freqstr}
        if isinstance(value, pd.Index):
            return self._index(value, where)
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
        raise refuse(where, value)

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
        raise refuse(where, value, f" of dtype {value.dtype}")

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
                "tz": encode_tz(index.tz, where),
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
        if type(network) is not ForecastNetwork:
            raise refuse(where, network)
        spec = network_spec(network)
        rebuilt = build_network(spec)
        state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        try:
            rebuilt.load_state_dict(state)
        except RuntimeError as error:
            raise refuse(where, network, f" ({error})") from None
        if plain_attributes(rebuilt) != plain_attributes(network):
            raise refuse(where, network, " with settings save_model does not know")
        key = f"w{len(self.weights)}"
        self.weights[key] = state
        return {
            TAG: "network",
            "spec": self.encode(spec, f"{where}.spec"),
            "weights": key,
            "training": network.training,
        }


# ---------------------------------------------------------------------- decoding
def array_keys(document) -> set:
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


class ValueDecoder:
    """Builds values back from model.json, the arrays and the weights: only the
    types of :data:`KINDS`, each with exactly its keys. Records which arrays and
    weights it used."""

    kinds = KINDS

    def __init__(self, arrays: dict, weights: dict) -> None:
        self.arrays = arrays
        self.weights = weights
        self.used_arrays: set = set()
        self.used_weights: set = set()

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if TAG not in value:
            return {k: self.decode(v) for k, v in value.items()}
        kind = value[TAG]
        if not isinstance(kind, str) or kind not in self.kinds:
            raise ModelFileError(f"unknown value type {kind!r:.80} in {MODEL_JSON}")
        if kind != "index":
            check_keys(value, self.kinds[kind], kind)
        return getattr(self, f"_decode_{kind}")(value)

    def unused(self) -> list:
        """The arrays and weights that nothing decoded used."""
        return sorted(set(self.arrays) - self.used_arrays) + sorted(
            set(self.weights) - self.used_weights
        )

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

    def _decode_timestamp(self, v):
        stamp = pd.Timestamp(int(v["value"]), unit="ns", tz=decode_tz(v["tz"]))
        return stamp.as_unit(v["unit"])

    def _decode_period(self, v):
        return pd.Period(ordinal=int(v["ordinal"]), freq=v["freq"])

    def _decode_timedelta(self, v):
        return pd.Timedelta(int(v["value"]), unit="ns").as_unit(v["unit"])

    def _decode_offset(self, v):
        return to_offset(v["value"])

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

    def _decode_network(self, v):
        key = v["weights"]
        if not isinstance(key, str) or key not in self.weights:
            raise ModelFileError(f"{WEIGHTS} lacks the weights {key!r:.80}")
        if type(v["training"]) is not bool:
            raise ModelFileError(f"invalid network mode {v['training']!r:.40}")
        self.used_weights.add(key)
        spec = check_spec(self.decode(v["spec"]))
        check_weights_fit(spec, self.weights[key])
        network = build_network(spec)
        network.load_state_dict(self.weights[key])
        return network.train(v["training"])

    def _decode_index(self, v):
        if not isinstance(v, dict) or v.get(TAG) != "index":
            raise ModelFileError(f"expected an index in {MODEL_JSON}, got {v!r:.80}")
        kind = v.get("kind")
        if not isinstance(kind, str) or kind not in INDEX_KINDS:
            raise ModelFileError(f"unknown index kind {kind!r:.80} in {MODEL_JSON}")
        check_keys(v, ("kind", *INDEX_KINDS[kind]), f"{kind} index")
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
            tz = decode_tz(v["tz"])
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
