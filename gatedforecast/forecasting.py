"""sktime forecasters: one private base, one thin public class per cell."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sktime.forecasting.base import BaseForecaster

from ._docs import class_doc
from ._fitted import FittedNetworkMixin
from ._params import (
    check_params,
    check_value,
    core_settings,
    generators,
    seed_from,
)
from .devices import torch_threads
from .intervals import (
    calibration_windows,
    conformal_quantiles,
    extend_to_steps,
    interpolate_levels,
    normalizing_spread,
    typical_spreads,
    unresolved_coverages,
    warn_unresolved,
)
from .networks import ForecastNetwork, count_parameters
from .panels import (
    cutoff_like,
    join_forecasts,
    split_series,
    steps_after,
    steps_until,
)
from .scaling import (
    SeriesScaler,
    WindowTransform,
    check_finite_output,
    check_float32_range,
)
from .seasonality import auto_window_length, choose_baseline, detect_season
from .training import Batches, PinballLoss, TrainingResult, empty_history, train_network
from .windows import WindowIndex, gather_windows

__all__ = ["GRUForecaster", "LSTMForecaster"]

STRATEGIES = ("direct", "recursive")
#: when more than this share of the windows is held out for calibration, the
#: network is trained again on all windows after calibrating
REFIT_SHARE = 0.05
#: the most roll-out passes (forward calls of the network per series) a predict makes
MAX_ROLL_OUT_PASSES = 10_000
INTERVAL_METHODS = ("conformal", "mc_dropout", "quantile", None)
#: levels of the quantile head when ``interval_method="quantile"`` and no
#: ``quantiles`` are given: the ones sktime's checks and most plots ask for
DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
#: series forecast together in one batched forward pass
PREDICT_CHUNK = 4096
#: how predict refuses forecasts beyond the float64 range
OVERFLOW_FIX = (
    "Divide y by a large constant (for example 1e100) before fitting, and "
    "multiply the forecasts back."
)


def _frames_by_key(X: pd.DataFrame, keys: list) -> dict:
    """Exogenous frames per series key, refusing series of y that X lacks."""
    x_keys, x_frames = split_series(X, "X")
    for key, frame in zip(x_keys, x_frames):
        if not frame.index.is_unique:
            _check_time_points([key], [frame], "X")
    frames = dict(zip(x_keys, x_frames))
    if keys == [None] and None not in frames:
        raise ValueError("X must be indexed by time like y, not by series.")
    missing = [k for k in keys if k not in frames]
    if missing:
        raise ValueError(
            f"X has no rows for series {missing[:5]} of y; pass X for every series."
        )
    return frames


def _select_columns(frame: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """The fitted covariate columns of ``frame``, naming any that are absent."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"X lacks the column(s) {absent} it had in fit; pass X with the "
            f"columns {list(columns)}."
        )
    return frame[columns]


def _pad_rows(values: np.ndarray, multiple: int) -> np.ndarray:
    """Repeat the last row of ``values`` up to a multiple of ``multiple`` rows."""
    missing = -len(values) % multiple
    if not missing or values.shape[1] == 0:
        return values
    return np.concatenate([values, np.repeat(values[-1:], missing, axis=0)])


def _largest_step(fh, cutoff) -> int:
    """The largest step of ``fh`` after ``cutoff``, or 0 without ``fh``."""
    if fh is None:
        return 0
    return int(np.asarray(fh.to_relative(cutoff), dtype=np.int64).max())


def _divergence_hint(setup: _Setup) -> str:
    """How to avoid a diverging training run, for the end of its error message
    (values beyond float32 never get this far: ``_train`` refuses them)."""
    if setup.transform.normalize:
        scaler = "window"
    elif setup.scaler_method is not None:
        scaler = setup.scaler_method
    else:
        return "or scale the data (scaler='window' or 'standard')."
    return f"or check y for extreme values (it is already scaled, scaler={scaler!r})."


def _series_name(key) -> str:
    """How error messages name a series: ``y`` alone, or ``y[key]`` in a panel."""
    if key is None:
        return "y"
    return f"y[{key[0]!r}]" if len(key) == 1 else f"y[{key!r}]"


def _check_integer_steps(index: pd.Index, where: str, name: str) -> None:
    """Refuse an integer time index that skips integers.

    sktime reads integer time as counted in ones (``fh=1`` is the next integer, and
    update continues with it), so an integer index must run without gaps: a gap
    would be read as consecutive steps, and a regular step of 2 would forecast
    time points that the data never has.
    """
    steps = np.diff(index.to_numpy())
    if len(steps) == 0 or (steps == 1).all():
        return
    at = int(np.flatnonzero(steps != 1)[0])
    raise ValueError(
        f"{where} has an integer time index with a gap: {index[at]} is followed by "
        f"{index[at + 1]}. Integer time points count steps one by one (fh=1 is the "
        "next integer), so they must be consecutive. Fill the missing steps (for "
        f"example {name}.reindex(range(first, last + 1)), then fill the NaN with "
        "sktime's Imputer); for a regular step k, number the steps instead "
        f"({name}.index // k); or use a DatetimeIndex or PeriodIndex with a "
        "frequency."
    )


