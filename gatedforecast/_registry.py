"""The estimator classes that model files may name, registered by the classes.

A public estimator class registers itself with the :func:`register_model`
decorator where it is defined; :mod:`gatedforecast.persistence` builds only
registered classes from a file, and imports none of them itself. This module
imports nothing from the package, so any module may use it.
"""

from __future__ import annotations

import importlib

__all__ = ["lookup", "register_model", "registered"]

_MODELS: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: let model files name ``cls`` (by its ``__name__``).

    The class must define ``_fitted_state`` and ``_restore_fitted_state`` and name
    its declared state in ``_state_schema`` (see :mod:`gatedforecast._model_state`).
    """
    for method in ("_fitted_state", "_restore_fitted_state"):
        if not callable(getattr(cls, method, None)):
            raise TypeError(f"{cls.__qualname__} has no {method} method to register")
    if not isinstance(getattr(cls, "_state_schema", None), str):
        raise TypeError(f"{cls.__qualname__} names no _state_schema to register")
    known = _MODELS.get(cls.__name__)
    if known is not None and known is not cls:
        raise ValueError(
            f"another class named {cls.__name__} is registered already "
            f"({known.__module__}.{known.__qualname__})"
        )
    _MODELS[cls.__name__] = cls
    return cls


def lookup(name) -> type | None:
    """The registered class called ``name``, or None.

    A public class of the package that is not registered yet is one whose module
    has not been imported (``import gatedforecast`` imports its modules on first
    use): it is reached through the package's own table of public names, which
    imports its module and so registers it.
    """
    if not isinstance(name, str):
        return None
    if name not in _MODELS:
        package = importlib.import_module(__package__)
        if name in getattr(package, "__all__", ()):
            getattr(package, name)
    return _MODELS.get(name)


def registered() -> dict[str, type]:
    """Every registered class by name, the package's public classes included."""
    package = importlib.import_module(__package__)
    for name in getattr(package, "__all__", ()):
        if name[:1].isupper():
            getattr(package, name)
    return dict(_MODELS)
