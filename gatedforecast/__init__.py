"""GRU and LSTM forecasters for sktime and scikit-learn on one PyTorch core.

The public names are imported on first use, so ``import gatedforecast`` (and the
``gatedforecast`` command's ``--help``) does not load torch and sktime up front.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_WHERE = {
    "GRUForecaster": "forecasting",
    "LSTMForecaster": "forecasting",
    "GRURegressor": "regression",
    "LSTMRegressor": "regression",
    "ModelFileError": "persistence",
    "load_model": "persistence",
    "save_model": "persistence",
    "TrainingDivergedError": "training",
    "make_windows": "windows",
    "resolve_device": "devices",
}

__all__ = [
    "GRUForecaster",
    "GRURegressor",
    "LSTMForecaster",
    "LSTMRegressor",
    "ModelFileError",
    "TrainingDivergedError",
    "load_model",
    "make_windows",
    "resolve_device",
    "save_model",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .devices import resolve_device
    from .forecasting import GRUForecaster, LSTMForecaster
    from .persistence import ModelFileError, load_model, save_model
    from .regression import GRURegressor, LSTMRegressor
    from .training import TrainingDivergedError
    from .windows import make_windows


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
