"""The forecaster's settings rules: from its parameters and the training arrays
to the frozen :class:`~gatedforecast.engine._Setup` a network reads series with.

:class:`ForecasterSetup` is a mixin of the sktime forecasters
(:mod:`gatedforecast.forecasting`): it reads the estimator's parameters
(``strategy``, ``horizon``, ``past_covariates``, ``static_covariates``,
``window_length``, ``seasonal_period``, ``baseline``, ``scaler``,
``interval_method``, ``quantiles``, ``fine_tune_epochs``, ``attention``,
``ensemble_size``) and decides on arrays (the series' values, one ``(n_t,
n_channels)`` array each): the order of the covariates' channels, the static
covariates' encoding (:mod:`gatedforecast.static`), the head's length, the
season, the window and its baseline, the quantile head's levels, and whether a
pretrained network can read the data.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from ._params import check_value
from ._series_io import _frames_by_key, _series_name
from .categories import CategoryIndicators
from .engine import INTERVAL_METHODS, _Setup, resolve_ensemble_size
from .missing import fill_series, has_missing
from .scaling import WindowTransform, get_scaler
from .seasonality import (
    auto_window_length,
    check_window_reaches_season,
    choose_baseline,
    detect_season,
)
from .static import (
    StaticEncoding,
    is_categorical,
    is_text,
    static_table,
    text_column_error,
)
from .windows import WindowIndex

__all__ = ["DEFAULT_QUANTILES", "ForecasterSetup"]

#: levels of the quantile head when ``interval_method="quantile"`` and no
#: ``quantiles`` are given: the ones sktime's checks and most plots ask for
DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


class ForecasterSetup:
    """The settings rules of :class:`gatedforecast.forecasting._RecurrentForecaster`.

    Needs the forecaster's parameters, ``cutoff``, ``_collect`` and
    ``_index_freq`` (from :class:`gatedforecast._series_io.SeriesBookkeeping`),
    ``_encoder_name`` (from :class:`gatedforecast._fitted.FittedNetworkMixin`)
    and, once fitted, ``_engine`` and ``_x_columns``.
    """

    def _head_length(self, fh) -> int:
        """The head's steps: one for the recursive strategy, else ``horizon``,
        else the furthest step of ``fh`` (one without it)."""
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
        method = INTERVAL_METHODS.get(self.interval_method)
        if method is None or not method.quantile_head:
            return None
        levels = DEFAULT_QUANTILES if self.quantiles is None else self.quantiles
        return check_value("quantiles", levels)

    def _covariate_columns(self, X, categories=None):
        """The columns of ``X`` read through time, in the order of a window's
        channels (future-known first, then the past-only ones that
        ``past_covariates`` names, each in ``X``'s order; None when there are
        none), the past-only ones and the static ones (``static_covariates``;
        None without either). ``X``'s category columns are expanded by
        ``categories`` already: a past-only one stands for its indicators."""
        past = check_value("past_covariates", self.past_covariates)
        static = check_value("static_covariates", self.static_covariates)
        if categories is not None:
            past = categories.rename(past)
        kinds = (("past_covariates", past), ("static_covariates", static))
        named = [(name, labels) for name, labels in kinds if labels is not None]
        if X is None or X.shape[1] == 0:
            for name, labels in named:
                raise ValueError(
                    f"{name}={list(labels)!r} names columns of X, but fit got no "
                    f"X. Pass X with these columns, or leave {name}=None."
                )
            return None, None, None
        for name, labels in named:
            unknown = [c for c in labels if c not in X.columns]
            if unknown:
                raise ValueError(
                    f"{name} names {unknown!r}, which X lacks; X has the columns "
                    f"{list(X.columns)!r}. Name columns of X, or leave {name}=None."
                )
        both = [c for c in past or () if c in set(static or ())]
        if both:
            raise ValueError(
                f"{both!r} named in both past_covariates and static_covariates; a "
                "column is of one kind: static (one value per series) or past-only "
                "(read through time up to the cutoff)."
            )
        static_set = set(static or ())
        for column in X.columns:
            dtype = X[column].dtype
            if column not in static_set and (is_categorical(dtype) or is_text(dtype)):
                raise text_column_error(column, dtype, static=False)
        if past is None and static is None:
            return X.columns, None, None
        chosen = set(past or ())
        dynamic = [c for c in X.columns if c not in static_set]
        known = [c for c in dynamic if c not in chosen]
        only_past = [c for c in dynamic if c in chosen]
        columns = pd.Index(known + only_past) if dynamic else None
        return (
            columns,
            None if past is None else pd.Index(only_past),
            None if static is None else pd.Index(static),
        )

    def _collect_covariates(self, y: pd.DataFrame, X, setup: _Setup | None = None):
        """:meth:`_collect` with X's columns in the order of a window's channels
        (the past-only ones last), the past-only columns (None without), a
        table of the static covariates, one row per series (None without), and
        the category columns read through time (None without), which are
        expanded into indicator columns: with the levels of ``setup`` (a
        pretrained network's), else with those of X's dtypes."""
        if setup is None:
            static = check_value("static_covariates", self.static_covariates)
            categories = CategoryIndicators.of(X, static)
        else:
            categories = setup.categories
        if categories is not None:
            X = categories.expand(X, observed=y.index)
        x_columns, past, static = self._covariate_columns(X, categories)
        ordered = past is not None or static is not None
        keys, frames, values, x_columns = self._collect(
            y, None if x_columns is None else X, x_columns if ordered else None
        )
        statics = None
        if static is not None:
            x_frames = _frames_by_key(X, keys)
            at_y = {k: x_frames[k].reindex(f.index) for k, f in zip(keys, frames)}
            names = [_series_name(k) for k in keys]
            statics = static_table(at_y, keys, static, names)
        return keys, frames, values, x_columns, past, statics, categories

    def _series_values(self, keys, values, setup: _Setup, statics) -> list:
        """``values`` checked for missing targets (:meth:`_check_missing`), each
        with its series' encoded static covariates as constant channels after
        the others (as they are without static covariates)."""
        self._check_missing(keys, values, setup)
        if statics is None:
            return values
        encoded = setup.static.encode(statics, [_series_name(k) for k in keys])
        return [
            np.hstack([v, np.repeat(row[None], len(v), axis=0)])
            for v, row in zip(values, encoded)
        ]

    def _warn_past_held_once(self, n_steps: int) -> None:
        """Warn, once per fitted model, that a roll-out beyond the head holds
        the past-only covariates at their last observed value."""
        setup = self._engine.setup
        given = getattr(self, "_warnings_given", None)
        if not setup.n_past or n_steps <= setup.horizon:
            return
        if given is not None and "past held" in given:
            return
        past = list(self._x_columns[setup.n_future :])
        warnings.warn(
            f"fh reaches {n_steps} steps past the cutoff, beyond the head's "
            f"{setup.horizon}: the roll-out reads windows after the cutoff, where "
            f"the past-only covariates {past} are unknown, and holds them at their "
            "last observed value. For forecasts from observed values only, fit "
            f"with strategy='direct' and horizon={n_steps} (or fh up to "
            f"{n_steps} in fit).",
            UserWarning,
            stacklevel=3,
        )
        if given is not None:
            given.append("past held")

    def _new_setup(
        self, y, keys, values, x_columns, fh, past=None, statics=None, categories=None
    ) -> _Setup:
        """The setup a new network reads ``values`` (the series of ``y``, named
        by ``keys``, covariates after the targets, the ``past`` ones last)
        with, the encoding of the ``statics`` table and the ``categories``
        read through time."""
        head = self._head_length(fh)
        shortest = int(np.argmin([len(v) for v in values]))
        n_targets = y.shape[1]
        # the season and the baseline are chosen on series without gaps: each
        # missing value carries the last observed one forward
        targets = [fill_series(v[:, :n_targets]) for v in values]
        season = self._season(targets, self._index_freq(y))
        window, baseline = self._window_length(
            len(values[shortest]), head, _series_name(keys[shortest]), season, targets
        )
        scaler = get_scaler(self.scaler)
        return _Setup(
            window_length=window,
            horizon=head,
            transform=WindowTransform(
                normalize=scaler.normalize_windows,
                baseline=baseline,
                seasonal_period=season,
                horizon=head,
                n_targets=n_targets,
                # a mask channel only for series with a missing target, so
                # networks of complete series stay as they were
                masked=has_missing(values, n_targets),
            ),
            scaler_method=scaler.series_method,
            columns=y.columns,
            x_columns=x_columns,
            levels=self._levels(),
            past_columns=past,
            static=None if statics is None else StaticEncoding.fit(statics),
            distribution=check_value("distribution", self.distribution),
            categories=categories,
        )

    def _with_ensemble_size(self, settings, setup: _Setup, values):
        """``settings`` with ``ensemble_size`` resolved for the windows that
        ``setup`` cuts from ``values``."""
        lengths = [len(v) for v in values]
        n_windows = WindowIndex.count(lengths, setup.window_length, setup.horizon)
        size = resolve_ensemble_size(
            settings.ensemble_size, n_windows, settings.config.batch_size
        )
        return dataclasses.replace(settings, ensemble_size=size)

    def _check_pretrained_fits(
        self, setup: _Setup, y, x_columns, keys, values, past=None, statics=None
    ):
        """Refuse data the pretrained network cannot read, and settings that ask
        for another encoder than the one it was pretrained with."""
        pretrained, wanted = self.pretrained_network_.encoder.cell, self._encoder_name()
        if pretrained != wanted:
            raise ValueError(
                f"The network was pretrained with the encoder {pretrained!r}, but "
                f"attention={self.attention!r} asks for {wanted!r}. Set attention "
                "as it was when pretraining, or pretrain again."
            )
        members = self.pretrained_network_.n_members
        if check_value("ensemble_size", self.ensemble_size) not in ("auto", members):
            raise ValueError(
                f"The network was pretrained as an ensemble of {members} "
                f"network(s), but ensemble_size={self.ensemble_size!r}. Set "
                f"ensemble_size={members}, or pretrain again."
            )
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
        got_past = 0 if past is None else len(past)
        if setup.n_past != got_past:
            raise ValueError(
                f"The network was pretrained with {setup.n_past} past-only X "
                f"column(s); past_covariates names {got_past}. Set "
                "past_covariates as it was when pretraining, or pretrain again."
            )
        if (setup.static is None) != (statics is None):
            had = "no" if setup.static is None else setup.static.describe()
            raise ValueError(
                f"The network was pretrained with {had} static covariates; "
                f"static_covariates={self.static_covariates!r}. Set "
                "static_covariates as it was when pretraining, or pretrain again."
            )
        if statics is not None:
            setup.static.check_matches(statics)
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
