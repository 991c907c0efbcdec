"""The sktime face of the likelihood heads (``distribution``).

One job: what the forecasters do differently when ``distribution`` is set: the
interval method it reads as (:meth:`DistributionForecasts._interval_method_name`),
the count check of a negative binomial head, and ``predict_proba`` as a skpro
distribution (:meth:`DistributionForecasts._predict_proba`): the head's own
family for the head's steps of one network, an empirical distribution of drawn
paths beyond the head or for an ensemble. skpro is imported only here, when a
distribution is asked for.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
from scipy import stats

from ._params import seed_from
from .distributions import check_counts, distribution_head
from .engine import INTERVAL_METHODS
from .engine.likelihood import head_parameters, sample_paths
from .panels import join_forecasts

__all__ = ["DistributionForecasts", "require_skpro"]


def require_skpro() -> None:
    """Refuse ``predict_proba`` of a likelihood head without skpro."""
    if importlib.util.find_spec("skpro") is None:
        raise ImportError(
            "predict_proba of a forecaster with distribution set returns a skpro "
            "distribution, and skpro is not installed: pip install "
            "gatedforecast[proba]"
        )


class DistributionForecasts:
    """Mixin of the forecasters: ``distribution``'s intervals and distributions."""

    def _interval_method_name(self) -> str | None:
        """The interval method in use: with ``distribution`` set, ``"conformal"``
        (the default) reads as ``"distribution"``."""
        if self.distribution is not None and self.interval_method == "conformal":
            return "distribution"
        return self.interval_method

    def _calibrates(self) -> bool:
        """Whether fit holds out windows to calibrate intervals: for residuals,
        or for a likelihood head's scale (not the negative binomial's)."""
        name = self._interval_method_name()
        if name is None:
            return False
        if getattr(INTERVAL_METHODS.get(name), "reads_distribution", False):
            return distribution_head(self.distribution).calibrates_scale
        return True

    def _check_counts(self, values, setup) -> None:
        head = distribution_head(setup.distribution)
        if head is not None and head.counts:
            check_counts(values, setup.n_targets, setup.distribution)

    def _predict_var(self, fh, X=None, cov=False):
        """The variance of the distribution; without one, sktime's default: that
        of the normal distribution with the quartiles of ``predict_interval``."""
        if self.distribution is not None:
            return self._predict_proba(fh, X).var()
        interval = self._predict_interval(fh=fh, X=X, coverage=[0.5])
        lower = interval.xs("lower", axis=1, level=-1).droplevel(-1, axis=1)
        upper = interval.xs("upper", axis=1, level=-1).droplevel(-1, axis=1)
        return ((upper - lower) / (2 * stats.norm.ppf(0.75))) ** 2

    def _predict_proba(self, fh, X, marginal=True):
        if self.distribution is None:
            # sktime's default: normal around predict, with _predict_var's variance
            if importlib.util.find_spec("skpro") is not None:
                from skpro.distributions import Normal
            else:
                from sktime.base._proba._normal import Normal
            mean = self._predict(fh, X)
            sigma = np.sqrt(self._predict_var(fh, X))
            return Normal(mu=mean, sigma=sigma, index=mean.index, columns=mean.columns)
        require_skpro()
        engine = self._engine
        head = distribution_head(engine.setup.distribution)
        steps, indexes = self._forecast_index(fh)
        if min(int(s.min()) for s in steps) <= 0:
            raise ValueError(
                "predict_proba forecasts steps after the cutoff only; fh has "
                "in-sample steps. Use predict for in-sample forecasts."
            )
        n_steps = self._steps_to_forecast(steps)
        future = self._future_covariates(X, n_steps)
        targets = slice(0, engine.setup.n_targets)
        runtime = self._runtime()
        if n_steps <= engine.setup.horizon:
            parameters = head_parameters(engine, engine.contexts(), future, runtime)
            scaler = engine.scaler
            blocks = [
                head.to_data_units(
                    parameters[i, s - 1],
                    scaler.loc_[i, targets],
                    scaler.scale_[i, targets],
                )
                for i, s in enumerate(steps)
            ]
            frames = [
                self._joined([b[..., j] for b in blocks], indexes) for j in range(2)
            ]
            stacked = np.stack([f.to_numpy() for f in frames], axis=-1)
            return head.skpro(stacked, index=frames[0].index, columns=self._columns)
        return self._empirical(steps, indexes, future, n_steps)

    def _joined(self, values, indexes) -> pd.DataFrame:
        """Per-series rows ``values`` as one frame, indexed as ``predict``'s."""
        return join_forecasts(
            self._keys, self._index_names, indexes, values, self._columns
        )

    def _empirical(self, steps, indexes, future, n_steps):
        """A skpro Empirical distribution of ``n_samples`` drawn paths."""
        from skpro.distributions import Empirical

        engine = self._engine
        paths = sample_paths(
            engine,
            engine.contexts(),
            future,
            n_steps,
            self.n_samples,
            seed_from(self.random_state),
            self._runtime(),
        )
        targets = slice(0, engine.setup.n_targets)
        frames = []
        for k in range(self.n_samples):
            values = [
                engine.scaler.inverse_transform(paths[i, k, s - 1], i, targets)
                for i, s in enumerate(steps)
            ]
            frames.append(self._joined(values, indexes))
        spl = pd.concat(frames, keys=range(self.n_samples), names=["sample"])
        return Empirical(spl, index=frames[0].index, columns=self._columns)
