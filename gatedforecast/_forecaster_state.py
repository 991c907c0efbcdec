"""The forecaster's fitted state in a model file: what
:class:`gatedforecast.forecasting._RecurrentForecaster` declares it holds
(:data:`gatedforecast._model_state.FORECASTER`), and how a new forecaster is set
up from it.

:class:`ForecasterState` is a mixin of the forecasters; :func:`setup_state` and
:func:`setup_from_state` turn a :class:`~gatedforecast.engine._Setup` into plain
values and back.
"""

from __future__ import annotations

import torch

from ._model_archive import ModelFileError
from .categories import CategoryIndicators
from .distributions import DISTRIBUTIONS
from .engine import SeriesEngine, _Setup
from .scaling import SeriesScaler, WindowTransform
from .static import StaticEncoding

__all__ = ["ForecasterState", "setup_from_state", "setup_state"]


def setup_state(setup: _Setup) -> dict:
    """The plain values of ``setup``: the ``"setup"`` entry of the state."""
    transform = setup.transform
    transform_state = {
        "normalize": transform.normalize,
        "baseline": transform.baseline,
        "seasonal_period": transform.seasonal_period,
        "horizon": transform.horizon,
        "n_targets": transform.n_targets,
    }
    if transform.masked:
        # written only when set, so files of networks without mask channels
        # stay as they were (and files written before read as unmasked)
        transform_state["masked"] = True
    state = {
        "window_length": setup.window_length,
        "horizon": setup.horizon,
        "transform": transform_state,
        "scaler_method": setup.scaler_method,
        "columns": setup.columns,
        "x_columns": setup.x_columns,
        "levels": None if setup.levels is None else list(setup.levels),
        "past_columns": setup.past_columns,
    }
    if setup.static is not None:
        # written only when set, so files without static covariates stay as
        # they were (and files written before read as without)
        static = setup.static
        state["static"] = {
            "columns": static.columns,
            "n_numeric": static.n_numeric,
            "loc": static.loc,
            "scale": static.scale,
            "levels": list(static.levels),
        }
    if setup.distribution is not None:
        # written only when set, so files of point forecasters stay as they were
        state["distribution"] = setup.distribution
    if setup.categories is not None:
        # written only when set, as the static covariates are
        state["categories"] = {
            "columns": setup.categories.columns,
            "levels": list(setup.categories.levels),
        }
    return state


def known_distribution(name):
    """A likelihood head's name read from a file, refused unless known."""
    if name is not None and name not in DISTRIBUTIONS:
        raise ModelFileError(
            f"the setup names the distribution {name!r}, not one of {DISTRIBUTIONS}"
        )
    return name


def setup_from_state(state: dict) -> _Setup:
    """The :class:`_Setup` whose plain values :func:`setup_state` gave."""
    levels = state["levels"]
    static = state.get("static")
    if static is not None:
        static = StaticEncoding(**{**static, "levels": tuple(static["levels"])})
    categories = state.get("categories")
    if categories is not None:
        categories = CategoryIndicators(
            categories["columns"], tuple(categories["levels"])
        )
    return _Setup(
        window_length=state["window_length"],
        horizon=state["horizon"],
        transform=WindowTransform(**state["transform"]),
        scaler_method=state["scaler_method"],
        columns=state["columns"],
        x_columns=state["x_columns"],
        levels=None if levels is None else tuple(levels),
        past_columns=state["past_columns"],
        static=static,
        distribution=known_distribution(state.get("distribution")),
        categories=categories,
    )


class ForecasterState:
    """The declared fitted state of the forecasters, for model files.

    Needs the forecaster's ``_set_engine`` and its sktime state.
    """

    #: the declared state a model file holds: gatedforecast._model_state.FORECASTER
    _state_schema = "forecaster"

    def _fitted_state(self) -> dict:
        """The fitted state, by the keys the schema ``_state_schema`` declares."""
        metadata = self._y_metadata
        pretrained = None
        if getattr(self, "pretrained_network_", None) is not None:
            pretrained = {
                "network": self.pretrained_network_,
                "setup": setup_state(self.pretrained_setup_),
                "history": self.pretrained_history_,
            }
        engine = self._engine
        return {
            "network": engine.network,
            "device": str(self.device_),
            "setup": setup_state(engine.setup),
            "scaler": {
                "method": engine.scaler.method,
                "loc": engine.scaler.loc_,
                "scale": engine.scaler.scale_,
            },
            "tails": engine.tails,
            "typical_spread": engine.typical_spread,
            "residuals": engine.residuals,
            "scale_factors": engine.scale_factors,
            "rng_state": engine.rng_state,
            "history": self.history_,
            "n_epochs": self.n_epochs_,
            "best_epoch": self.best_epoch_,
            "calibration_epochs": engine.calibration_epochs,
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
        setup = setup_from_state(state["setup"])
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
                calibration_epochs=state["calibration_epochs"],
                scale_factors=state["scale_factors"],
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
            self.pretrained_setup_ = setup_from_state(state["pretrained"]["setup"])
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
