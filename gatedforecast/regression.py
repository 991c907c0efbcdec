"""scikit-learn regressors: one private base, one thin public class per cell."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._docs import class_doc
from ._fitted import FittedNetworkMixin
from ._params import CoreSettings, check_params, check_value, generators
from ._registry import register_model
from .engine import (
    Runtime,
    build_network,
    predict_sequences,
    resolve_ensemble_size,
    rollback_on_failure,
    train_on_samples,
)
from .engine.fitting import REGRESSOR_X_FIX, training_count
from .networks import count_parameters
from .scaling import SeriesScaler, check_finite_output, check_float32_range

__all__ = ["GRURegressor", "LSTMRegressor"]

FLOAT_DTYPES = (np.float64, np.float32)


def as_sequences(X: np.ndarray, n_features: int | None) -> np.ndarray:
    """View validated ``X`` as ``(n_samples, n_steps, n_features)``.

    2-D ``X`` is read as ``n_columns // n_features`` steps whose features sit side
    by side (one feature per step when ``n_features`` is None); 3-D ``X`` is taken
    as it is, and must have ``n_features`` features per step when that is set.
    """
    if X.ndim == 2:
        per_step = 1 if n_features is None else n_features
        if X.shape[1] % per_step:
            raise ValueError(
                f"X has {X.shape[1]} columns, which n_features={n_features} does not "
                "divide: 2-D X is read as (n_samples, n_steps * n_features), the "
                "features of each step side by side. Set n_features to the number "
                "of features per step, or pass X of shape "
                "(n_samples, n_steps, n_features)."
            )
        return X.reshape(X.shape[0], X.shape[1] // per_step, per_step)
    if X.ndim != 3:
        raise ValueError(
            "X must be 2-D (n_samples, n_columns) or 3-D (n_samples, n_steps, "
            f"n_features); got {X.ndim}-D X of shape {X.shape}."
        )
    if n_features is not None and X.shape[2] != n_features:
        raise ValueError(
            f"X has {X.shape[2]} features per step (shape {X.shape}) but "
            f"n_features={n_features}. Leave n_features=None for 3-D X, or set it "
            "to X.shape[2]."
        )
    if X.shape[1] == 0 or X.shape[2] == 0:
        raise ValueError(
            f"X of shape {X.shape} holds no values per sample; each sample needs at "
            "least one step with at least one feature."
        )
    return X


class _RecurrentRegressor(FittedNetworkMixin, RegressorMixin, BaseEstimator):
    """Shared implementation of :class:`GRURegressor` and :class:`LSTMRegressor`."""

    def __init__(
        self,
        hidden_sizes: int | tuple[int, ...] = 64,
        dropout: float = 0.0,
        bidirectional: bool = False,
        attention: bool = False,
        ensemble_size: int | str = "auto",
        n_features: int | None = None,
        scale_target: bool = True,
        loss: str = "mse",
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
        warm_start: bool = False,
        device: str = "auto",
        n_threads: int | None = None,
        distributed: bool | str = "auto",
        mixed_precision: str | None = None,
        torch_compile: bool = False,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.attention = attention
        self.ensemble_size = ensemble_size
        self.n_features = n_features
        self.scale_target = scale_target
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
        self.warm_start = warm_start
        self.device = device
        self.n_threads = n_threads
        self.distributed = distributed
        self.mixed_precision = mixed_precision
        self.torch_compile = torch_compile
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X may also be 3-D: (n_samples, n_steps, n_features)
        tags.input_tags.three_d_array = True
        # y may be 2-D: one network output per column
        tags.target_tags.multi_output = True
        # a few epochs on sklearn's small test sets do not reach R² > 0.5
        tags.regressor_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y) -> _RecurrentRegressor:
        """Train the network on sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or (n_samples, n_columns)
            Input sequences, oldest step first. 2-D ``X`` holds ``n_columns //
            n_features`` steps, the features of each step side by side.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self
            The fitted regressor.

        Raises
        ------
        TrainingDivergedError
            When the training loss becomes NaN or infinite. A failed fit leaves
            the regressor as it was before, fitted or not.
        """
        with rollback_on_failure(self):
            self._fit(X, y)
        return self

    def _fit(self, X, y) -> None:
        params = check_params(self, "regressor")
        settings = self._core_settings()
        n_features, scale_target = params["n_features"], params["scale_target"]
        warm = params["warm_start"] and hasattr(self, "network_")
        X, y = validate_data(
            self,
            X,
            y,
            allow_nd=True,
            multi_output=True,
            y_numeric=True,
            dtype=FLOAT_DTYPES,
        )
        sequences = as_sequences(X, n_features)
        targets = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        # refuse a validation split that leaves nothing to train on, before any work
        training_count(len(sequences), settings.validation_size)

        members = (
            self.network_.n_members
            if warm and settings.ensemble_size == "auto"
            else resolve_ensemble_size(
                settings.ensemble_size, len(sequences), settings.config.batch_size
            )
        )
        settings = dataclasses.replace(settings, ensemble_size=members)
        generator, dropout_generator = generators(settings.seed, settings.device)
        if warm:
            self._check_continuable(sequences.shape[1:], targets.shape[1], settings)
            # train a copy, so a failed fit keeps the fitted network
            network = copy.deepcopy(self.network_)
            network.encoder.dropout = settings.dropout
            scaler = self._scaler
            generator.set_state(self._rng_state)
        else:
            network = build_network(
                settings,
                n_inputs=sequences.shape[2],
                n_targets=targets.shape[1],
                horizon=1,
                generator=generator,
            )
            scaler = SeriesScaler("standard" if scale_target else None).fit([targets])

        result = train_on_samples(
            network,
            sequences,
            scaler.transform(targets, 0),
            settings,
            (generator, dropout_generator),
            first_epoch=self.n_epochs_ + 1 if warm else 1,
        )
        self._record_history(result, warm)
        self.network_ = network
        self.device_ = settings.device
        self.n_outputs_ = targets.shape[1]
        self.n_parameters_ = count_parameters(network)
        self.ensemble_size_ = network.n_members
        self._scaler = scaler
        self._sequence_shape = tuple(sequences.shape[1:])
        self._input_ndim = X.ndim
        self._y_ndim = np.ndim(y)
        # a warm start shuffles on from where this fit stopped
        self._rng_state = generator.get_state()

    def _check_continuable(
        self, sequence_shape: tuple, n_outputs: int, settings: CoreSettings
    ) -> None:
        """Refuse a warm start whose data or architecture differs from the fit."""
        network = self.network_
        fitted = {
            "encoder (the cell, and attention)": network.encoder.cell,
            "hidden_sizes": network._arguments["hidden_sizes"],
            "bidirectional": network._arguments["bidirectional"],
            "ensemble_size": network.n_members,
            "sequence shape (n_steps, n_features)": self._sequence_shape,
            "number of outputs": self.n_outputs_,
        }
        now = {
            "encoder (the cell, and attention)": settings.cell,
            "hidden_sizes": settings.hidden_sizes,
            "bidirectional": settings.bidirectional,
            "ensemble_size": settings.ensemble_size,
            "sequence shape (n_steps, n_features)": tuple(sequence_shape),
            "number of outputs": n_outputs,
        }
        for what, value in now.items():
            if value != fitted[what]:
                raise ValueError(
                    f"warm_start=True continues training the fitted network, whose "
                    f"{what} is {fitted[what]!r}, but this fit has {value!r}. Pass "
                    "data and settings of the same shape, or set warm_start=False "
                    "to start over."
                )

    # ------------------------------------------------------------------ predict
    def predict(self, X) -> np.ndarray:
        """Predict the targets of sequences ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or (n_samples, n_columns)
            Input sequences in the same form and shape as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, shaped as ``y`` was in ``fit``.
        """
        check_is_fitted(self)
        # set_params may have changed it since fit, which validated it
        n_threads = check_value("n_threads", self.n_threads)
        self._check_form(getattr(X, "ndim", None))
        try:
            X = validate_data(self, X, reset=False, allow_nd=True, dtype=FLOAT_DTYPES)
        except ValueError as error:
            self._check_steps(X, error)
            raise
        self._check_form(X.ndim)
        # one memory layout for every input: torch's kernels sum in an order that
        # depends on the strides, so a DataFrame (column-major) and the same values
        # as a row-major array would otherwise differ in the last bits
        sequences = np.ascontiguousarray(self._fitted_sequences(X))
        check_float32_range(sequences, "X", REGRESSOR_X_FIX)
        runtime = Runtime(self._predict_device(), n_threads)
        scaled = predict_sequences(self.network_, sequences, runtime)
        predictions = check_finite_output(
            self._scaler.inverse_transform(scaled, 0),
            "predictions",
            "Divide y by a large constant (for example 1e100) before fitting, and "
            "multiply the predictions back.",
        )
        return predictions[:, 0] if self._y_ndim == 1 else predictions

    def _check_form(self, ndim: int | None) -> None:
        if ndim in (2, 3) and ndim != self._input_ndim:
            n_steps, n_features = self._sequence_shape
            fitted = (
                f"2-D X of {n_steps * n_features} columns"
                if self._input_ndim == 2
                else f"3-D X of shape (n_samples, {n_steps}, {n_features})"
            )
            raise ValueError(
                f"X is {ndim}-D, but the regressor was fitted on {fitted}. Pass X "
                "in the same form as in fit."
            )

    def _check_steps(self, X, error: ValueError) -> None:
        """Name the steps when 3-D ``X`` has another number of them than in fit:
        scikit-learn's check counts ``X.shape[1]``, which it calls features."""
        if self._input_ndim != 3:
            return
        try:
            shape = np.shape(X)
        except ValueError:
            return
        n_steps, n_features = self._sequence_shape
        if len(shape) == 3 and shape[1] != n_steps:
            raise ValueError(
                f"X has {shape[1]} steps per sequence (shape {shape}), but the "
                f"regressor was fitted on sequences of {n_steps} steps. Pass X of "
                f"shape (n_samples, {n_steps}, {n_features})."
            ) from error

    def _fitted_sequences(self, X: np.ndarray) -> np.ndarray:
        n_steps, n_features = self._sequence_shape
        if X.ndim == 2:
            # validate_data has checked the column count against the fit
            return X.reshape(X.shape[0], n_steps, n_features)
        if X.shape[2] != n_features:
            raise ValueError(
                f"X has {X.shape[2]} features per step, but the regressor was fitted "
                f"on {n_features}. Pass X of shape (n_samples, {n_steps}, "
                f"{n_features})."
            )
        return X

    # ------------------------------------------------------------------ model file
    #: the declared state a model file holds: gatedforecast._model_state.REGRESSOR
    _state_schema = "regressor"

    def _fitted_state(self) -> dict:
        """The fitted state, by the keys the schema ``_state_schema`` declares."""
        return {
            "network": self.network_,
            "device": str(self.device_),
            "scaler": {
                "method": self._scaler.method,
                "loc": self._scaler.loc_,
                "scale": self._scaler.scale_,
            },
            "n_outputs": self.n_outputs_,
            "sequence_shape": list(self._sequence_shape),
            "input_ndim": self._input_ndim,
            "y_ndim": self._y_ndim,
            "rng_state": self._rng_state,
            "history": self.history_,
            "n_epochs": self.n_epochs_,
            "best_epoch": self.best_epoch_,
            "n_features_in": self.n_features_in_,
            "feature_names_in": getattr(self, "feature_names_in_", None),
        }

    def _restore_fitted_state(self, state: dict) -> None:
        """Set this new regressor up from a state that :meth:`_fitted_state` gave."""
        scaler = SeriesScaler(state["scaler"]["method"])
        scaler.loc_, scaler.scale_ = state["scaler"]["loc"], state["scaler"]["scale"]
        self.network_ = state["network"]
        self.device_ = torch.device(state["device"])
        self.n_outputs_ = state["n_outputs"]
        self.n_parameters_ = count_parameters(self.network_)
        self.ensemble_size_ = self.network_.n_members
        self._scaler = scaler
        self._sequence_shape = tuple(state["sequence_shape"])
        self._input_ndim = state["input_ndim"]
        self._y_ndim = state["y_ndim"]
        self._rng_state = state["rng_state"]
        self.history_ = state["history"]
        self.n_epochs_ = state["n_epochs"]
        self.best_epoch_ = state["best_epoch"]
        self.n_features_in_ = state["n_features_in"]
        if state["feature_names_in"] is not None:
            self.feature_names_in_ = state["feature_names_in"]


@register_model
class GRURegressor(_RecurrentRegressor):
    __doc__ = class_doc("GRURegressor")
    _cell = "gru"


@register_model
class LSTMRegressor(_RecurrentRegressor):
    __doc__ = class_doc("LSTMRegressor")
    _cell = "lstm"
