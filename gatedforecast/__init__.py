"""GRU and LSTM forecasters for sktime and scikit-learn on one PyTorch core."""

from .devices import resolve_device
from .forecasting import GRUForecaster, LSTMForecaster
from .persistence import ModelFileError, load_model, save_model
from .regression import GRURegressor, LSTMRegressor
from .training import TrainingDivergedError
from .windows import make_windows

__version__ = "0.1.0"

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
