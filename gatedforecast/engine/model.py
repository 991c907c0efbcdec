"""The fitted engine of a forecaster: everything it forecasts from, as arrays.

One job: hold and use a trained network with the state that goes with it.
:meth:`SeriesEngine.fit` trains on a list of float64 series ``(n_t, n_channels)``
(targets first, then covariates): it fits the series scaler, holds out
calibration windows, trains (twice when the held-out windows are a large share),
and measures the calibration residuals. A fitted :class:`SeriesEngine` forecasts
scaled context windows (:meth:`~SeriesEngine.forecast`), forecasts the points of
the series it keeps one step ahead from the window before each
(:meth:`~SeriesEngine.in_sample`), gives the spreads and
offsets the interval methods need, and continues training on longer series
(:meth:`~SeriesEngine.continued`). It never sees pandas: series keys, time
points and columns stay with the sktime face.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .._params import generators
from ..distributions import count_scaler, distribution_head
from ..intervals import conformal_quantiles, extend_to_steps, typical_spreads
from ..scaling import SeriesScaler
from ..static import fit_series_scaler
from ..training import TrainingResult, empty_history
from .calibration import calibration_set, hold_out, window_spread
from .fitting import train_on_series
from .likelihood import median_reader, scale_factors
from .rollout import Runtime, batch_rows, forecast_windows, head_output
from .setup import _Setup, network_for

__all__ = ["SeriesEngine"]


class SeriesEngine:
    """A trained network and the state it forecasts series with.

    Attributes
    ----------
    network : ForecastNetwork
        The trained network, on the CPU.
    setup : _Setup
        Window, head, transform, scaler method and quantile levels.
    scaler : SeriesScaler
        Per-series scaling, fitted on the training series.
    tails : ndarray of shape (n_series, n_kept, n_channels)
        The last ``window_length + horizon - 1`` scaled values of each series
        (fewer when the shortest series is shorter).
    typical_spread : ndarray of shape (n_series, n_targets) or None
        Typical window spread of each series (window normalisation only).
    residuals : ndarray of shape (n, steps, n_targets) or None
        Scaled calibration residuals; None when no window was held out.
    scale_factors : ndarray of shape (horizon, n_targets) or None
        What a likelihood head's scales are multiplied by, fitted on the
        held-out windows (:func:`~gatedforecast.engine.likelihood.scale_factors`);
        None when they are read as trained.
    rng_state : torch.Tensor
        State of the shuffling generator, from where continued training goes on.
    calibration_epochs : int or None
        Epochs of the first of two trainings in :meth:`fit`: the one without the
        held-out windows, whose residuals calibrate the intervals, when the
        network was then trained again on all windows. None when it trained once.
    series : list of ndarray or None
        Every scaled value of each series seen so far, ``(n_t, n_channels)``:
        what in-sample forecasts (:meth:`in_sample`) read. None when only the
        tails are known (an engine restored from a model file).
    """

    def __init__(
        self,
        network,
        setup: _Setup,
        scaler: SeriesScaler,
        tails: np.ndarray,
        typical_spread: np.ndarray | None = None,
        residuals: np.ndarray | None = None,
        rng_state: torch.Tensor | None = None,
        calibration_epochs: int | None = None,
        series: list[np.ndarray] | None = None,
        scale_factors: np.ndarray | None = None,
    ) -> None:
        self.network = network
        self.setup = setup
        self.scaler = scaler
        self.tails = tails
        self.typical_spread = typical_spread
        self.residuals = residuals
        self.rng_state = rng_state
        self.calibration_epochs = calibration_epochs
        self.series = series
        self.scale_factors = scale_factors

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        values: list[np.ndarray],
        setup: _Setup,
        settings,
        epochs: int,
        calibrate: bool,
        calibration_size,
        calibration_horizon: int,
        runtime: Runtime,
        pretrained=None,
    ) -> tuple[SeriesEngine, TrainingResult]:
        """Train on the float64 series ``values`` and calibrate.

        A new network is built from ``setup``, or a copy of ``pretrained`` is
        trained (never the pretrained network itself), for ``epochs`` from
        generators seeded by ``settings.seed``. With ``calibrate``, the last
        windows of each series (``calibration_size``) are held out and forecast
        ``calibration_horizon`` steps to measure the residuals. Returns the
        engine and the training result of its network.
        """
        scaler = count_scaler(
            fit_series_scaler(setup, values),
            distribution_head(setup.distribution),
            setup.n_targets,
        )
        scaled = [scaler.transform(v, i) for i, v in enumerate(values)]
        held_out = hold_out(
            scaled, setup, calibration_horizon, calibration_size, calibrate
        )

        def train_afresh(series, description=None):
            generator, dropout_generator = generators(settings.seed, settings.device)
            network = (
                network_for(setup, settings, generator, series)
                if pretrained is None
                else copy.deepcopy(pretrained)
            )
            if not epochs:
                return network, TrainingResult(empty_history(), 0, 0, False), generator
            rngs = (generator, dropout_generator)
            result = train_on_series(
                network, series, setup, settings, rngs, epochs, 1, description
            )
            return network, result, generator

        network, result, generator = train_afresh(
            held_out.training, "calibration fit" if held_out.refit else None
        )
        keep = min(setup.window_length + setup.horizon - 1, min(len(v) for v in values))
        typical = None
        if setup.transform.normalize:
            typical = typical_spreads(
                [v[:, : setup.n_targets] for v in scaled], setup.window_length
            )
        engine = cls(
            network=network,
            setup=setup,
            scaler=scaler,
            tails=np.stack([s[-keep:] for s in scaled]),
            typical_spread=typical,
            # continued training (update) shuffles on from where fit stopped
            rng_state=generator.get_state(),
            series=scaled,
        )
        if held_out.counts.any():
            windows = calibration_set(scaled, held_out, setup)
            engine.residuals = engine.calibrate(windows, held_out.horizon, runtime)
            engine.scale_factors = scale_factors(engine, windows, runtime)
        if epochs and held_out.refit and not result.interrupted:
            # the point forecasts learn from the most recent windows too; the
            # residuals of the first network stand for those of the second
            engine.calibration_epochs = result.n_epochs
            network, result, generator = train_afresh(scaled, "final fit")
            engine.network = network
            engine.rng_state = generator.get_state()
        return engine, result

    def calibrate(self, windows, horizon: int, runtime: Runtime) -> np.ndarray:
        """Scaled residuals of the held-out ``windows`` (a
        :class:`~gatedforecast.engine.calibration.CalibrationSet`):
        ``(n, horizon, n_targets)``.

        Each window is forecast ``horizon`` steps from its input, as predict
        would, and the error is divided by the spread the forecast was scaled with.
        """
        forecast = self.forecast(windows.contexts, horizon, windows.future, runtime)
        spread = self.spread(windows.contexts, windows.series)
        residuals = (windows.truths - forecast) / spread
        if self.setup.masked:
            # a missing true value has no residual (NaN already), nor has a
            # target forecast from a window where it was never observed
            unread = self.unread(windows.contexts)
            residuals = np.where(unread[:, None, :], np.nan, residuals)
        return residuals

    def unread(self, contexts: np.ndarray) -> np.ndarray:
        """Which targets of the scaled ``contexts`` ``(n, window, channels)``
        have no observed value: ``(n, n_targets)`` (all False unless targets
        may be missing)."""
        return np.isnan(contexts[..., : self.setup.n_targets]).all(axis=1)

    def continued(
        self, series: list[np.ndarray], settings, epochs: int, first_epoch: int
    ) -> tuple[SeriesEngine, TrainingResult]:
        """A copy of this engine whose network (a copy) trained ``epochs`` more on
        the windows of the scaled ``series``, shuffling on from ``rng_state``."""
        generator, dropout_generator = generators(settings.seed, settings.device)
        generator.set_state(self.rng_state)
        network = copy.deepcopy(self.network)
        result = train_on_series(
            network,
            series,
            self.setup,
            settings,
            (generator, dropout_generator),
            epochs,
            first_epoch,
        )
        engine = copy.copy(self)
        engine.network = network
        engine.rng_state = generator.get_state()
        return engine, result

    def with_series(
        self, series: list[np.ndarray], whole: bool = False
    ) -> SeriesEngine:
        """A copy of this engine that forecasts from the ends of the scaled
        ``series`` (as many values of each as it keeps now); with ``whole``,
        ``series`` are every value seen and in-sample forecasts read them."""
        engine = copy.copy(self)
        keep = self.tails.shape[1]
        engine.tails = np.stack([s[-keep:] for s in series])
        engine.series = list(series) if whole else None
        return engine

    # ------------------------------------------------------------------ forecast
    def contexts(self) -> np.ndarray:
        """The last window of every series, scaled: ``(n_series, window, channels)``."""
        return self.tails[:, -self.setup.window_length :]

    def forecast(
        self,
        contexts: np.ndarray,
        n_steps: int,
        future: np.ndarray | None,
        runtime: Runtime,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Roll the scaled ``contexts`` out ``n_steps``: ``(n, n_steps, n_targets)``;
        with a ``generator``, dropout masks are sampled from it."""
        return forecast_windows(
            self.network,
            self.setup.transform,
            contexts,
            n_steps,
            future,
            runtime,
            generator,
            self.setup.median,
            median_reader(self.setup),
        )

    def in_sample(self, positions: list[np.ndarray], runtime: Runtime) -> list:
        """One-step forecasts of stored points from the window before each.

        ``positions[i]`` numbers points of series ``i`` (0 is its first stored
        value). The forecast of point ``p`` is the head's first step from the
        window of the ``window_length`` values before ``p``, with the head's
        future-known covariates read from the stored rows from ``p`` on (the last stored row
        repeated past the series' end, as out-of-sample forecasts shorter than
        the head repeat the last row given). Returns per series ``(len(positions[i]),
        n_targets)`` in the scaled space: NaN for a point with fewer than
        ``window_length`` stored values before it (or none at all), or whose
        window has no observed value of a target. A missing point is forecast
        like any other.
        """
        if self.series is None:
            raise ValueError(
                "This engine keeps only the last values of each series (it was "
                "restored from a model file), not the whole series that in-sample "
                "forecasts read. Fit again to forecast in-sample."
            )
        window, head = self.setup.window_length, self.setup.horizon
        n_targets = self.setup.n_targets
        out = [np.full((len(p), n_targets), np.nan) for p in positions]
        rows = [
            (i, r, int(p[r]))
            for i, p in enumerate(positions)
            for r in np.flatnonzero((p >= window) & (p < len(self.series[i])))
        ]
        covariates = self.setup.n_future > 0
        for batch in batch_rows(len(rows)):
            chosen = [rows[k] for k in batch]
            if not chosen:
                continue
            contexts = np.stack([self.series[i][p - window : p] for i, _, p in chosen])
            future = None
            if covariates:
                future = np.stack(
                    [
                        self.series[i][
                            np.minimum(p + np.arange(head), len(self.series[i]) - 1),
                            self.setup.future_channels,
                        ]
                        for i, _, p in chosen
                    ]
                )
            forecast = self.forecast(contexts, 1, future, runtime)[:, 0]
            # no forecast from a window where a target was never observed
            forecast[self.unread(contexts).any(axis=1)] = np.nan
            for (i, r, _), value in zip(chosen, forecast):
                out[i][r] = value
        return out

    def head_quantiles(
        self, contexts: np.ndarray, future: np.ndarray | None, runtime: Runtime
    ) -> np.ndarray:
        """The quantile head's output for the next ``horizon`` steps, scaled:
        ``(n, horizon, n_targets, n_levels)``."""
        return head_output(
            self.network, self.setup.transform, contexts, future, runtime
        )

    def spread(self, contexts: np.ndarray, series: np.ndarray) -> np.ndarray:
        """The spread forecasts of ``contexts`` (of the series numbered
        ``series``) are measured in: ``(n, 1, n_targets)``."""
        return window_spread(
            self.setup.transform, contexts, self.typical_spread, series
        )

    def conformal_offsets(self, alpha, n_steps: int) -> np.ndarray:
        """Scaled offsets from the point forecast at the levels ``alpha``:
        ``(len(alpha), n_steps, n_targets)``, grown beyond the calibrated steps."""
        return extend_to_steps(
            conformal_quantiles(self.residuals, alpha, warn=False), n_steps
        )

    def require_residuals(self) -> None:
        """Refuse intervals when no window could be held out to calibrate them."""
        if self.residuals is None:
            raise ValueError(
                "No window could be held out to calibrate prediction intervals: the "
                "series are too short for window_length + horizon + the calibrated "
                "steps. Pass longer series, a shorter window_length, or set "
                "calibration_size."
            )
