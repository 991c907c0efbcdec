"""Model files that load without running code: :func:`save_model` and :func:`load_model`.

``pickle`` (and sktime's ``save``, joblib, ``torch.load`` without ``weights_only``)
can run arbitrary code while loading, so a model file from elsewhere is as dangerous
as a script from elsewhere. A model file written by :func:`save_model` holds data
only, and :func:`load_model` reads it without unpickling anything:

* ``model.json``: the format and its version, the class (one of the registered
  estimators), its constructor parameters, the package, sktime and torch versions,
  and the estimator's declared fitted state (:mod:`gatedforecast._model_state`:
  the same keys for every file of a class and format version), in an explicit
  JSON encoding (:mod:`gatedforecast._model_values`);
* ``arrays.npz``: numeric arrays (context windows, calibration residuals, scaler
  statistics, history columns), read with ``numpy.load(..., allow_pickle=False)``;
* ``weights.pt``: the network weights as ``state_dict`` tensors, read with
  ``torch.load(..., weights_only=True, map_location="cpu")``.

The three sit in one zip file. Only registered classes are ever built from a file
(:mod:`gatedforecast._registry`); anything else in it (another member, an unknown
class, type or key) is refused with :class:`ModelFileError`. The work of loading is
bounded before anything in the file is trusted: each member's size is capped
(:data:`MAX_JSON_BYTES`, :data:`MAX_ARRAYS_BYTES`, :data:`MAX_WEIGHTS_BYTES`), both
as the zip declares it and as it is read, and a network is built only once its
description matches the stored weights' shapes. :func:`save_model` loads what it
is about to write the way :func:`load_model` will, and writes nothing that load
would refuse. Files of format version 1 (which stored every attribute) still load:
:mod:`gatedforecast._persistence_v1` converts them to the declared state.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ._model_archive import (
    ARRAYS,
    MALFORMED,
    MEMBERS,  # noqa: F401 (the member names, for those who read a file)
    MODEL_JSON,
    WEIGHTS,
    ModelFileError,
    check_path,
    check_sizes,
    pack,
    parse_arrays,
    parse_json,
    parse_weights,
    read_archive,
    write_atomically,
)
from ._model_state import SCHEMAS, check_state, with_added
from ._model_values import TAG, ValueDecoder, ValueEncoder, array_keys
from ._persistence_v1 import V1Decoder, decode_attributes, state_from_v1
from ._registry import lookup, registered

__all__ = ["ModelFileError", "load_model", "save_model"]

FORMAT = "gatedforecast-model"
#: the format version save_model writes; load_model reads this one and all before
FORMAT_VERSION = 2
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


def _schema(cls) -> dict:
    return SCHEMAS[cls._state_schema]


# ---------------------------------------------------------------------- save
def _check_savable(estimator) -> str:
    name = type(estimator).__name__
    if lookup(name) is not type(estimator):
        raise ModelFileError(
            f"save_model saves {', '.join(sorted(registered()))}; got "
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
    check_path(path, "save_model")
    name = _check_savable(estimator)
    state = estimator._fitted_state()
    check_state(_schema(type(estimator)), state)
    encoder = ValueEncoder()
    params = estimator.get_params(deep=False)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": name,
        "versions": _versions(),
        "params": {k: encoder.encode(v, f"parameter {k}") for k, v in params.items()},
        "state": encoder.encode(state, "state"),
    }
    members = pack(document, encoder.arrays, encoder.weights)
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
    write_atomically(path, members)
    return path


# ---------------------------------------------------------------------- load
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
    cls = lookup(name)
    if cls is None:
        raise ModelFileError(
            f"{source} names the class {name!r:.80}, which is not one of "
            f"{sorted(registered())}; it is refused."
        )
    for key in ("versions", "params", "state"):
        if not isinstance(document[key], dict) or TAG in document[key]:
            raise ModelFileError(f"{source}: '{key}' in {MODEL_JSON} must be a mapping")
    return cls


#: parameters added after model files were first written, with the value that a
#: file written before them was fitted with (not today's default)
PARAMETERS_ADDED = {
    "ensemble_size": 1,
    "bptt_chunk": None,
    "mixed_precision": None,
    "torch_compile": False,
}


def _parameters(cls, params: dict) -> dict:
    accepted = {
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ModelFileError(
            f"sets unknown parameters {unknown!r:.200} of {cls.__name__}."
        )
    added = {k: v for k, v in PARAMETERS_ADDED.items() if k in accepted}
    return {**added, **params}


def _load_members(members: dict, source):
    """The estimator that the three members of a model file describe, each member
    checked before anything is built from it; ``source`` names the file."""
    caps = _caps()
    check_sizes(members, source, caps)
    document = parse_json(members[MODEL_JSON], source, MAX_DEPTH)
    cls = _check_document(document, source)
    arrays = parse_arrays(members[ARRAYS], source, array_keys(document), caps)
    weights = parse_weights(members[WEIGHTS], source, caps)
    _check_versions(source, document["versions"])
    version1 = document["format_version"] == 1
    decoder = (V1Decoder if version1 else ValueDecoder)(arrays, weights)
    schema = _schema(cls)
    try:
        params = _parameters(cls, decoder.decode(document["params"]))
        if version1:
            attributes = decode_attributes(
                document["state"], decoder, cls._state_schema
            )
            state = state_from_v1(cls._state_schema, attributes)
            state = with_added(schema, state)
            check_state(schema, state, "the state converted from format version 1")
        else:
            # keys added since the file was written take what it was fitted with
            state = with_added(schema, decoder.decode(document["state"]))
            check_state(schema, state)
        estimator = cls(**params)
        estimator._restore_fitted_state(state)
    except ModelFileError as error:
        raise ModelFileError(f"{source}: {error}") from None
    except MALFORMED as error:
        raise ModelFileError(
            f"{source} is damaged or was not written by save_model: "
            f"{type(error).__name__}: {error}"
        ) from error
    unused = decoder.unused()
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
        A file written by ``estimator.save_model(path)``, in this version's file
        format or an earlier one.

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
        :data:`MAX_WEIGHTS_BYTES`), a class that is not registered, an unknown
        key, value type or parameter, a fitted state with other keys or kinds
        than the class declares, values out of range, anything that could run
        code (pickled objects), weights that do not match the network described
        or are not finite, a missing or newer format version. See
        docs/persistence.md for the full list.
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
    check_path(path, "load_model")
    return _load_members(read_archive(path, _caps()), path)
