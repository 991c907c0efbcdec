"""Pretraining: one global network trained on a panel, for later fits to apply.

One job: sktime's ``pretrain`` (and its continuation on more series) for the
forecasters. The network and its setup are kept as ``pretrained_network_``,
``pretrained_setup_`` and ``pretrained_history_``; a later ``fit`` applies the
network to new series, fine-tuning it for ``fine_tune_epochs``.
"""

from __future__ import annotations

import copy

import pandas as pd

from ._params import generators
from .distributions import count_scaler, distribution_head
from .engine import network_for, start_effect, train_on_series
from .static import fit_series_scaler

__all__ = ["Pretraining"]


class Pretraining:
    """Mixin of the forecasters: ``_pretrain`` and ``_pretrain_update``.

    Needs the forecaster's settings (``_check_params``, ``_core_settings``) and
    series bookkeeping (``_collect_covariates``, ``_new_setup``,
    ``_series_values``, ``_check_pretrained_fits``, ``_check_counts``).
    """

    def _pretrain(self, y: pd.DataFrame, X=None, fh=None):
        """Train the global network on a panel, for later fits to apply."""
        self._check_params()
        settings = self._core_settings()
        keys, _, values, x_columns, past, statics, categories = (
            self._collect_covariates(y, X)
        )
        setup = self._new_setup(
            y, keys, values, x_columns, fh, past, statics, categories
        )
        self._check_counts(values, setup)
        values = self._series_values(keys, values, setup, statics)
        settings = self._with_ensemble_size(settings, setup, values)
        generator, _ = generators(settings.seed, settings.device)
        network = network_for(setup, settings, generator)
        self._pretrain_network(network, setup, values, settings, generator, 1)
        return self

    def _pretrain_update(self, y: pd.DataFrame, X=None, fh=None):
        """Continue pretraining the network on more series."""
        self._check_params()
        settings = self._core_settings()
        setup = self.pretrained_setup_
        keys, _, values, x_columns, past, statics, _ = self._collect_covariates(
            y, X, setup
        )
        self._check_pretrained_fits(setup, y, x_columns, keys, values, past, statics)
        self._check_counts(values, setup)
        values = self._series_values(keys, values, setup, statics)
        generator, _ = generators(settings.seed, settings.device)
        network = copy.deepcopy(self.pretrained_network_)
        first = len(self.pretrained_history_) + 1
        self._pretrain_network(network, setup, values, settings, generator, first)
        return self

    def _pretrain_network(self, network, setup, values, settings, generator, first):
        scaler = fit_series_scaler(setup, values)
        count_scaler(scaler, distribution_head(setup.distribution), setup.n_targets)
        scaled = [scaler.transform(v, i) for i, v in enumerate(values)]
        if first == 1:
            # a new network's covariate effect starts from these series' windows
            start_effect(network, scaled, setup)
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