def _check_time_points(keys: list, frames: list, name: str = "y"):
    """Refuse repeated time points, an integer index with gaps, a TimedeltaIndex
    and a DatetimeIndex without a regular frequency.

    Returns the frequency of a DatetimeIndex (the same for every series), else None.
    """
    freqs = set()
    for key, frame in zip(keys, frames):
        index, where = frame.index, name if key is None else _series_name(key)
        if not index.is_unique:
            repeated = list(index[index.duplicated()].unique()[:5])
            raise ValueError(
                f"{where} has repeated time points, first {repeated}: each time "
                "point must appear once per series. Aggregate the repeats (for "
                "example with groupby(level=...).mean()) or drop them with "
                f"{name}[~{name}.index.duplicated()]."
            )
        if isinstance(index, pd.TimedeltaIndex):
            raise ValueError(
                f"{where} has a TimedeltaIndex, which the forecasters cannot name "
                "forecast time points on. Pass a DatetimeIndex (for example "
                f"pd.Timestamp('2000-01-01') + {name}.index, with a frequency), a "
                "PeriodIndex, or an integer index counting the steps."
            )
        if pd.api.types.is_integer_dtype(index.dtype):
            _check_integer_steps(index, where, name)
            continue
        if not isinstance(index, pd.DatetimeIndex):
            continue
        freq = index.freq
        if freq is None and len(index) >= 3:
            freq = pd.infer_freq(index)
        if freq is None:
            steps = pd.Series(index[1:] - index[:-1]).value_counts().index[:3]
            raise ValueError(
                f"{where} has an irregular DatetimeIndex: no frequency fits its "
                f"time points (steps of {', '.join(str(s) for s in steps)}), so "
                "forecast time points cannot be named. Make it regular first, for "
                f"example {name}.asfreq('D') (gaps become NaN: fill them, e.g. with "
                "sktime's Imputer) or resample to a coarser frequency; or pass a "
                "PeriodIndex or integer index."
            )
        freqs.add(pd.tseries.frequencies.to_offset(freq))
    if len(freqs) > 1:
        raise ValueError(
            f"The series of {name} have different frequencies "
            f"{sorted(f.freqstr for f in freqs)}; resample them to one frequency."
        )
    return freqs.pop() if freqs else None


def check_series_values(y: pd.DataFrame, name: str = "y") -> np.ndarray:
    """The values of ``y`` as a float64 array, refusing non-numeric or non-finite data."""
    bad = [
        c
        for c in y.columns
        if not pd.api.types.is_numeric_dtype(y[c].dtype)
        or pd.api.types.is_bool_dtype(y[c].dtype)
    ]
    if bad:
        dtypes = ", ".join(f"{c!r}: {y[c].dtype}" for c in bad)
        raise TypeError(
            f"{name} must hold numbers, but column(s) {dtypes} do not. Convert them "
            "with pd.to_numeric(...) or astype(float), or drop them."
        )
    values = y.to_numpy(dtype=np.float64, copy=True)
    if values.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass a series with observations.")
    missing = np.isnan(values)
    if missing.any():
        where = list(y.index[missing.any(axis=1)][:5])
        raise ValueError(
            f"{name} has {int(missing.sum())} missing (NaN) value(s), first at {where}. "
            "Fill them before fitting, e.g. with sktime's Imputer in a "
            "TransformedTargetForecaster."
        )
    infinite = ~np.isfinite(values)
    if infinite.any():
        where = list(y.index[infinite.any(axis=1)][:5])
        raise ValueError(
            f"{name} has {int(infinite.sum())} infinite value(s), first at {where}. "
            "Replace or drop them before fitting."
        )
    return values


