"""How a network reads series, and the one factory both faces build networks with.

Inputs: validated settings (:class:`gatedforecast._params.CoreSettings`) and the
shape of the data (channels, head length, quantile levels). Outputs: an initialised
:class:`~gatedforecast.networks.ForecastNetwork`, and for the forecaster the frozen
:class:`_Setup` that fixes window, head, transform and scaler when a network is
first trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..categories import CategoryIndicators
from ..networks import ForecastNetwork
from ..scaling import WindowTransform
from ..static import StaticEncoding
from .effect import EFFECT_HIDDEN, start_effect

__all__ = [
    "_Setup",
    "AUTO_ENSEMBLE_SIZE",
    "SMALL_DATA_BATCHES",
    "build_network",
    "divergence_hint",
    "network_for",
    "resolve_ensemble_size",
]

#: ``ensemble_size="auto"`` on small data: the number of networks
AUTO_ENSEMBLE_SIZE = 5
#: data is small when one pass over its training samples takes at most this many
#: batches: then ``ensemble_size="auto"`` trains :data:`AUTO_ENSEMBLE_SIZE`
#: networks, else one
SMALL_DATA_BATCHES = 10


@dataclass(frozen=True)
class _Setup:
    """How a network reads series, fixed when it is first trained.

    ``columns`` and ``x_columns`` are the labels of the target and covariate
    columns (any sequence; the engine reads only their number). ``past_columns``
    are the covariates known only up to the cutoff (None: none), the last of
    ``x_columns``: a window's channels are the targets, the future-known
    covariates, then the past-only ones. Only the window reads past-only
    covariates; the head's future input and the covariate effect read the
    future-known ones. ``static`` (None: none) encodes the static covariates,
    whose channels come after all those (before a masked transform's mask
    channels): constant through each series, and read by the network once per
    window (:mod:`gatedforecast.static`).
    """

    window_length: int
    horizon: int
    transform: WindowTransform
    scaler_method: str | None
    columns: object
    x_columns: object | None
    levels: tuple[float, ...] | None = None
    past_columns: object | None = None
    static: StaticEncoding | None = None
    #: the likelihood head's name (:mod:`gatedforecast.distributions`), or None
    distribution: str | None = None
    #: the category columns read through time, expanded into the indicator
    #: columns among ``x_columns`` (:mod:`gatedforecast.categories`), or None
    categories: CategoryIndicators | None = None

    @property
    def median(self) -> int | None:
        """Position of the 0.5 level in a quantile head's output."""
        return None if self.levels is None else self.levels.index(0.5)

    @property
    def n_targets(self) -> int:
        """Target channels: the first ``n_targets`` columns of every series."""
        return len(self.columns)

    @property
    def n_covariates(self) -> int:
        """Covariate channels, after the targets (0 without covariates)."""
        return 0 if self.x_columns is None else len(self.x_columns)

    @property
    def n_past(self) -> int:
        """Past-only covariate channels, the last of a window (0 without)."""
        return 0 if self.past_columns is None else len(self.past_columns)

    @property
    def n_future(self) -> int:
        """Future-known covariate channels, right after the targets: what the
        head's future input and the covariate effect read at forecast steps."""
        return self.n_covariates - self.n_past

    @property
    def future_channels(self) -> slice:
        """The future-known covariates' channels of a window."""
        return slice(self.n_targets, self.n_targets + self.n_future)

    @property
    def n_static(self) -> int:
        """Static covariate channels, after the other covariates (0 without)."""
        return 0 if self.static is None else self.static.n_channels

    @property
    def static_channels(self) -> slice:
        """The static covariates' channels of a series' array."""
        start = self.n_targets + self.n_covariates
        return slice(start, start + self.n_static)

    @property
    def masked(self) -> bool:
        """Whether targets may be missing: the network then reads a mask channel
        per target after the covariates, the last channels of a window (fixed when
        it is first trained)."""
        return self.transform.masked

    @property
    def n_inputs(self) -> int:
        """Input channels of the network: targets, covariates, static
        covariates, mask channels."""
        masks = self.n_targets if self.masked else 0
        return self.n_targets + self.n_covariates + self.n_static + masks


