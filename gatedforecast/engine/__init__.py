"""The pandas-free engine under both faces.

The sktime forecasters (:mod:`gatedforecast.forecasting`) and the scikit-learn
regressors (:mod:`gatedforecast.regression`) turn their inputs into numpy arrays
and call this package; it builds the network (:mod:`.setup`), trains it
(:mod:`.fitting`), forecasts in batches (:mod:`.rollout`), calibrates
(:mod:`.calibration`) and holds a forecaster's fitted state
(:class:`SeriesEngine`, :mod:`.model`); interval methods are classes chosen by
name (:mod:`.interval_methods`). Nothing here imports pandas.
"""

from .effect import start_effect
from .fitting import rollback_on_failure, train_on_samples, train_on_series
from .interval_methods import INTERVAL_METHODS, IntervalContext, interval_method
from .model import SeriesEngine
from .rollout import PREDICT_BATCH, Runtime, predict_sequences, roll_out
from .setup import _Setup, build_network, network_for, resolve_ensemble_size

__all__ = [
    "INTERVAL_METHODS",
    "PREDICT_BATCH",
    "IntervalContext",
    "Runtime",
    "SeriesEngine",
    "_Setup",
    "build_network",
    "interval_method",
    "network_for",
    "resolve_ensemble_size",
    "predict_sequences",
    "rollback_on_failure",
    "roll_out",
    "start_effect",
    "train_on_samples",
    "train_on_series",
]