def roll_out(
    network: ForecastNetwork,
    transform: WindowTransform,
    context: torch.Tensor,
    n_steps: int,
    future: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    median: int | None = None,
) -> torch.Tensor:
    """Forecast ``n_steps`` from ``context`` of shape ``(batch, window, channels)``.

    The head gives ``network.horizon`` steps per pass; longer horizons feed the
    forecasts back as inputs (recursive roll-out). ``future`` holds the covariates
    of the forecast steps, ``(batch, n, n_covariates)`` with ``n`` at least
    ``n_steps`` rounded up to a multiple of the head; they are appended to the
    context beside the forecasts. With a ``generator``, dropout masks drawn from
    it stay on (Monte Carlo dropout) while the network itself stays in eval mode.
    A quantile network is rolled out along its median, level number ``median``.
    Returns ``(batch, n_steps, n_targets)`` in the scaled space of ``context``.
    """
    sampling = {"generator": generator, "dropout": generator is not None}

    def forward(*inputs):
        out = network(*inputs, **sampling)
        return out if median is None else out[..., median]

    window, head = context.shape[1], network.horizon
    produced = []
    done = 0
    with torch.no_grad():
        while done < n_steps:
            inputs, ctx = transform.inputs(context[:, -window:])
            if future is None:
                step = transform.invert(forward(inputs), ctx)
                rows = step
            else:
                known = future[:, done : done + head]
                step = transform.invert(forward(inputs, known), ctx)
                rows = torch.cat([step, known], dim=-1)
            produced.append(step)
            # only the last window is read again: keep the context that long
            context = torch.cat([context, rows], dim=1)[:, -window:]
            done += head
    return torch.cat(produced, dim=1)[:, :n_steps]


@dataclass(frozen=True)
class _Setup:
    """How a network reads series, fixed when it is first trained."""

    window_length: int
    horizon: int
    transform: WindowTransform
    scaler_method: str | None
    columns: pd.Index
    x_columns: pd.Index | None
    levels: tuple[float, ...] | None = None

    @property
    def median(self) -> int | None:
        """Position of the 0.5 level in a quantile head's output."""
        return None if self.levels is None else self.levels.index(0.5)


