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
file; anything else in it (another member, an unknown class or type) is refused with
:class:`ModelFileError`.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import io
import json
import keyword
import os
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
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
    from .forecasting import _Setup
    from .scaling import WindowTransform

    return {"_Setup": _Setup, "WindowTransform": WindowTransform}


def _objects() -> dict:
    from .scaling import SeriesScaler

    return {"SeriesScaler": SeriesScaler}


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


# ---------------------------------------------------------------------- encoding
class _Encoder:
    """Turns fitted state into JSON, numeric arrays and weight tensors."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.weights: dict[str, dict] = {}

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
                "tz": None if value.tz is None else str(value.tz),
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
                "tz": None if index.tz is None else str(index.tz),
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
        return {
            TAG: "network",
            "spec": self.encode(spec, f"{where}.spec"),
            "weights": key,
            "training": network.training,
        }


# ---------------------------------------------------------------------- decoding
class _Decoder:
    """Builds values back from model.json, the arrays and the weights; only the
    types the encoder writes, and only allow-listed classes."""

    def __init__(self, arrays: dict, weights: dict) -> None:
        self.arrays = arrays
        self.weights = weights

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if TAG not in value:
            return {k: self.decode(v) for k, v in value.items()}
        kind = value[TAG]
        method = (
            getattr(self, f"_decode_{kind}", None) if isinstance(kind, str) else None
        )
        if method is None:
            raise ModelFileError(f"unknown value type {kind!r} in {MODEL_JSON}")
        return method(value)

    def _array(self, key) -> np.ndarray:
        if key not in self.arrays:
            raise ModelFileError(f"{ARRAYS} lacks the array {key!r}")
        return self.arrays[key]

    def _decode_np_scalar(self, v):
        dtype = np.dtype(v["dtype"])
        if dtype.kind not in NUMERIC_KINDS + "U":
            raise ModelFileError(f"unsupported scalar dtype {dtype}")
        return np.array(v["value"], dtype=dtype)[()]

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
        stamp = pd.Timestamp(int(v["value"]), unit="ns", tz=v["tz"])
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
        return cls(**{k: self.decode(x) for k, x in v["fields"].items()})

    def _decode_object(self, v):
        cls = _objects().get(v["class"])
        if cls is None:
            raise ModelFileError(f"class {v['class']!r} is not on the allow-list")
        obj = cls.__new__(cls)
        for key, value in self.decode(v["state"]).items():
            _set_attribute(obj, key, value)
        return obj

    def _decode_network(self, v):
        key = v["weights"]
        if key not in self.weights:
            raise ModelFileError(f"{WEIGHTS} lacks the weights {key!r}")
        network = _build_network(self.decode(v["spec"]))
        network.load_state_dict(self.weights[key])
        return network.train(bool(v["training"]))

    def _decode_index(self, v):
        if not isinstance(v, dict) or v.get(TAG) != "index":
            raise ModelFileError(f"expected an index in {MODEL_JSON}, got {v!r:.80}")
        kind, name = v["kind"], self.decode(v.get("name"))
        if kind == "multi":
            levels = [self._decode_index(level) for level in v["levels"]]
            names = [self.decode(n) for n in v["names"]]
            return pd.MultiIndex.from_arrays(levels, names=names)
        if kind == "range":
            return pd.RangeIndex(v["start"], v["stop"], v["step"], name=name)
        if kind == "datetime":
            values = np.asarray(v["values"], dtype=np.int64)
            index = pd.DatetimeIndex(values.view(f"datetime64[{v['unit']}]"))
            if v["tz"] is not None:
                index = index.tz_localize("UTC").tz_convert(v["tz"])
            return pd.DatetimeIndex(index, freq=v["freq"], name=name)
        if kind == "period":
            ordinals = np.asarray(v["ordinals"], dtype=np.int64)
            return pd.PeriodIndex.from_ordinals(ordinals, freq=v["freq"], name=name)
        if kind == "timedelta":
            values = np.asarray(v["values"], dtype=np.int64)
            return pd.TimedeltaIndex(
                values.view(f"timedelta64[{v['unit']}]"), name=name
            )
        if kind == "values":
            values = [self.decode(x) for x in v["values"]]
            return pd.Index(values, dtype=v["dtype"], name=name, tupleize_cols=False)
        raise ModelFileError(f"unknown index kind {kind!r} in {MODEL_JSON}")


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _set_attribute(obj, name, value) -> None:
    """Set a decoded attribute, refusing names that are not plain attributes."""
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name.startswith("__")
    ):
        raise ModelFileError(f"{MODEL_JSON} names an invalid attribute {name!r}")
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
        Where to write the file (a zip archive); an existing file is replaced,
        and a failed save leaves no file behind.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ModelFileError
        If the estimator is not fitted, has a custom optimizer or loss, was fitted
        per series (``global_model=False`` on a panel), or holds something that is
        not plain data.

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

    path = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with (
            os.fdopen(handle, "wb") as file,
            zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            archive.writestr(MODEL_JSON, text)
            archive.writestr(ARRAYS, arrays.getvalue())
            archive.writestr(WEIGHTS, weights.getvalue())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------- load
def _read(path) -> tuple[dict, dict, dict]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(
            f"{path} is not a gatedforecast model file ({error}); model files are "
            "written by save_model."
        ) from None
    with archive:
        names = archive.namelist()
        unexpected = sorted(set(names) - set(MEMBERS))
        missing = sorted(set(MEMBERS) - set(names))
        if unexpected or missing or len(names) != len(MEMBERS):
            raise ModelFileError(
                f"{path} is not a model file written by save_model: it should hold "
                f"exactly {list(MEMBERS)}"
                + (f"; it has unexpected member(s) {unexpected}" if unexpected else "")
                + (f"; it lacks {missing}" if missing else "")
                + ". It is refused without reading it."
            )
        try:
            document = json.loads(archive.read(MODEL_JSON))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelFileError(
                f"{path}: {MODEL_JSON} is not JSON ({error})"
            ) from None
        try:
            with np.load(io.BytesIO(archive.read(ARRAYS)), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise ModelFileError(
                f"{path}: {ARRAYS} holds something other than plain numeric arrays "
                f"({error}); it is refused, as reading it could run code."
            ) from None
        try:
            weights = torch.load(
                io.BytesIO(archive.read(WEIGHTS)),
                weights_only=True,
                map_location="cpu",
            )
        except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError) as error:
            raise ModelFileError(
                f"{path}: {WEIGHTS} holds something other than tensors ({error}); it "
                "is refused, as reading it could run code."
            ) from None
    if not isinstance(document, dict) or not isinstance(weights, dict):
        raise ModelFileError(f"{path} is not a model file written by save_model.")
    return document, arrays, weights


def _check_versions(path, saved: dict) -> None:
    if not isinstance(saved, dict):
        raise ModelFileError(f"{path}: 'versions' must be a mapping")
    here = _versions()
    differ = [
        f"{name} {saved.get(name)} (here {here[name]})"
        for name in ("gatedforecast", "sktime", "torch")
        if saved.get(name) != here[name]
    ]
    if differ:
        warnings.warn(
            f"{path} was saved with {', '.join(differ)}. It loads, but predictions "
            "may differ slightly; fit again with these versions for exact results.",
            UserWarning,
            stacklevel=3,
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
        If the file is not a model file written by :func:`save_model`, names a
        class outside the four public estimators, or holds anything that could
        run code (pickled objects, unknown members or types).

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
    document, arrays, weights = _read(path)
    if document.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a {FORMAT} file.")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version!r}; this gatedforecast reads "
            f"versions up to {FORMAT_VERSION}. Upgrade gatedforecast to load it."
        )
    name = document.get("class")
    cls = _estimators().get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(
            f"{path} names the class {name!r}, which is not one of "
            f"{sorted(_estimators())}; it is refused."
        )
    _check_versions(path, document.get("versions"))
    decoder = _Decoder(arrays, weights)
    try:
        params = decoder.decode(document["params"])
        state = decoder.decode(document["state"])
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"{path} is damaged or was not written by save_model: {error}"
        ) from None
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise ModelFileError(f"{path} is not a model file written by save_model.")
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(params) - set(accepted) - {"self"})
    if unknown:
        raise ModelFileError(f"{path} sets unknown parameters {unknown} of {name}.")
    estimator = cls(**params)
    for key, value in state.items():
        _set_attribute(estimator, key, value)
    return estimator
