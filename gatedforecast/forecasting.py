"""sktime forecasters: one private base, one thin public class per cell.

The base is orchestration: sktime's inputs go through the pandas bookkeeping of
:mod:`gatedforecast._series_io` into arrays, the engine
(:mod:`gatedforecast.engine`) trains, forecasts and calibrates on them, and the
bookkeeping turns its arrays back into sktime's outputs. The settings rules that
read the estimator's parameters (head, season, window, baseline, levels) are in
:mod:`gatedforecast._forecaster_setup`, the fitted state a model file holds in
:mod:`gatedforecast._forecaster_state`.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster, ForecastingHorizon

from ._distribution_face import DistributionForecasts
from ._docs import class_doc
from ._fitted import FittedNetworkMixin
from ._forecaster_setup import ForecasterSetup
from ._forecaster_state import ForecasterState
from ._params import check_params, seed_from
from ._pretraining import Pretraining
from ._registry import register_model
from ._series_io import SeriesBookkeeping, _largest_step
from .engine import INTERVAL_METHODS as INTERVAL_METHOD_CLASSES
from .engine import (
    IntervalContext,
    Runtime,
    SeriesEngine,
    interval_method,
    rollback_on_failure,
)
from .intervals import unresolved_coverages, warn_unresolved
from .networks import count_parameters
from .panels import join_forecasts
from .scaling import check_finite_output

__all__ = ["GRUForecaster", "LSTMForecaster"]

STRATEGIES = ("direct", "recursive")
#: the most roll-out passes (forward calls of the network per series) a predict makes
MAX_ROLL_OUT_PASSES = 10_000
#: the values ``interval_method`` takes (the engine's registry, and None)
INTERVAL_METHODS = (*INTERVAL_METHOD_CLASSES, None)
#: how predict refuses forecasts beyond the float64 range
OVERFLOW_FIX = (
    "Divide y by a large constant (for example 1e100) before fitting, and "
    "multiply the forecasts back."
)


class _RecurrentForecaster(
    DistributionForecasts,
    Pretraining,
    ForecasterSetup,
    ForecasterState,
    SeriesBookkeeping,
    FittedNetworkMixin,
    BaseForecaster,
):
    """Shared implementation of :class:`GRUForecaster` and :class:`LSTMForecaster`."""

    _tags = {
        "authors": ["gatedforecast developers"],
        "maintainers": ["gatedforecast developers"],
        "python_dependencies": "torch",
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "capability:multivariate": True,
        "capability:exogenous": True,
        "capability:non_contiguous_X": False,
        "capability:insample": True,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": True,
        "capability:update": True,
        "capability:random_state": True,
        "capability:pretrain": True,
        "pretrain:fitted_params": [
            "pretrained_network_",
            "pretrained_setup_",
            "pretrained_history_",
        ],
        "property:randomness": "derandomized",
        "requires-fh-in-fit": False,
        "fit_is_empty": False,
    }

    # the forecaster keeps its own context window, so sktime need not store y
    _config = {"remember_data": False}

    def __init__(
        self,
        window_length: int | str | None = "auto",
        hidden_sizes: int | tuple[int, ...] = 64,
        dropout: float = 0.0,
        bidirectional: bool = False,
        attention: bool = False,
        ensemble_size: int | str = "auto",
        strategy: str = "direct",
        horizon: int | None = None,
        past_covariates: list | None = None,
        static_covariates: list | None = None,
        scaler: str | None = "window",
        baseline: str | None = "auto",
        seasonal_period: int | str | None = "auto",
        loss: str = "mae",
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 100,
        steps_per_epoch: int | str | None = "auto",
        gradient_clip: float | None = 1.0,
        bptt_chunk: int | None = None,
        validation_size: int | float | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
        lr_schedule: str | None = None,
        update_epochs: int | None = None,
        global_model: bool = True,
        fine_tune_epochs: int = 0,
        interval_method: str | None = "conformal",
        quantiles: tuple[float, ...] | None = None,
        distribution: str | None = None,
        calibration_size: int | str = "auto",
        n_samples: int = 100,
        device: str = "auto",
        n_threads: int | None = None,
        distributed: bool | str = "auto",
        mixed_precision: str | None = None,
        torch_compile: bool = False,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.window_length = window_length
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.attention = attention
        self.ensemble_size = ensemble_size
        self.strategy = strategy
        self.horizon = horizon
        self.past_covariates = past_covariates
        self.static_covariates = static_covariates
        self.scaler = scaler
        self.baseline = baseline
        self.seasonal_period = seasonal_period
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.steps_per_epoch = steps_per_epoch
        self.gradient_clip = gradient_clip
        self.bptt_chunk = bptt_chunk
        self.validation_size = validation_size
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.lr_schedule = lr_schedule
        self.update_epochs = update_epochs
        self.global_model = global_model
        self.fine_tune_epochs = fine_tune_epochs
        self.interval_method = interval_method
        self.quantiles = quantiles
        self.distribution = distribution
        self.calibration_size = calibration_size
        self.n_samples = n_samples
        self.device = device
        self.n_threads = n_threads
        self.distributed = distributed
        self.mixed_precision = mixed_precision
        self.torch_compile = torch_compile
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()
        # sktime stores y here only when a user turns remember_data back on
        self._y = None
        self._X = None

    def __dynamic_tags__(self):
        """Panels reach ``_fit`` whole for a global model; otherwise sktime fits one
        clone per series."""
        if self.global_model is False:
            self.set_tags(y_inner_mtype="pd.DataFrame", X_inner_mtype="pd.DataFrame")
        self.set_tags(**{"capability:pred_int": self.interval_method is not None})

    def _check_params(self) -> None:
        check_params(self, "forecaster")

    # ------------------------------------------------------------------ sktime API
    def _runtime(self) -> Runtime:
        """Where the engine predicts: the training device when it is still there."""
        return Runtime(self._predict_device(), self.n_threads)

    def _fit(self, y: pd.DataFrame, X=None, fh=None):
        self._check_params()
        settings = self._core_settings()
        pretrained = getattr(self, "pretrained_network_", None)
        keys, frames, values, x_columns, past, statics, categories = (
            self._collect_covariates(
                y, X, None if pretrained is None else self.pretrained_setup_
            )
        )
        self._name_cutoff_freq()
        if pretrained is None:
            setup = self._new_setup(
                y, keys, values, x_columns, fh, past, statics, categories
            )
            settings = self._with_ensemble_size(settings, setup, values)
            epochs = settings.config.max_epochs
        else:
            setup = self.pretrained_setup_
            self._check_pretrained_fits(
                setup, y, x_columns, keys, values, past, statics
            )
            epochs = self.fine_tune_epochs
        self._check_counts(values, setup)
        values = self._series_values(keys, values, setup, statics)
        self.device_ = settings.device
        # sktime hands pretrained attributes over by reference: the engine trains
        # a copy of the pretrained network, never the network itself
        engine, result = SeriesEngine.fit(
            values,
            setup,
            settings,
            epochs,
            calibrate=self._calibrates(),
            calibration_size=self.calibration_size,
            calibration_horizon=max(setup.horizon, _largest_step(fh, self.cutoff)),
            runtime=self._runtime(),
            pretrained=pretrained,
        )
        self._set_engine(engine)
        self._record_history(result, continued=False)
        self.n_series_ = len(keys)
        self._columns = y.columns
        self._x_columns = x_columns
        self._index_names = list(y.index.names)
        self._keys = keys
        self._last_index = [f.index[-1] for f in frames]
        # warnings that predict gives once per fitted model
        self._warnings_given = []
        return self

    def _set_engine(self, engine: SeriesEngine) -> None:
        """Keep ``engine`` and the public attributes read from it."""
        setup = engine.setup
        self.network_ = engine.network
        self._engine = engine
        self.window_length_ = setup.window_length
        self.horizon_ = setup.horizon
        self.seasonal_period_ = setup.transform.seasonal_period
        self.baseline_ = setup.transform.baseline
        self.n_parameters_ = count_parameters(engine.network)
        self.ensemble_size_ = engine.network.n_members
        self.calibration_epochs_ = engine.calibration_epochs

    def _steps_to_forecast(self, steps: list[np.ndarray]) -> int:
        """The furthest step to forecast after the series' ends (0 when every
        step is in-sample); refuses one that needs an endless roll-out."""
        n_steps = max(0, int(max(s.max() for s in steps)))
        passes = -(-n_steps // self.horizon_)
        if passes > MAX_ROLL_OUT_PASSES:
            raise ValueError(
                f"fh reaches {n_steps} steps past the cutoff: {passes:,} roll-out "
                f"passes of a network whose head predicts {self.horizon_} step(s), "
                f"more than the {MAX_ROLL_OUT_PASSES:,} allowed. Forecasts that far "
                "out feed on their own forecasts; forecast fewer steps, or fit with "
                "a longer head (a larger fh in fit, or horizon=...)."
            )
        return n_steps

    def _predict(self, fh, X=None):
        engine = self._engine
        steps, indexes = self._forecast_index(fh)
        n_steps = self._steps_to_forecast(steps)
        self._warn_past_held_once(n_steps)
        scaled = None
        if n_steps:
            scaled = engine.forecast(
                engine.contexts(),
                n_steps,
                self._future_covariates(X, n_steps),
                self._runtime(),
            )
        targets = slice(0, engine.setup.n_targets)
        if all(s is steps[0] for s in steps) and steps[0].min() > 0:
            # series that end together: one vectorised inverse scaling
            chosen = scaled[:, steps[0] - 1]
            series = np.arange(len(chosen))
            values = engine.scaler.inverse_transform(chosen, series, targets)
            values = values.reshape(-1, values.shape[-1])
            check_finite_output(values, "forecasts", OVERFLOW_FIX)
        else:
            values = self._mixed_forecasts(steps, scaled)
        return join_forecasts(
            self._keys, self._index_names, indexes, values, self._columns
        )

    def _mixed_forecasts(self, steps, scaled) -> list[np.ndarray]:
        """Per series: the forecasts of its ``steps`` on the data's scale, from
        the roll-out ``scaled`` after its end and in-sample before it (NaN where
        no full window precedes a point)."""
        engine = self._engine
        targets = slice(0, engine.setup.n_targets)
        past = None
        if any(s.min() <= 0 for s in steps):
            past = self._in_sample(steps, self._runtime())
        values = []
        for i, s in enumerate(steps):
            ahead = s > 0
            if past is None:
                block, windowed = scaled[i, s - 1], ahead
            else:
                block = past[i]
                if ahead.any():
                    block[ahead] = scaled[i, s[ahead] - 1]
                # points with a full window before them, in which every target
                # was observed (the others stay NaN)
                position = len(engine.series[i]) - 1 + s
                windowed = position >= engine.setup.window_length
                windowed &= ~np.isnan(block).any(axis=-1)
            block = engine.scaler.inverse_transform(block, i, targets)
            check_finite_output(block[windowed], "forecasts", OVERFLOW_FIX)
            values.append(block)
        return values

    def _predict_quantiles(self, fh, X, alpha):
        engine = self._engine
        method = interval_method(self._interval_method_name())
        if not getattr(method, "reads_distribution", False):
            engine.require_residuals()
        steps, indexes = self._forecast_index(fh)
        n_steps = self._steps_to_forecast(steps)
        self._warn_past_held_once(n_steps)
        future = self._future_covariates(X, n_steps)
        context = IntervalContext(
            runtime=self._runtime(),
            seed=seed_from(self.random_state),
            n_samples=self.n_samples,
            warn_unresolved=self._warn_unresolved_once,
        )
        quantiles = method.quantiles(
            engine, engine.contexts(), future, n_steps, alpha, context
        )
        targets = slice(0, engine.setup.n_targets)
        values = []
        for i, s in enumerate(steps):
            # (alpha, step, variable) -> rows of steps, columns variable-major
            level = engine.scaler.inverse_transform(quantiles[:, i, s - 1], i, targets)
            check_finite_output(level, "prediction intervals", OVERFLOW_FIX)
            values.append(level.transpose(1, 2, 0).reshape(len(s), -1))
        columns = pd.MultiIndex.from_product([self._columns, alpha])
        return join_forecasts(self._keys, self._index_names, indexes, values, columns)

    def predict_residuals(self, y=None, X=None):
        """Residuals ``y - y_pred`` at the time points of ``y``: in-sample
        one-step forecasts for observed ones (NaN where no full window precedes
        a point), forecasts for later ones. See sktime's
        ``BaseForecaster.predict_residuals``; a panel ``y`` works too."""
        if not isinstance(getattr(y, "index", None), pd.MultiIndex):
            return super().predict_residuals(y, X)
        # sktime builds fh from y's index, which a panel's cannot be: forecast
        # every time point of the panel, then take each series' own
        self.check_is_fitted()
        fh_before = copy.deepcopy(self._fh)
        try:
            times = y.index.get_level_values(-1).unique().sort_values()
            fh = ForecastingHorizon(times, is_relative=False, freq=self._cutoff)
            y_pred = self.predict(fh=fh, X=X)
        finally:
            self._fh = fh_before
        return y - y_pred.reindex(y.index)

    def _warn_unresolved_once(self, alpha) -> None:
        """Warn, once per fitted model, that the residuals are too few for some
        of the levels ``alpha``."""
        given = getattr(self, "_warnings_given", None)
        n = len(self._engine.residuals)
        short = unresolved_coverages(n, alpha)
        if not short or (given is not None and "unresolved" in given):
            return
        warn_unresolved(n, short)
        if given is not None:
            # kept in place: a record of what was said, not of the model
            given.append("unresolved")

    def _update(self, y: pd.DataFrame, X=None, update_params: bool = True):
        # sktime moves the cutoff to y's end before calling _update: a refused or
        # diverged update leaves the forecaster as it was, cutoff included
        try:
            with rollback_on_failure(self):
                return self._update_from(y, X, update_params)
        except Exception:
            self._cutoff = self._fitted_cutoff()
            raise

    def _update_from(self, y: pd.DataFrame, X, update_params: bool):
        engine = self._engine
        whole = engine.series is not None
        buffers, ends = self._extended_series(y, X)
        self._check_missing(self._keys, buffers, engine.setup)
        self._check_counts(buffers, engine.setup)
        # training continues on the kept tail of each series and its new values
        stored = engine.series if whole else engine.tails
        added = [len(b) - len(s) for b, s in zip(buffers, stored)]
        keep = engine.tails.shape[1]
        if update_params and any(added):
            settings = self._core_settings()
            engine, result = engine.continued(
                [b[-(keep + n) :] for b, n in zip(buffers, added)],
                settings,
                self.update_epochs or settings.config.max_epochs,
                first_epoch=self.n_epochs_ + 1,
            )
            self._record_history(result, continued=True)
        self._set_engine(engine.with_series(buffers, whole))
        self._last_index = ends
        self._name_cutoff_freq()
        return self

    def to_onnx(self, path, horizon: int | None = None, check: bool = True) -> dict:
        """Write the forecast path for ``horizon`` steps as one ONNX graph, with a
        JSON sidecar; see :func:`gatedforecast.export.export_onnx`.

        Needs the optional extra ``gatedforecast[onnx]``. Returns the sidecar.
        """
        from .export import export_onnx

        return export_onnx(self, path, horizon=horizon, check=check)

    # ------------------------------------------------------------------ testing
    @classmethod
    def get_test_params(cls, parameter_set: str = "default"):
        """Small, fast parameter sets for sktime's test suite."""
        return [
            {
                "window_length": 4,
                "hidden_sizes": 4,
                "max_epochs": 2,
                "batch_size": 8,
                "device": "cpu",
                "random_state": 0,
            },
            {
                "hidden_sizes": (4, 3),
                "strategy": "recursive",
                "scaler": "standard",
                "baseline": None,
                "loss": "mae",
                "dropout": 0.1,
                "interval_method": "mc_dropout",
                "n_samples": 10,
                "max_epochs": 1,
                "device": "cpu",
                "random_state": 1,
            },
            {
                "window_length": 3,
                "hidden_sizes": 3,
                "attention": True,
                "interval_method": "quantile",
                "quantiles": (0.1, 0.5, 0.9),
                "max_epochs": 1,
                "device": "cpu",
                "random_state": 2,
            },
            {
                "window_length": 3,
                "hidden_sizes": 3,
                "distribution": "student_t",
                "n_samples": 10,
                "max_epochs": 1,
                "device": "cpu",
                "random_state": 3,
            },
        ]


@register_model
class GRUForecaster(_RecurrentForecaster):
    __doc__ = class_doc("GRUForecaster")
    _cell = "gru"


@register_model
class LSTMForecaster(_RecurrentForecaster):
    __doc__ = class_doc("LSTMForecaster")
    _cell = "lstm"