class _RecurrentForecaster(FittedNetworkMixin, BaseForecaster):
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
        period = season if baseline == "seasonal" else None
        if period is not None and length < period:
            raise ValueError(
                f"baseline='seasonal' looks {period} steps back, so window_length "
                f"must be at least seasonal_period={period}; got {length}."
            )
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
            return None
        levels = DEFAULT_QUANTILES if self.quantiles is None else self.quantiles
        return check_value("quantiles", levels)

    def _check_params(self) -> None:
        check_params(self, "forecaster")

    # ------------------------------------------------------------------ sktime API
    def _collect(self, y: pd.DataFrame, X):
        """Series keys, time frames and float64 arrays of y beside X, per series."""
        keys, frames = split_series(y)
        self._time_freq = _check_time_points(keys, frames)
        values = [check_series_values(f, _series_name(k)) for k, f in zip(keys, frames)]
        x_columns = None if X is None or X.shape[1] == 0 else X.columns
        if x_columns is not None:
            x_frames = _frames_by_key(X, keys)
            # X may reach beyond y (sktime asks only that it cover y): y's rows
            values = [
                np.hstack([v, check_series_values(x_frames[k].reindex(f.index), "X")])
                for v, k, f in zip(values, keys, frames)
            ]
        return keys, frames, values, x_columns

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

    def _index_freq(self, y: pd.DataFrame):
        """The frequency of y's time index (a PeriodIndex's, or the one of a
        DatetimeIndex found by ``_collect``); None for an integer index."""
        time = y.index.get_level_values(-1)
        if isinstance(time, pd.PeriodIndex):
            return time.freq
        return getattr(self, "_time_freq", None)

    def _new_network(self, setup: _Setup, settings, generator) -> ForecastNetwork:
        n_covariates = 0 if setup.x_columns is None else len(setup.x_columns)
        n_targets = len(setup.columns)
        return ForecastNetwork(
            n_inputs=n_targets + n_covariates,
            n_targets=n_targets,
            horizon=setup.horizon,
            hidden_sizes=settings.hidden_sizes,
            cell=settings.cell,
            dropout=settings.dropout,
            bidirectional=settings.bidirectional,
            n_future=n_covariates,
            n_quantiles=0 if setup.levels is None else len(setup.levels),
        ).initialize(generator)

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

        def train_afresh(series, description=None):
            """A new network, or a copy of the pretrained one (sktime hands
            pretrained attributes over by reference: never train them), trained
            for ``epochs`` on ``series`` from freshly seeded generators;
            ``description`` names the run in the progress bar."""
            generator, dropout_generator = generators(settings.seed, settings.device)
            network = (
                self._new_network(setup, settings, generator)
                if pretrained is None
                else copy.deepcopy(pretrained)
            )
            if not epochs:
                return network, TrainingResult(empty_history(), 0, 0, False), generator
            rngs = (generator, dropout_generator)
            result = self._train(
                network, series, setup, settings, rngs, epochs, 1, description
            )
            return network, result, generator

        scaler = SeriesScaler(setup.scaler_method).fit(values)
        scaled = [scaler.transform(v, i) for i, v in enumerate(values)]
        # the last windows of each series are held out to calibrate intervals
        calibration_horizon = max(setup.horizon, _largest_step(fh, self.cutoff))
        held_out = np.zeros(len(scaled), dtype=int)
        if self.interval_method is not None:
            held_out = calibration_windows(
                [len(v) for v in scaled],
                setup.window_length,
                setup.horizon,
                calibration_horizon,
                self.calibration_size,
            )
        training = [
            v[: len(v) - calibration_horizon - n + 1] if n else v
            for v, n in zip(scaled, held_out)
        ]
        n_windows = sum(
            len(v) - setup.window_length - setup.horizon + 1 for v in scaled
        )
        # when the held-out windows are a large part of the most recent data, the
        # point forecasts come from a network trained again on all windows
        refit = held_out.sum() > REFIT_SHARE * n_windows
        network, result, generator = train_afresh(
            training, "calibration fit" if refit else None
        )
        self.network_ = network
        self.device_ = settings.device
        self.window_length_ = setup.window_length
        self.horizon_ = setup.horizon
        self.seasonal_period_ = setup.transform.seasonal_period
        self.baseline_ = setup.transform.baseline
        self.n_parameters_ = count_parameters(network)
        self.n_series_ = len(keys)
        self._columns = y.columns
        self._x_columns = x_columns
        self._index_names = list(y.index.names)
        self._keys = keys
        self._last_index = [f.index[-1] for f in frames]
        self._scaler = scaler
        self._transform = setup.transform
        self._setup = setup
        keep = min(setup.window_length + setup.horizon - 1, min(len(v) for v in values))
        self._tails = np.stack([s[-keep:] for s in scaled])
        self._record_history(result, continued=False)
        # continued training (update) shuffles on from where fit stopped
        self._rng_state = generator.get_state()
        self._typical_spread = None
        if setup.transform.normalize:
            n_targets = len(setup.columns)
            self._typical_spread = typical_spreads(
                [v[:, :n_targets] for v in scaled], setup.window_length
            )
        self._residuals = self._calibrate(scaled, held_out, calibration_horizon)
        # warnings that predict gives once per fitted model
        self._warnings_given = []
        if epochs and refit and not result.interrupted:
            network, result, generator = train_afresh(scaled, "final fit")
            self.network_ = network
            self._record_history(result, continued=False)
            self._rng_state = generator.get_state()
        return self

    def _name_cutoff_freq(self) -> None:
        """Give a DatetimeIndex cutoff the series' frequency: sktime leaves it out for
        panels whose series differ in length, and then cannot name forecast times."""
        cutoff, freq = self._cutoff, getattr(self, "_time_freq", None)
        if isinstance(cutoff, pd.DatetimeIndex) and cutoff.freq is None and freq:
            self._cutoff = pd.DatetimeIndex(cutoff, freq=freq)

    def _calibrate(self, scaled, held_out, horizon: int) -> np.ndarray | None:
        """Scaled residuals of the held-out windows: ``(n, horizon, n_targets)``.

        Each window is forecast ``horizon`` steps from its input, as predict would,
        and the error is divided by the spread the forecast was scaled with.
        """
        if not held_out.any():
            return None
        window, n_targets = self.window_length_, self._transform.n_targets
        contexts, truths, futures = [], [], []
        for values, n in zip(scaled, held_out):
            for j in range(n):
                start = len(values) - window - horizon - j
                contexts.append(values[start : start + window])
                following = values[start + window : start + window + horizon]
                truths.append(following[:, :n_targets])
                futures.append(_pad_rows(following[:, n_targets:], self.horizon_))
        contexts = np.stack(contexts)
        future = np.stack(futures) if self._x_columns is not None else None
        forecast = self._forecast_scaled(contexts, horizon, future)
        series = np.repeat(np.arange(len(scaled)), held_out)
        return (np.stack(truths) - forecast) / self._spread(contexts, series)

    def _spread(self, contexts: np.ndarray, series: np.ndarray) -> np.ndarray:
        """The spread that calibration residuals are measured in, for windows of
        the series numbered ``series``: ``(n, 1, n_targets)``.

        The spread each window's forecast is scaled with; a flat window takes the
        typical window spread of its series (see ``normalizing_spread``).
        """
        _, (_, spread) = self._transform.inputs(torch.as_tensor(contexts))
        spread = spread.numpy()
        typical = getattr(self, "_typical_spread", None)
        if typical is None:
            return spread
        return normalizing_spread(spread, typical[series])

    def _pretrain(self, y: pd.DataFrame, X=None, fh=None):
        """Train the global network on a panel, for later fits to apply."""
        self._check_params()
        settings = core_settings(self, self._cell)
        keys, _, values, x_columns = self._collect(y, X)
        setup = self._new_setup(y, keys, values, x_columns, fh)
        generator, _ = generators(settings.seed, settings.device)
        network = self._new_network(setup, settings, generator)
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
        result = self._train(
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

    def _train(
        self,
        network,
        scaled,
        setup,
        settings,
        rngs,
        epochs,
        first_epoch,
        description=None,
    ):
        """Train ``network`` on every window of the scaled series in ``scaled``;
        ``description`` names the run in the progress bar.

        The series are stored end to end in one float32 buffer on the device and
        windows are gathered from it by start position, batch by batch.
        """
        device = settings.device
        window, head, transform = setup.window_length, setup.horizon, setup.transform
        index = WindowIndex.build([len(s) for s in scaled], window, head)
        train, val = index.split_validation(settings.validation_size)
        if train.size == 0 and first_epoch > 1:
            # continued training on a few new windows validates only when it can
            train, val = index.split_validation(None)
        if train.size == 0:
            raise ValueError(
                f"validation_size={settings.validation_size!r} leaves no training "
                f"window out of {len(index)}: use a smaller validation_size, a "
                "shorter window_length, or a longer series."
            )
        values = np.concatenate(scaled)
        check_float32_range(
            values,
            "y" if setup.x_columns is None else "y or X",
            "Use scaler='window' or 'standard', which standardise each series, or "
            "divide the data by a large constant.",
        )
        buffer = torch.as_tensor(values, dtype=torch.float32, device=device)
        span = window + head

        n_targets = transform.n_targets

        def make(starts):
            values = gather_windows(buffer, starts, span)
            inputs, context = transform.inputs(values[:, :window])
            targets = transform.targets(values[:, window:, :n_targets], context)
            if network.n_future:
                return (inputs, values[:, window:, n_targets:]), targets
            return inputs, targets

        batches = Batches(
            make=make,
            train=torch.as_tensor(train, device=device),
            validation=torch.as_tensor(val, device=device),
        )
        config = copy.copy(settings.config)
        config.max_epochs = epochs
        config.description = description
        config.divergence_hint = _divergence_hint(setup)
        if setup.levels is not None:
            config.loss = PinballLoss(setup.levels)
        return train_network(network, batches, config, *rngs, first_epoch)

    def _forecast_scaled(
        self,
        contexts: np.ndarray,
        n_steps: int,
        future: np.ndarray | None,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Roll the scaled ``contexts`` out ``n_steps``: ``(n, n_steps, n_targets)``.

        Runs in chunks of series on the prediction device; with a ``generator``,
        dropout masks are sampled from it.
        """
        network, _ = self._prediction_network()
        out = []
        with torch_threads(self.n_threads):
            self._roll_out_chunks(network, contexts, n_steps, future, generator, out)
        return torch.cat(out).double().cpu().numpy()

    def _roll_out_chunks(self, network, contexts, n_steps, future, generator, out):
        device = next(network.parameters()).device
        for rows in np.array_split(
            np.arange(len(contexts)), max(1, len(contexts) // PREDICT_CHUNK)
        ):
            context = torch.as_tensor(
                contexts[rows], dtype=torch.float32, device=device
            )
            known = None
            if future is not None:
                known = torch.as_tensor(
                    future[rows], dtype=torch.float32, device=device
                )
            out.append(
                roll_out(
                    network,
                    self._transform,
                    context,
                    n_steps,
                    known,
                    generator,
                    self._setup.median,
                )
            )

    def _contexts(self) -> np.ndarray:
        """The last window of every series, scaled: ``(n_series, window, channels)``."""
        return self._tails[:, -self.window_length_ :]

    def _freq(self):
        """The frequency of a DatetimeIndex the forecaster was fitted on, else None."""
        return getattr(self, "_time_freq", None) or getattr(self.cutoff, "freq", None)

    def _check_continues(self, key, last, index: pd.Index) -> None:
        """Refuse new observations that leave a gap after the last one known."""
        expected = steps_after(last, len(index), self._freq())
        if len(index) == len(expected) and (index == expected).all():
            return
        missing = expected.difference(index)[:5]
        where = "y" if key is None else _series_name(key)
        raise ValueError(
            f"update got {where} with a gap after the last known time point "
            f"{last}: no values at {[str(m) for m in missing]}. The new observations must "
            "continue the series step by step; fill the gap (for example with "
            "sktime's Imputer) or fit again on the whole series."
        )

    def _forecast_index(self, fh):
        """Per series: the steps of ``fh`` after its own end, and their index."""
        # series that end together share their steps and forecast index; a
        # relative fh gives every series the same steps
        relative = None
        if fh.is_relative:
            relative = np.asarray(fh.to_pandas(), dtype=np.int64)
        per_end = {}
        for last in set(self._last_index):
            if relative is not None and isinstance(last, (int, np.integer)):
                # integer time: the forecast times are plain sums
                per_end[last] = (relative, pd.Index(last + relative))
                continue
            cutoff = cutoff_like(self.cutoff, last)
            steps = relative
            if steps is None:
                steps = np.asarray(fh.to_relative(cutoff), dtype=np.int64)
            per_end[last] = (steps, fh.to_absolute_index(cutoff))
        for last, (steps, _) in per_end.items():
            if (steps <= 0).any():
                # a negative step would index the roll-out from its end
                key = self._keys[self._last_index.index(last)]
                raise ValueError(
                    f"fh includes time points at or before the end of "
                    f"{_series_name(key)} ({last}), steps {list(steps[steps <= 0])} "
                    "after it: in-sample forecasts are not available. Ask for time "
                    "points after the last observation of every series."
                )
        steps = [per_end[last][0] for last in self._last_index]
        indexes = [per_end[last][1] for last in self._last_index]
        return steps, indexes

    def _future_covariates(self, X, n_steps: int) -> np.ndarray | None:
        """Scaled covariates of the next steps of every series, from predict's X.

        Shape ``(n_series, n, n_covariates)`` with ``n`` the steps rounded up to a
        multiple of the head (the extra rows repeat the last one; their forecasts
        are discarded).
        """
        if self._x_columns is None:
            return None
        if X is None:
            raise ValueError(
                f"This forecaster was fitted with exogenous X, so predict needs X "
                f"with a row for each of the {n_steps} step(s) after the cutoff "
                f"(columns {list(self._x_columns)})."
            )
        frames = _frames_by_key(X, self._keys)
        n_rows = -(-n_steps // self.horizon_) * self.horizon_
        future = np.empty((len(self._keys), n_rows, len(self._x_columns)))
        for i, (key, last) in enumerate(zip(self._keys, self._last_index)):
            expected = steps_after(last, n_steps, self._freq())
            rows = _select_columns(frames[key], self._x_columns).reindex(expected)
            absent = rows.isna().any(axis=1).to_numpy()
            if absent.any():
                where = "" if key is None else f" of series {key!r}"
                raise ValueError(
                    f"X does not cover the forecast horizon{where}: no values at "
                    f"{list(expected[absent][:5])}. X must have a row, without "
                    f"missing values, for every step from the cutoff up to the "
                    f"largest step of fh ({n_steps})."
                )
            n_targets = self._transform.n_targets
            future[i] = _pad_rows(
                self._scaler.transform(
                    check_series_values(rows, "X"), i, slice(n_targets, None)
                ),
                self.horizon_,
            )
        return future

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
        steps, indexes = self._forecast_index(fh)
        n_steps = self._steps_to_forecast(steps)
        scaled = self._forecast_scaled(
            self._contexts(), n_steps, self._future_covariates(X, n_steps)
        )
        targets = slice(0, self._transform.n_targets)
        if all(s is steps[0] for s in steps):
            # series that end together: one vectorised inverse scaling
            chosen = scaled[:, steps[0] - 1]
            series = np.arange(len(chosen))
            values = self._scaler.inverse_transform(chosen, series, targets)
            values = values.reshape(-1, values.shape[-1])
        else:
            values = [
                self._scaler.inverse_transform(scaled[i, s - 1], i, targets)
                for i, s in enumerate(steps)
            ]
        for block in values if isinstance(values, list) else [values]:
            check_finite_output(block, "forecasts", OVERFLOW_FIX)
        return join_forecasts(
            self._keys, self._index_names, indexes, values, self._columns
        )

    def _predict_quantiles(self, fh, X, alpha):
        if self._residuals is None:
            raise ValueError(
                "No window could be held out to calibrate prediction intervals: the "
                "series are too short for window_length + horizon + the calibrated "
                "steps. Pass longer series, a shorter window_length, or set "
                "calibration_size."
            )
        steps, indexes = self._forecast_index(fh)
        n_steps = self._steps_to_forecast(steps)
        future = self._future_covariates(X, n_steps)
        contexts = self._contexts()
        spread = self._spread(contexts, np.arange(len(contexts)))
        if self.interval_method in ("conformal", "quantile"):
            point = self._forecast_scaled(contexts, n_steps, future)
            quantiles = np.empty((len(alpha), *point.shape))
            # a quantile head answers for its own steps; calibrated spreads after
            first = 0
            if self.interval_method == "quantile":
                head = self._head_quantiles(contexts, future)
                first = min(n_steps, head.shape[1])
                quantiles[:, :, :first] = interpolate_levels(
                    head[:, :first], self._setup.levels, alpha
                )
            if n_steps > first:
                self._warn_unresolved_once(alpha)
                offsets = extend_to_steps(
                    conformal_quantiles(self._residuals, alpha, warn=False), n_steps
                )
                quantiles[:, :, first:] = (
                    point[None, :, first:] + offsets[:, None, first:] * spread[None]
                )
        else:
            quantiles = self._sample_quantiles(contexts, spread, n_steps, future, alpha)
        targets = slice(0, self._transform.n_targets)
        values = []
        for i, s in enumerate(steps):
            # (alpha, step, variable) -> rows of steps, columns variable-major
            level = self._scaler.inverse_transform(quantiles[:, i, s - 1], i, targets)
            check_finite_output(level, "prediction intervals", OVERFLOW_FIX)
            values.append(level.transpose(1, 2, 0).reshape(len(s), -1))
        columns = pd.MultiIndex.from_product([self._columns, alpha])
        return join_forecasts(self._keys, self._index_names, indexes, values, columns)

    def _warn_unresolved_once(self, alpha) -> None:
        """Warn, once per fitted model, that the residuals are too few for some
        of the levels ``alpha``."""
        given = getattr(self, "_warnings_given", None)
        n = len(self._residuals)
        short = unresolved_coverages(n, alpha)
        if not short or (given is not None and "unresolved" in given):
            return
        warn_unresolved(n, short)
        if given is not None:
            # kept in place: a record of what was said, not of the model
            given.append("unresolved")

    def _head_quantiles(self, contexts, future) -> np.ndarray:
        """The quantile head's output for the next ``horizon_`` steps, in the
        scaled space: ``(n_series, horizon_, n_targets, n_levels)``."""
        network, device = self._prediction_network()
        with torch.no_grad(), torch_threads(self.n_threads):
            context = torch.as_tensor(contexts, dtype=torch.float32, device=device)
            inputs, ctx = self._transform.inputs(context)
            args = (inputs,)
            if future is not None:
                known = future[:, : self.horizon_]
                args += (torch.as_tensor(known, dtype=torch.float32, device=device),)
            out = self._transform.invert(network(*args, dropout=False), ctx)
        return out.double().cpu().numpy()

    def _sample_quantiles(self, contexts, spread, n_steps, future, alpha):
        """Monte Carlo dropout: ``n_samples`` forecast paths with dropout masks from
        a generator seeded by ``random_state``, each plus a calibration residual
        path (the data's noise), then the quantiles of the paths."""
        samples = self.n_samples
        seed = seed_from(self.random_state)
        device = self._predict_device()
        generator = torch.Generator(device=device).manual_seed(seed)
        repeated = np.repeat(contexts, samples, axis=0)
        known = None if future is None else np.repeat(future, samples, axis=0)
        paths = self._forecast_scaled(repeated, n_steps, known, generator)
        rng = np.random.default_rng(seed)
        pick = rng.integers(len(self._residuals), size=len(paths))
        # a random sign makes the noise symmetric, as the conformal intervals are:
        # the few residuals of neighbouring calibration windows often share a sign
        sign = rng.choice([-1.0, 1.0], size=(len(paths), 1, 1))
        noise = extend_to_steps(self._residuals[pick] * sign, n_steps)
        paths = paths + noise * np.repeat(spread, samples, axis=0)
        paths = paths.reshape(len(contexts), samples, n_steps, -1)
        return np.quantile(paths, alpha, axis=1)

    def _update(self, y: pd.DataFrame, X=None, update_params: bool = True):
        # sktime moves the cutoff to y's end before calling _update: a refused
        # update puts it back, and a diverged one the weights, so the forecaster
        # is left as it was
        weights = copy.deepcopy(self.network_.state_dict())
        try:
            return self._update_from(y, X, update_params)
        except Exception:
            self._cutoff = self._fitted_cutoff()
            self.network_.load_state_dict(weights)
            raise

    def _update_y_X(self, y, X=None, enforce_index_type=None):
        """Set the cutoff from newly seen data, but never move it back.

        sktime sets the cutoff to the end of the data passed; data that end
        earlier (a series of a panel that lags the others, or revised values of
        time points already seen) leave it where it is.
        """
        previous = self._cutoff if getattr(self, "_state", None) == "fitted" else None
        super()._update_y_X(y, X, enforce_index_type)
        if previous is None or self._cutoff is None or not len(self._cutoff):
            return
        try:
            earlier = bool(self._cutoff[0] < previous[0])
        except TypeError:
            # another kind of time index: _update refuses it and restores the cutoff
            return
        if earlier:
            self._cutoff = previous

    def _revise(self, key, i: int, tail, last, revised, x_frame) -> np.ndarray:
        """The stored values of series ``i`` with those of ``revised`` (time points
        at or before its last one, ``last``) written over them.

        The forecaster keeps the last ``len(tail)`` values of each series; revised
        values before them change nothing it keeps. ``X`` rows given for the
        revised time points replace the stored covariates too.
        """
        where = _series_name(key)
        values = check_series_values(revised, where)
        stored = steps_until(last, len(tail), self._freq())
        positions = stored.get_indexer(revised.index)
        kept = positions >= 0
        strays = revised.index[~kept]
        strays = strays[strays >= stored[0]]
        if len(strays):
            raise ValueError(
                f"update got {where} at {[str(t) for t in strays[:5]]}, which are "
                f"not time points of the series (the last ones known are "
                f"{[str(t) for t in stored[-3:]]}). Pass values at the series' own "
                "time points."
            )
        if not kept.any():
            return tail
        tail, rows = tail.copy(), positions[kept]
        n_targets = self._transform.n_targets
        tail[rows, :n_targets] = self._scaler.transform(
            values[kept], i, slice(0, n_targets)
        )
        if x_frame is not None:
            given = _select_columns(x_frame, self._x_columns).reindex(
                revised.index[kept]
            )
            complete = given.notna().all(axis=1).to_numpy()
            if complete.any():
                tail[rows[complete], n_targets:] = self._scaler.transform(
                    check_series_values(given[complete], "X"),
                    i,
                    slice(n_targets, None),
                )
        return tail

    def _fitted_cutoff(self) -> pd.Index:
        """The cutoff of the data seen so far: the latest end of any series."""
        last = max(self._last_index)
        if isinstance(last, pd.Period):
            return pd.PeriodIndex([last], freq=last.freq)
        if isinstance(last, pd.Timestamp):
            return pd.DatetimeIndex([last], freq=getattr(self, "_time_freq", None))
        return pd.Index([last])

    def _update_from(self, y: pd.DataFrame, X, update_params: bool):
        keys, frames = split_series(y)
        if y.shape[1] != len(self._columns):
            raise ValueError(
                f"update got y with {y.shape[1]} column(s) {list(y.columns)}, but "
                f"the forecaster was fitted on {len(self._columns)} "
                f"{list(self._columns)}. Pass the same columns in the same order."
            )
        position = {key: i for i, key in enumerate(self._keys)}
        unknown = [k for k in keys if k not in position]
        if unknown:
            raise ValueError(
                f"update got series {unknown[:5]} that were not seen in fit; a "
                "fitted forecaster updates the series it was fitted on. Fit again "
                "to forecast new series."
            )
        if self._x_columns is not None and X is None:
            raise ValueError(
                "This forecaster was fitted with exogenous X, so update needs X "
                "for the new observations too."
            )
        x_frames = None if self._x_columns is None else _frames_by_key(X, keys)
        buffers, ends = list(self._tails), list(self._last_index)
        for key, frame in zip(keys, frames):
            i = position[key]
            if not frame.index.is_unique:
                _check_time_points([key], [frame])
            try:
                later = np.asarray(frame.index > ends[i])
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"update got {_series_name(key)} on a {type(frame.index).__name__}"
                    f" that cannot follow the fitted time points (the last is "
                    f"{ends[i]!r}): pass new data indexed like the data in fit."
                ) from error
            if not later.all():
                # values at time points already seen replace the stored ones
                x_frame = None if x_frames is None else x_frames[key]
                revised = frame.loc[~later]
                buffers[i] = self._revise(key, i, buffers[i], ends[i], revised, x_frame)
            new = frame.loc[later]
            if len(new) == 0:
                continue
            self._check_continues(key, ends[i], new.index)
            values = check_series_values(new, _series_name(key))
            if x_frames is not None:
                rows = _select_columns(x_frames[key], self._x_columns)
                values = np.hstack(
                    [values, check_series_values(rows.reindex(new.index), "X")]
                )
            buffers[i] = np.concatenate([buffers[i], self._scaler.transform(values, i)])
            ends[i] = new.index[-1]
        if update_params and any(len(b) > len(self._tails[0]) for b in buffers):
            settings = core_settings(self, self._cell)
            generator, dropout_generator = generators(settings.seed, settings.device)
            generator.set_state(self._rng_state)
            result = self._train(
                self.network_,
                buffers,
                self._setup,
                settings,
                (generator, dropout_generator),
                self.update_epochs or settings.config.max_epochs,
                first_epoch=self.n_epochs_ + 1,
            )
            self._rng_state = generator.get_state()
            self._record_history(result, continued=True)
        keep = self._tails.shape[1]
        self._tails = np.stack([b[-keep:] for b in buffers])
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


class GRUForecaster(_RecurrentForecaster):
    __doc__ = class_doc("GRUForecaster")
    _cell = "gru"


class LSTMForecaster(_RecurrentForecaster):
    __doc__ = class_doc("LSTMForecaster")
    _cell = "lstm"