def resolve_ensemble_size(value, n_samples: int, batch_size: int) -> int:
    """The number of networks ``ensemble_size=value`` trains on ``n_samples``
    training samples (windows): ``value`` itself, or for ``"auto"``
    :data:`AUTO_ENSEMBLE_SIZE` when one pass over the samples takes at most
    :data:`SMALL_DATA_BATCHES` batches of ``batch_size``, else 1.

    On a short series the seed decides much of the forecast, and several
    networks cost seconds; on a long series or a panel one network sees enough
    windows, and each member would cost minutes.
    """
    if value != "auto":
        return value
    small = n_samples <= SMALL_DATA_BATCHES * batch_size
    return AUTO_ENSEMBLE_SIZE if small else 1


def build_network(
    settings,
    n_inputs: int,
    n_targets: int,
    horizon: int,
    generator: torch.Generator,
    n_future: int = 0,
    n_quantiles: int = 0,
    covariate_effect: int = 0,
    static: dict | None = None,
) -> ForecastNetwork:
    """A new network with the cell, layers, dropout and direction of ``settings``,
    its initial weights drawn from ``generator``."""
    return ForecastNetwork(
        n_inputs=n_inputs,
        n_targets=n_targets,
        horizon=horizon,
        hidden_sizes=settings.hidden_sizes,
        cell=settings.cell,
        dropout=settings.dropout,
        bidirectional=settings.bidirectional,
        n_future=n_future,
        n_quantiles=n_quantiles,
        n_members=settings.ensemble_size,
        covariate_effect=covariate_effect,
        **(static or {}),
    ).initialize(generator)


def network_for(
    setup: _Setup, settings, generator: torch.Generator, series=None
) -> ForecastNetwork:
    """A new network that reads series as ``setup`` says.

    With future-known covariates it holds a covariate effect
    (:class:`~gatedforecast.covariate_effect.CovariateEffect`) of
    :data:`~gatedforecast.engine.effect.EFFECT_HIDDEN` hidden units, whose first
    weights are fitted on the windows of the scaled ``series`` when they are
    given (:func:`~gatedforecast.engine.effect.start_effect`).
    """
    network = build_network(
        settings,
        n_inputs=setup.n_inputs,
        n_targets=setup.n_targets,
        horizon=setup.horizon,
        generator=generator,
        n_future=setup.n_future,
        n_quantiles=_head_levels(setup),
        covariate_effect=EFFECT_HIDDEN if setup.n_future else 0,
        static=static_arguments(setup),
    )
    if series is not None:
        start_effect(network, series, setup)
    return network


def static_arguments(setup: _Setup) -> dict | None:
    """The network's static input for ``setup`` (None without static
    covariates): numeric count, category level counts, first channel."""
    if setup.static is None:
        return None
    return {
        "n_static": setup.static.n_numeric,
        "static_levels": setup.static.level_counts,
        "static_at": setup.static_channels.start,
    }


def _head_levels(setup: _Setup) -> int:
    """Ordered outputs per step and target: a quantile head's levels, the two
    quartiles of a likelihood head, else 0."""
    if setup.distribution is not None:
        return 2
    return 0 if setup.levels is None else len(setup.levels)


def divergence_hint(setup: _Setup) -> str:
    """How to avoid a diverging training run, for the end of its error message
    (values beyond float32 never get this far: training refuses them)."""
    if setup.transform.normalize:
        scaler = "window"
    elif setup.scaler_method is not None:
        scaler = setup.scaler_method
    else:
        return "or scale the data (scaler='window' or 'standard')."
    return f"or check y for extreme values (it is already scaled, scaler={scaler!r})."
