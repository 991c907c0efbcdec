"""sktime forecasters: one private base, one thin public class per cell.

The base is orchestration: sktime's inputs go through the pandas bookkeeping of
:mod:`gatedforecast._series_io` into arrays, the engine
(:mod:`gatedforecast.engine`) trains, forecasts and calibrates on them, and the
bookkeeping turns its arrays back into sktime's outputs. The settings rules that
read the estimator's parameters (head, season, window, baseline, levels) live here.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from sktime.forecasting.base import BaseForecaster

from ._docs import render_doc
from ._fitted import FittedNetworkMixin
from ._params import (
    check_bool,
    check_choice,
    check_int,
    core_settings,
    generators,
    seed_from,
)
from ._registry import register_model
from ._series_io import (
    SeriesBookkeeping,
    _largest_step,
    _series_name,
)
from .engine import (
    INTERVAL_METHODS as INTERVAL_METHOD_CLASSES,
)
from .engine import (
    IntervalContext,
    Runtime,
    SeriesEngine,
    _Setup,
    interval_method,
    network_for,
    rollback_on_failure,
    train_on_series,
)
from .intervals import unresolved_coverages, warn_unresolved
from .networks import count_parameters
from .panels import join_forecasts
from .scaling import (
    BASELINES,
    SCALERS,
    SeriesScaler,
    WindowTransform,
    check_finite_output,
)
from .seasonality import (
    auto_window_length,
    check_window_reaches_season,
    choose_baseline,
    detect_season,
)

__all__ = ["GRUForecaster", "LSTMForecaster"]

STRATEGIES = ("direct", "recursive")
#: the most roll-out passes (forward calls of the network per series) a predict makes
MAX_ROLL_OUT_PASSES = 10_000
INTERVAL_METHODS = (*INTERVAL_METHOD_CLASSES, None)
#: levels of the quantile head when ``interval_method="quantile"`` and no
#: ``quantiles`` are given: the ones sktime's checks and most plots ask for
DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
#: how predict refuses forecasts beyond the float64 range
OVERFLOW_FIX = (
    "Divide y by a large constant (for example 1e100) before fitting, and "
    "multiply the forecasts back."
)


class _RecurrentForecaster(SeriesBookkeeping, FittedNetworkMixin, BaseForecaster):
    """Shared implementation of :class:`GRUForecaster` and :class:`LSTMForecaster`."""

    _cell = "gru"

    _tags = {
        "authors": ["gatedforecast developers"],
        "maintainers": ["gatedforecast developers"],
        "python_dependencies": "torch",
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "capability:multivariate": True,
        "capability:exogenous": True,
        "capability:non_contiguous_X": False,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:missing_values": False,
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
        strategy: str = "direct",
        horizon: int | None = None,
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
        calibration_size: int | str = "auto",
        n_samples: int = 100,
        device: str = "auto",
        n_threads: int | None = None,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.window_length = window_length
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.strategy = strategy
        self.horizon = horizon
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
        self.calibration_size = calibration_size
        self.n_samples = n_samples
        self.device = device
        self.n_threads = n_threads
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

    # ------------------------------------------------------------------ settings
    def _head_length(self, fh) -> int:
        if self.strategy == "recursive":
            return 1
        if self.horizon is not None:
            return self.horizon
        if fh is not None:
            steps = np.asarray(fh.to_relative(self.cutoff), dtype=np.int64)
            return max(1, int(steps.max()))
        return 1

    def _season(self, values, freq) -> int | None:
        """The season length: ``seasonal_period``, or with ``"auto"`` the one the
        seasonality test confirms on the training series (None without one)."""
        if self.seasonal_period != "auto":
            return self.seasonal_period
        return detect_season(values, freq)

    def _baseline(self, period, window: int, series, head: int) -> str | None:
        """The baseline: ``"auto"`` is the seasonal one when a season was found,
        the window reaches a season back and the seasonal naive forecast beat the
        last value over the head's steps on the training ``series``; else the
        last value."""
        if self.baseline != "auto":
            if self.baseline == "seasonal" and period is None:
                raise ValueError(
                    "baseline='seasonal' needs seasonal_period, the season length "
                    "in steps (for example 12 for monthly data), and "
                    "seasonal_period='auto' found none in y (too short for three "
                    "seasons, or no significant autocorrelation at the season the "
                    "index frequency suggests). Pass seasonal_period, or use "
                    "baseline='auto'."
                )
            return self.baseline
        if period is None or window < period:
            return "last"
        return choose_baseline(series, period, head)

    def _window_length(
        self, n_obs: int, head: int, name: str, season, series
    ) -> tuple[int, str | None]:
        """The window length and the baseline, checked against each other and
        against the length ``n_obs`` of the shortest series."""
        if self.window_length not in (None, "auto"):
            length = self.window_length
        else:
            length = auto_window_length(n_obs, head, season)
        baseline = self._baseline(season, length, series, head)
        check_window_reaches_season(length, season if baseline == "seasonal" else None)
        needed = length + head
        if n_obs < needed:
            raise ValueError(
                f"{name} has {n_obs} observations, but window_length={length} and a "
                f"forecasting head of {head} step(s) need at least {needed} "
                f"(window_length + {head}). Pass a longer series, a smaller "
                "window_length, or strategy='recursive' (a one-step head)."
            )
        return length, baseline

    def _levels(self) -> tuple[float, ...] | None:
        """The quantile head's levels, checked; None without a quantile head."""
        if self.interval_method != "quantile":
            if self.quantiles is not None:
                raise ValueError(
                    "quantiles sets the levels of a quantile head; set "
                    "interval_method='quantile' to train one, or leave quantiles=None."
                )
            return None
        levels = DEFAULT_QUANTILES if self.quantiles is None else self.quantiles
        if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__"):
            raise TypeError(
                f"quantiles must be a tuple of levels in (0, 1), got {levels!r}."
            )
        bad = [
            level
            for level in levels
            if isinstance(level, (bool, np.bool_))
            or not isinstance(level, (int, float, np.integer, np.floating))
        ]
        if bad:
            raise TypeError(
                f"quantiles must be numbers in (0, 1); {bad[0]!r} in "
                f"{self.quantiles!r} is not. Pass levels such as (0.1, 0.5, 0.9)."
            )
        levels = tuple(sorted(float(level) for level in levels))
        if any(not 0 < level < 1 for level in levels) or len(set(levels)) < len(levels):
            raise ValueError(
                f"quantiles must be distinct levels in (0, 1); got {self.quantiles!r}."
            )
        if 0.5 not in levels:
            raise ValueError(
                "quantiles must include 0.5: the median is the point forecast and the "
                f"path that longer horizons are rolled out along; got {levels}."
            )
        return levels

    def _check_params(self) -> None:
        check_int("window_length", self.window_length, allow_none=True, allow_auto=True)
        check_int("horizon", self.horizon, allow_none=True)
        check_int(
            "seasonal_period", self.seasonal_period, allow_none=True, allow_auto=True
        )
        check_int("update_epochs", self.update_epochs, allow_none=True)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_bool("global_model", self.global_model)
        check_int("fine_tune_epochs", self.fine_tune_epochs, minimum=0)
        check_choice("interval_method", self.interval_method, INTERVAL_METHODS)
        check_int("calibration_size", self.calibration_size, allow_auto=True)
        check_int("n_samples", self.n_samples, minimum=2)
        self._levels()
        if self.interval_method == "mc_dropout" and not self.dropout:
            raise ValueError(
                "interval_method='mc_dropout' samples dropout masks, so it needs "
                "dropout > 0 (for example dropout=0.1); or use "
                "interval_method='conformal'."
            )
        check_choice("scaler", self.scaler, SCALERS)
        check_choice("baseline", self.baseline, ("auto", *BASELINES))
        if self.baseline == "seasonal" and self.seasonal_period is None:
            raise ValueError(
                "baseline='seasonal' needs seasonal_period, the season length in "
                "steps (for example 12 for monthly data)."
            )

    # ------------------------------------------------------------------ sktime API

    def _new_setup(self, y, keys, values, x_columns, fh) -> _Setup:
        head = self._head_length(fh)
        shortest = int(np.argmin([len(v) for v in values]))
        n_targets = y.shape[1]
        targets = [v[:, :n_targets] for v in values]
        season = self._season(targets, self._index_freq(y))
        window, baseline = self._window_length(
            len(values[shortest]), head, _series_name(keys[shortest]), season, targets
        )
        return _Setup(
            window_length=window,
            horizon=head,
            transform=WindowTransform(
                normalize=self.scaler == "window",
                baseline=baseline,
                seasonal_period=season,
                horizon=head,
                n_targets=n_targets,
            ),
            scaler_method="standard" if self.scaler == "window" else self.scaler,
            columns=y.columns,
            x_columns=x_columns,
            levels=self._levels(),
        )

    def _check_pretrained_fits(self, setup: _Setup, y, x_columns, keys, values):
        """Refuse data the pretrained network cannot read."""
        # the network reads columns by position: their number must match
        if y.shape[1] != len(setup.columns):
            raise ValueError(
                f"The network was pretrained on {len(setup.columns)} y column(s) "
                f"{list(setup.columns)}; fit got {y.shape[1]} ({list(y.columns)}). "
                "Pass y with as many columns, in the same order."
            )
        expected = 0 if setup.x_columns is None else len(setup.x_columns)
        got = 0 if x_columns is None else len(x_columns)
        if expected != got:
            raise ValueError(
                f"The network was pretrained with {expected} X column(s); fit got "
                f"{got}. Pass X with the same columns in the same order (or none, "
                "if it had none)."
            )
        needed = setup.window_length + (setup.horizon if self.fine_tune_epochs else 0)
        for key, v in zip(keys, values):
            if len(v) < needed:
                raise ValueError(
                    f"{_series_name(key)} has {len(v)} observations; the pretrained "
                    f"network reads windows of {setup.window_length}"
                    + (
                        f" and fine-tuning needs {needed} (window_length + horizon)"
                        if self.fine_tune_epochs
                        else ""
                    )
                    + ". Pass a longer series."
                )

    def _runtime(self) -> Runtime:
        """Where the engine predicts: the training device when it is still there."""
        return Runtime(self._predict_device(), self.n_threads)

    def _fit(self, y: pd.DataFrame, X=None, fh=None):
        self._check_params()
        settings = core_settings(self, self._cell)
        keys, frames, values, x_columns = self._collect(y, X)
        self._name_cutoff_freq()
        pretrained = getattr(self, "pretrained_network_", None)
        if pretrained is None:
            setup = self._new_setup(y, keys, values, x_columns, fh)
            epochs = settings.config.max_epochs
        else:
            setup = self.pretrained_setup_
            self._check_pretrained_fits(setup, y, x_columns, keys, values)
            epochs = self.fine_tune_epochs
        self.device_ = settings.device
        # sktime hands pretrained attributes over by reference: the engine trains
        # a copy of the pretrained network, never the network itself
        engine, result = SeriesEngine.fit(
            values,
            setup,
            settings,
            epochs,
            calibrate=self.interval_method is not None,
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

    def _pretrain(self, y: pd.DataFrame, X=None, fh=None):
        """Train the global network on a panel, for later fits to apply."""
        self._check_params()
        settings = core_settings(self, self._cell)
        keys, _, values, x_columns = self._collect(y, X)
        setup = self._new_setup(y, keys, values, x_columns, fh)
        generator, _ = generators(settings.seed, settings.device)
        network = network_for(setup, settings, generator)
        self._pretrain_network(network, setup, values, settings, generator, 1)
        return self

    def _pretrain_update(self, y: pd.DataFrame, X=None, fh=None):
        """Continue pretraining the network on more series."""
        self._check_params()
        settings = core_settings(self, self._cell)
        keys, _, values, x_columns = self._collect(y, X)
        setup = self.pretrained_setup_
        self._check_pretrained_fits(setup, y, x_columns, keys, values)
        generator, _ = generators(settings.seed, settings.device)
        network = copy.deepcopy(self.pretrained_network_)
        first = len(self.pretrained_history_) + 1
        self._pretrain_network(network, setup, values, settings, generator, first)
        return self

    def _pretrain_network(self, network, setup, values, settings, generator, first):
        scaler = SeriesScaler(setup.scaler_method).fit(values)
        scaled = [scaler.transform(v, i) for i, v in enumerate(values)]
        dropout_generator = generators(settings.seed + first, settings.device)[1]
        result = train_on_series(
            network,
            scaled,
            setup,
            settings,
            (generator, dropout_generator),
            settings.config.max_epochs,
            first,
        )
        history = getattr(self, "pretrained_history_", None)
        self.pretrained_network_ = network
        self.pretrained_setup_ = setup
        self.pretrained_history_ = (
            result.history
            if history is None
            else pd.concat([history, result.history], ignore_index=True)
        )

    def _steps_to_forecast(self, steps: list[np.ndarray]) -> int:
        """The furthest step to forecast; refuses one that needs an endless roll-out."""
        n_steps = int(max(s.max() for s in steps))
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
        scaled = engine.forecast(
            engine.contexts(),
            n_steps,
            self._future_covariates(X, n_steps),
            self._runtime(),
        )
        targets = slice(0, engine.setup.n_targets)
        if all(s is steps[0] for s in steps):
            # series that end together: one vectorised inverse scaling
            chosen = scaled[:, steps[0] - 1]
            series = np.arange(len(chosen))
            values = engine.scaler.inverse_transform(chosen, series, targets)
            values = values.reshape(-1, values.shape[-1])
        else:
            values = [
                engine.scaler.inverse_transform(scaled[i, s - 1], i, targets)
                for i, s in enumerate(steps)
            ]
        for block in values if isinstance(values, list) else [values]:
            check_finite_output(block, "forecasts", OVERFLOW_FIX)
        return join_forecasts(
            self._keys, self._index_names, indexes, values, self._columns
        )

    def _predict_quantiles(self, fh, X, alpha):
        engine = self._engine
        engine.require_residuals()
        steps, indexes = self._forecast_index(fh)
        n_steps = self._steps_to_forecast(steps)
        future = self._future_covariates(X, n_steps)
        context = IntervalContext(
            runtime=self._runtime(),
            seed=seed_from(self.random_state),
            n_samples=self.n_samples,
            warn_unresolved=self._warn_unresolved_once,
        )
        method = interval_method(self.interval_method)
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
        buffers, ends = self._extended_series(y, X)
        if update_params and any(len(b) > engine.tails.shape[1] for b in buffers):
            settings = core_settings(self, self._cell)
            engine, result = engine.continued(
                buffers,
                settings,
                self.update_epochs or settings.config.max_epochs,
                first_epoch=self.n_epochs_ + 1,
            )
            self._record_history(result, continued=True)
        self._set_engine(engine.with_series(buffers))
        self._last_index = ends
        self._name_cutoff_freq()
        return self

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
                "interval_method": "quantile",
                "quantiles": (0.1, 0.5, 0.9),
                "max_epochs": 1,
                "device": "cpu",
                "random_state": 2,
            },
        ]

    # ------------------------------------------------------------------ model file
    #: the declared state a model file holds: gatedforecast._model_state.FORECASTER
    _state_schema = "forecaster"

    @staticmethod
    def _setup_state(setup: _Setup) -> dict:
        transform = setup.transform
        return {
            "window_length": setup.window_length,
            "horizon": setup.horizon,
            "transform": {
                "normalize": transform.normalize,
                "baseline": transform.baseline,
                "seasonal_period": transform.seasonal_period,
                "horizon": transform.horizon,
                "n_targets": transform.n_targets,
            },
            "scaler_method": setup.scaler_method,
            "columns": setup.columns,
            "x_columns": setup.x_columns,
            "levels": None if setup.levels is None else list(setup.levels),
        }

    @staticmethod
    def _setup_from_state(state: dict) -> _Setup:
        levels = state["levels"]
        return _Setup(
            window_length=state["window_length"],
            horizon=state["horizon"],
            transform=WindowTransform(**state["transform"]),
            scaler_method=state["scaler_method"],
            columns=state["columns"],
            x_columns=state["x_columns"],
            levels=None if levels is None else tuple(levels),
        )

    def _fitted_state(self) -> dict:
        """The fitted state, by the keys the schema ``_state_schema`` declares."""
        metadata = self._y_metadata
        pretrained = None
        if getattr(self, "pretrained_network_", None) is not None:
            pretrained = {
                "network": self.pretrained_network_,
                "setup": self._setup_state(self.pretrained_setup_),
                "history": self.pretrained_history_,
            }
        engine = self._engine
        return {
            "network": engine.network,
            "device": str(self.device_),
            "setup": self._setup_state(engine.setup),
            "scaler": {
                "method": engine.scaler.method,
                "loc": engine.scaler.loc_,
                "scale": engine.scaler.scale_,
            },
            "tails": engine.tails,
            "typical_spread": engine.typical_spread,
            "residuals": engine.residuals,
            "rng_state": engine.rng_state,
            "history": self.history_,
            "n_epochs": self.n_epochs_,
            "best_epoch": self.best_epoch_,
            "series": {
                "keys": list(self._keys),
                "last": list(self._last_index),
                "index_names": list(self._index_names),
                "columns": self._columns,
                "x_columns": self._x_columns,
                "time_freq": getattr(self, "_time_freq", None),
            },
            "sktime": {
                "cutoff": self._cutoff,
                "fh": self._fh,
                "mtype": metadata["mtype"],
                "scitype": metadata["scitype"],
                "n_features": metadata["n_features"],
                "feature_names": list(metadata["feature_names"]),
                "converter_store": dict(self._converter_store_y),
            },
            "pretrained": pretrained,
        }

    def _restore_fitted_state(self, state: dict) -> None:
        """Set this new forecaster up from a state that :meth:`_fitted_state` gave."""
        setup = self._setup_from_state(state["setup"])
        scaler = SeriesScaler(state["scaler"]["method"])
        scaler.loc_, scaler.scale_ = state["scaler"]["loc"], state["scaler"]["scale"]
        series, fitted = state["series"], state["sktime"]
        self._set_engine(
            SeriesEngine(
                network=state["network"],
                setup=setup,
                scaler=scaler,
                tails=state["tails"],
                typical_spread=state["typical_spread"],
                residuals=state["residuals"],
                rng_state=state["rng_state"],
            )
        )
        self.device_ = torch.device(state["device"])
        self.n_series_ = len(series["keys"])
        self._columns = series["columns"]
        self._x_columns = series["x_columns"]
        self._index_names = series["index_names"]
        self._keys = series["keys"]
        self._last_index = series["last"]
        self._time_freq = series["time_freq"]
        self.history_ = state["history"]
        self.n_epochs_ = state["n_epochs"]
        self.best_epoch_ = state["best_epoch"]
        self._warnings_given = []
        if state["pretrained"] is not None:
            self.pretrained_network_ = state["pretrained"]["network"]
            self.pretrained_setup_ = self._setup_from_state(
                state["pretrained"]["setup"]
            )
            self.pretrained_history_ = state["pretrained"]["history"]
            self._pretrained_attrs = sorted(self.get_tag("pretrain:fitted_params"))
        # sktime's own fitted state, as its fit leaves it
        self._cutoff = fitted["cutoff"]
        self._fh = fitted["fh"]
        self._y_metadata = {
            key: fitted[key] for key in ("mtype", "scitype", "n_features")
        } | {"feature_names": fitted["feature_names"]}
        self._y_mtype_last_seen = fitted["mtype"]
        self._converter_store_y = fitted["converter_store"]
        self._is_vectorized = False
        self._state = "fitted"


_DOC = """{cell_name} forecaster for sktime, on a stacked {cell_name} network in PyTorch.

{summary}

The network reads the last ``window_length`` values and predicts the next
``horizon`` steps at once (``strategy="direct"``), or one step at a time
(``strategy="recursive"``); longer horizons are rolled out by feeding forecasts
back as inputs. Every series is scaled on the way in and the scaling is inverted on
the way out.

``y`` may be one series, several columns forecast jointly, or a panel or hierarchy
of series (one global network, see ``global_model``). Exogenous ``X`` holds
future-known covariates: in ``fit`` it has the rows of ``y``; the network reads it
beside ``y`` in each input window and, through its head, at the forecast steps, so
``predict`` needs ``X`` with a row for every step up to the largest step of ``fh``.

Parameters
----------
window_length : int, "auto" or None, default="auto"
    Number of past values the network reads. ``"auto"`` (or ``None``) picks
    ``max(2 * horizon_, seasonal_period_, 12)``, capped at half of what the
    shortest series leaves after the horizon but never below one season when the
    series holds one (see Notes); the choice is ``window_length_``.
{network_parameters}
bidirectional : bool, default=False
    Read each window in both directions.
strategy : {{"direct", "recursive"}}, default="direct"
    ``"direct"``: one head predicts ``horizon_`` steps at once. ``"recursive"``:
    a one-step head is rolled out step by step.
{horizon_parameter}
scaler : {{"window", "standard", "robust", None}}, default="window"
    ``"window"``: each input window is normalised by its own mean and standard
    deviation, and the forecast is mapped back with them (suits series whose level
    drifts). ``"standard"``/``"robust"``: one mean/std (median/IQR) per series and
    channel, fitted on the training data. ``None``: raw values.
baseline : {{"auto", "last", "seasonal", None}}, default="auto"
    Learn the forecast as a correction of a naive forecast: the window's last
    value, or the value ``seasonal_period_`` steps earlier. ``None`` learns the
    level itself. ``"auto"``: the seasonal baseline when a season was found and
    the window reaches a season back, else the last value; the choice is
    ``baseline_``.
seasonal_period : int, "auto" or None, default="auto"
    Season length in steps, read by ``baseline="seasonal"`` and by the automatic
    window. ``"auto"`` reads it from the training data: the index frequency names
    a candidate (12 for monthly data, 4 quarterly, 52 weekly, 7 daily, 5
    business-daily, 24 or 168 hourly, 48 half-hourly, 60 minutely; none for
    yearly data; 4, 5, 7, 12, 24 and 52 for an integer index), and the
    autocorrelation of the differenced series at that lag must be positive and
    above its Bartlett bound (5 %), on series at least three seasons long (on a
    panel, the autocorrelation pooled over its series). See
    :mod:`gatedforecast.seasonality`. ``None``: no season. The choice is
    ``seasonal_period_``.
loss : {{"mse", "mae", "huber"}}, nn.Module subclass or callable, default="mae"
    Training loss, computed on the scaled targets. The mean absolute error is the
    default because forecasts are judged by absolute errors (MAE, MASE, sMAPE)
    and it is robust to the rare windows whose scaled targets are large: on the
    359 series of M4 Weekly (window 52, the other defaults, median of seeds 0-2)
    it gave the GRU sMAPE 6.689 and MASE 2.031, against 6.899 and 2.084 with
    ``"mse"``.
{optimizer_parameters}
batch_size : int, default=32
    Windows per gradient step.
max_epochs : int, default=100
    Training epochs.
steps_per_epoch : int, "auto" or None, default="auto"
    Gradient steps per epoch. ``None``: one pass over all training windows,
    shuffled. An int bounds the work: each epoch draws ``steps_per_epoch *
    batch_size`` windows at random from all of them. ``"auto"``: a full pass, or
    100 steps when a full pass would be longer, so a first fit on long series or
    a big panel takes minutes, not hours (on the 359 series of M4 Weekly: 100
    epochs of 100 steps of 32 windows, about two minutes on one CPU thread, gave
    the GRU sMAPE 6.689 and MASE 2.031, against 9.161 and 2.777 for the naive
    forecast).
gradient_clip : float or None, default=1.0
    Clip the global gradient norm to this value (``None``: no clipping). Targets
    are scaled to about unit size, so a norm of 1 only trims the rare large steps
    of the first epochs (a window spanning a level shift) that otherwise make
    short series such as airline train erratically.
validation_size : int, float or None, default=None
    Hold out the last windows in time for validation: an int number of windows or
    a fraction of them. Training windows whose targets reach into the first
    validation target are dropped, so validation never sees trained targets.
{early_stopping_parameters}
update_epochs : int or None, default=None
    Epochs of continued training in ``update(update_params=True)``, over the
    windows whose targets reach into the new data. ``None``: ``max_epochs``.
global_model : bool, default=True
    For a panel or hierarchy of series (sktime's ``pd-multiindex`` and
    ``pd_multiindex_hier``): ``True`` trains one network on the windows of all
    series, each scaled on its own; ``False`` lets sktime fit one forecaster per
    series. Either way each series is forecast from its own last observation.
fine_tune_epochs : int, default=0
    After ``pretrain``, epochs that ``fit`` trains a copy of the pretrained network
    on its own series. ``0`` applies the pretrained network as it is: ``fit`` then
    only scales the new series and stores its context, in milliseconds.
interval_method : {{"conformal", "mc_dropout", "quantile", None}}, default="conformal"
    How ``predict_interval``/``predict_quantiles`` work. Both calibrate on the last
    windows of each series, held out from training (``calibration_size``) and
    separate from the validation windows. ``"conformal"``: split-conformal
    quantiles of the absolute held-out residuals, per horizon step, scaled by each
    forecast's window spread, so intervals are symmetric around the point forecast
    and any coverage works without retraining. A flat window (spread under 5 % of
    its series' typical window spread, as in the zero stretches of an intermittent
    series) is scaled by that typical spread instead, so jumps after flat
    stretches give intervals on the scale of the data.
    ``"mc_dropout"``: ``n_samples`` forecast paths with dropout masks drawn from a
    generator seeded by ``random_state`` (needs ``dropout > 0``), each plus a
    residual path drawn from the held-out residuals with a random sign, so the
    spread covers both the model's uncertainty and the data's noise, symmetrically.
    Steps beyond the calibrated ones
    (the largest step of fit's ``fh``, or the head) grow the last step's quantiles
    by ``sqrt(step / calibrated_steps)``. ``"quantile"``: the head predicts the
    ``quantiles`` levels of every step, trained with the pinball loss (``loss`` is
    not used) and sorted so they never cross; the point forecast is the median,
    other levels are interpolated linearly between trained ones and extrapolated
    beyond the outermost with a normal tail (``m + (q_t - m) z(a) / z(t)``).
    Horizons beyond the head are rolled out along the median path, with the
    calibrated conformal spreads of each step. ``None``: point forecasts only, no
    windows held out.
quantiles : tuple of float or None, default=None
    Levels of the quantile head with ``interval_method="quantile"``; they must
    include 0.5. ``None`` there means ``(0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)``.
calibration_size : int or "auto", default="auto"
    Windows per series held out for calibration. ``"auto"`` aims for 20 in all
    (enough for a 95 % interval), at most a quarter of each series' windows: 20
    windows from a single series, one from each series of a panel of 20 or more.
    When the held-out windows are more than 5 % of all windows (a single short
    series), the network is trained a second time on all windows after
    calibration, so the point forecast learns from the most recent data; the
    intervals keep the first network's residuals, which then approximate those of
    the second. Such a fit takes about twice as long; with ``verbose=1`` the two
    progress bars are labelled "calibration fit" and "final fit".
    With too few residuals for a level (fewer than 19 for a 95 % interval) the
    quantile extends the largest residual with a normal tail (a wider coverage
    always gives a wider interval), and the first ``predict_interval`` or
    ``predict_quantiles`` that asks for such a level warns, once per fitted model.
n_samples : int, default=100
    Forecast paths drawn by ``interval_method="mc_dropout"``.
device : str, default="auto"
    ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
    ``"mps"``. The fitted network is kept on the CPU, so a model trained on a GPU
    pickles and predicts anywhere.
{runtime_parameters}

**Pretrain, then apply.** ``pretrain(y_panel)`` trains the global network on a
panel of series; a later ``fit(y)`` on any series (seen or not) applies a copy of it,
with per-series scaling fitted on ``y``, and fine-tunes the copy only when
``fine_tune_epochs > 0``. The pretrained network is never changed by ``fit``, so
fitting series A and then series B starts both from the same weights. Window length,
head length, scaling and columns are those of ``pretrain``; a ``fh`` longer than the
pretrained head is rolled out recursively.

Attributes
----------
network_ : ForecastNetwork
    The trained network, on the CPU.
history_ : pandas.DataFrame
    One row per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``learning_rate``,
    ``seconds``.
n_epochs_ : int
    Epochs run (fewer than ``max_epochs`` after early stopping).
best_epoch_ : int
    Epoch with the lowest monitored loss (validation loss, or training loss
    without validation); its weights are the fitted ones when a validation split
    or ``patience`` is set.
window_length_ : int
    Window length used.
seasonal_period_ : int or None
    Season length used (found or given); None without one.
baseline_ : str or None
    Baseline used: ``"last"``, ``"seasonal"`` or None.
horizon_ : int
    Steps of the network's head.
device_ : torch.device
    Device the network was trained on.
n_parameters_ : int
    Number of trainable parameters.
n_series_ : int
    Number of series fitted (1 for a single series).
pretrained_network_, pretrained_history_ : ForecastNetwork, pandas.DataFrame
    After ``pretrain``: the pretrained network and its training history.

See Also
--------
{other} : the same forecaster with the {other_cell} cell.

Notes
-----
The defaults were chosen on the 359 series of M4 Weekly (``window_length=52``,
horizon 13, one global network, seeds 0-2, one CPU thread; ``benchmarks/``):
the GRU scored sMAPE 6.689 and MASE 2.031 in about two minutes, the LSTM 6.955
and 2.071 in about 80 s, against 9.161 and 2.777 for the naive forecast. The
absolute-error loss beat the squared error in every seed; 128 units, per-series
standard scaling and 200 epochs all scored worse. ``dropout=0.2`` is the one
setting to try beside them, and the one recommended for the LSTM: it improved
the LSTM there (6.636 and 2.041) and both cells on the short airline series,
while the GRU on M4 Weekly did a little worse with it (6.813 and 2.033), so it
is not the default.

With the default ``interval_method="conformal"``, ``fit`` on a single short series
trains the network twice: first without the last windows, held out to measure the
errors that calibrate the intervals, then on all windows, so the point forecast
learns from the most recent data ("calibration fit" and "final fit" in the
progress bars of ``verbose=1``). On panels the held-out windows are a small share
of all windows and the network is trained once; ``interval_method=None`` never
trains twice.

The season, window and baseline that ``"auto"`` picks were chosen on the dev
suite (``benchmarks/bench_suite.py``: airline, shampoo, lynx, co2 and sunspots,
the last 12 steps held out, seeds 0-2; ``benchmarks/results/suite.md``) and on
M4 Weekly. The seasonal baseline is what a short seasonal series needs: on
airline it took the GRU from sMAPE 7.46 to 3.45 and the LSTM from 7.76 to 3.79
(AutoETS 4.12, seasonal naive 10.57); a network with 80 training windows cannot
learn a season's shape, but it can learn a correction of last year's values.
It is not the better baseline everywhere: on M4 Weekly, where a year back is a
naive forecast 2.2 times worse than the last value (in-sample, geometric mean
over the series), the GRU with the seasonal baseline scored 7.59 against 6.689
with the last value, both with a window of 52. Hence ``baseline="auto"`` keeps
whichever naive forecast was the more accurate on the training data, a rule
that needs no constant. The window spans a season because on M4 Weekly a year
of input (52) beat the 26 weeks of ``max(2 * horizon, 12)`` by a wide margin
(sMAPE 6.689 against 8.228); without a season the window is that earlier rule.
Series that are yearly or shorter than three seasons (shampoo, lynx, sunspots)
keep their earlier forecasts exactly.

Examples
--------
>>> from sktime.datasets import load_airline
>>> from gatedforecast import {name}
>>> y = load_airline()
>>> forecaster = {name}(window_length=24, max_epochs=5, random_state=0)
>>> forecaster.fit(y, fh=range(1, 13))
{name}(...)
>>> y_pred = forecaster.predict()
>>> len(y_pred)
12
"""


@register_model
class GRUForecaster(_RecurrentForecaster):
    __doc__ = render_doc(_DOC, "gru", "GRUForecaster", "LSTMForecaster")
    _cell = "gru"


@register_model
class LSTMForecaster(_RecurrentForecaster):
    __doc__ = render_doc(_DOC, "lstm", "LSTMForecaster", "GRUForecaster")
    _cell = "lstm"
