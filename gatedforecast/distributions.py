"""Likelihood heads: forecast distributions trained by negative log-likelihood.

With ``distribution`` set, a forecaster's head gives two ordered values per
step and target (the quantile head's machinery with two levels): the
distribution's lower and upper quartile in the units of the network's output.
Their midpoint is the median, their distance the spread, so the network's
ordering of its outputs keeps every scale positive, and the covariate effect,
which shifts every level alike, moves the location only.

:class:`DistributionHead` subclasses turn those quartiles and a window's
transform context (baseline and spread) into the distribution's parameters in
the series' scaled units (:meth:`~DistributionHead.parameters`), score them by
negative log-likelihood (:class:`NLLLoss`), and give medians, quantiles and
random draws. Normal and Student-t are location-scale families, so the affine
series scaling maps them to the data's units and back. The negative binomial
reads counts in their own units: the series scaler leaves the targets as they
are (:func:`count_scaler`), and its mean is the window's scale times a softplus
of the location (the DeepAR construction), so it stays positive.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from torch import nn

__all__ = [
    "DISTRIBUTIONS",
    "DISTRIBUTION_HEADS",
    "STUDENT_T_DF",
    "DistributionHead",
    "DistributionNetwork",
    "NLLLoss",
    "check_counts",
    "count_scaler",
    "distribution_head",
    "fit_scale_factors",
]

#: degrees of freedom of the Student-t head: fixed, above 2 so its variance is
#: finite; heavier tails than the normal's without a third output to learn
STUDENT_T_DF = 5.0
#: the smallest scale, as a share of the window's spread (network units)
SCALE_FLOOR = 1e-2
#: the largest shape (total count) of the negative binomial: beyond it, Poisson
MAX_TOTAL_COUNT = 1e6
#: the range :func:`fit_scale_factors` searches a factor in
SCALE_FACTOR_RANGE = (1e-2, 1e2)


class DistributionHead:
    """How two ordered head outputs become one distribution per step and target.

    ``parameters(output, context)`` maps the network's ``(..., n_targets, 2)``
    quartiles and the window's ``(base, spread)`` to ``(..., n_targets, 2)``
    parameters in the series' scaled units: (location, scale) for the
    location-scale families, (mean, extra spread) for the negative binomial.
    """

    name = ""
    #: whether the targets are counts in their own units (never series-scaled)
    counts = False
    #: the standard distribution's upper quartile (its quartiles' half-distance)
    quartile = 1.0
    #: whether fit calibrates the scale on held-out windows
    #: (:func:`fit_scale_factors`, for location-scale families)
    calibrates_scale = True

    def parameters(self, output: torch.Tensor, context) -> torch.Tensor:
        base, spread = context
        lower, upper = output[..., 0], output[..., 1]
        location = base + spread * (lower + upper) / 2
        width = (upper - lower) / (2 * self.quartile) + SCALE_FLOOR
        return torch.stack([location, spread * width], dim=-1)

    def torch_distribution(self, parameters: torch.Tensor):
        raise NotImplementedError

    def log_prob(self, parameters: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.torch_distribution(parameters).log_prob(y)

    def median(self, parameters: torch.Tensor) -> torch.Tensor:
        """The distribution's median, ``(...)``."""
        return parameters[..., 0]

    def quantiles(self, parameters: np.ndarray, alpha) -> np.ndarray:
        """Quantiles at the levels ``alpha``: ``(len(alpha), ...)``."""
        shape = (-1, *[1] * (parameters.ndim - 1))
        return self._ppf(np.asarray(alpha, dtype=float).reshape(shape), parameters)

    def sample(self, parameters: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random draw per entry of ``parameters[..., 0]``."""
        raise NotImplementedError

    def to_data_units(self, parameters: np.ndarray, loc, scale) -> np.ndarray:
        """Parameters for values ``loc + scale * x`` (the inverse series scaling)."""
        out = parameters.copy()
        out[..., 0] = loc + scale * parameters[..., 0]
        out[..., 1] = scale * parameters[..., 1]
        return out


class NormalHead(DistributionHead):
    name = "normal"
    quartile = float(stats.norm.ppf(0.75))

    def torch_distribution(self, parameters):
        return torch.distributions.Normal(parameters[..., 0], parameters[..., 1])

    def _ppf(self, levels, parameters):
        return stats.norm.ppf(levels, parameters[..., 0], parameters[..., 1])

    def sample(self, parameters, rng):
        draw = rng.standard_normal(parameters.shape[:-1])
        return parameters[..., 0] + parameters[..., 1] * draw

    def skpro(self, parameters, index, columns):
        from skpro.distributions import Normal

        return Normal(
            mu=parameters[..., 0],
            sigma=parameters[..., 1],
            index=index,
            columns=columns,
        )


class StudentTHead(DistributionHead):
    name = "student_t"
    quartile = float(stats.t.ppf(0.75, STUDENT_T_DF))

    def torch_distribution(self, parameters):
        return torch.distributions.StudentT(
            STUDENT_T_DF, parameters[..., 0], parameters[..., 1]
        )

    def _ppf(self, levels, parameters):
        return stats.t.ppf(levels, STUDENT_T_DF, parameters[..., 0], parameters[..., 1])

    def sample(self, parameters, rng):
        draw = rng.standard_t(STUDENT_T_DF, parameters.shape[:-1])
        return parameters[..., 0] + parameters[..., 1] * draw

    def skpro(self, parameters, index, columns):
        from skpro.distributions import TDistribution

        return TDistribution(
            mu=parameters[..., 0],
            sigma=parameters[..., 1],
            df=STUDENT_T_DF,
            index=index,
            columns=columns,
        )


class NegativeBinomialHead(DistributionHead):
    """Counts: mean ``mu = s * softplus(m / s)`` for the location ``m`` in
    counts and the window's scale ``s`` (its spread, at least one count), and
    variance ``mu + d**2`` for the extra spread ``d`` the quartiles give."""

    name = "negative_binomial"
    counts = True
    quartile = float(stats.norm.ppf(0.75))
    # its spread also sets the median (the point forecast): left as trained
    calibrates_scale = False

    def parameters(self, output, context):
        location, extra = super().parameters(output, context).unbind(-1)
        scale = torch.clamp(context[1], min=1.0)
        mean = scale * nn.functional.softplus(location / scale) + 1e-6
        return torch.stack([mean, extra], dim=-1)

    @staticmethod
    def _total_count(mean, extra):
        """The shape ``r`` with ``mean**2 / r = extra**2``, at most
        :data:`MAX_TOTAL_COUNT`."""
        lib = torch if isinstance(mean, torch.Tensor) else np
        return lib.minimum(mean**2 / extra**2, lib.full_like(mean, MAX_TOTAL_COUNT))

    def torch_distribution(self, parameters):
        mean, extra = parameters[..., 0], parameters[..., 1]
        count = self._total_count(mean, extra)
        return torch.distributions.NegativeBinomial(
            total_count=count,
            logits=torch.log(mean) - torch.log(count),
            validate_args=False,
        )

    def log_prob(self, parameters, y):
        return self.torch_distribution(parameters).log_prob(torch.round(y))

    def _scipy(self, parameters):
        mean, extra = parameters[..., 0], parameters[..., 1]
        count = self._total_count(mean, extra)
        return count, count / (count + mean)

    def median(self, parameters):
        count, p = self._scipy(parameters.detach().double().cpu().numpy())
        median = stats.nbinom.ppf(0.5, count, p)
        return torch.as_tensor(median, dtype=parameters.dtype, device=parameters.device)

    def _ppf(self, levels, parameters):
        count, p = self._scipy(parameters)
        return stats.nbinom.ppf(levels, count, p)

    def sample(self, parameters, rng):
        count, p = self._scipy(parameters)
        return rng.negative_binomial(count, p).astype(float)

    def to_data_units(self, parameters, loc, scale):
        # the targets of a count head are never scaled (count_scaler)
        return parameters.copy()

    def skpro(self, parameters, index, columns):
        from skpro.distributions import NegativeBinomial

        count, _ = self._scipy(parameters)
        return NegativeBinomial(
            mu=parameters[..., 0], alpha=count, index=index, columns=columns
        )


#: likelihood heads by the name ``distribution`` takes
DISTRIBUTION_HEADS = {
    head.name: head for head in (NormalHead, StudentTHead, NegativeBinomialHead)
}
#: the values of the forecasters' ``distribution`` parameter besides None
DISTRIBUTIONS = tuple(DISTRIBUTION_HEADS)


def distribution_head(name: str | None) -> DistributionHead | None:
    """The head called ``name``; None for ``distribution=None``."""
    return None if name is None else DISTRIBUTION_HEADS[name]()


#: the levels whose quantile loss :func:`fit_scale_factors` minimises
CALIBRATION_LEVELS = np.arange(1, 20) / 20


def _quantile_loss(standard, location, scale, truth):
    """The mean pinball loss, at :data:`CALIBRATION_LEVELS`, of the quantiles
    ``factor * standard`` of one step's and target's standardised values
    ``(truth - location) / scale``, as a function of the log of ``factor``."""
    levels = CALIBRATION_LEVELS[:, None]
    z = (truth - location) / scale

    def loss(log_factor):
        error = z - np.exp(log_factor) * standard[:, None]
        return np.maximum(levels * error, (levels - 1) * error).mean()

    return loss


def fit_scale_factors(
    head: DistributionHead, parameters: np.ndarray, truths: np.ndarray
) -> np.ndarray:
    """The factor of each step's and target's scale that makes the quantiles of
    a location-scale head fit held-out values best: ``(steps, n_targets)``.

    ``parameters`` ``(n, steps, n_targets, 2)`` are the head's distributions of
    ``n`` held-out windows, ``truths`` ``(n, steps, n_targets)`` what followed
    them (NaN where missing). Each factor minimises the mean quantile (pinball)
    loss, at the levels 0.05, 0.10, ..., 0.95 (a discretised CRPS), of its
    step's and target's observed truths standardised by their distributions
    (``(truth - location) / scale``, so that every window weighs the same
    whatever its series' units), when the scales are multiplied by it
    (one-dimensional, within :data:`SCALE_FACTOR_RANGE`); one with fewer than
    two observed truths stays 1. A proper score: for the right family the best
    factor is the true one, and unlike the likelihood it is not pulled wide by
    a few outliers, so the central intervals keep their coverage. A head that
    learned too wide or too narrow a spread has it set right on windows it
    never trained on, the way conformal intervals are; the location, and so
    the point forecast, is kept.
    """
    from scipy.optimize import minimize_scalar

    low, high = np.log(SCALE_FACTOR_RANGE)
    standard = head.quantiles(np.array([0.0, 1.0]), CALIBRATION_LEVELS)
    factors = np.ones(parameters.shape[1:3])
    for step, target in np.ndindex(*factors.shape):
        truth = truths[:, step, target]
        observed = ~np.isnan(truth)
        if observed.sum() < 2:
            continue
        loss = _quantile_loss(
            standard,
            parameters[observed, step, target, 0],
            parameters[observed, step, target, 1],
            truth[observed],
        )
        best = minimize_scalar(loss, bounds=(low, high), method="bounded")
        factors[step, target] = np.exp(best.x)
    return factors


class DistributionNetwork(nn.Module):
    """A network (with its covariate effect, when it has one) whose quartiles
    become distribution parameters: what training fits.

    Called as ``module(inputs, [future,] context, ...)``; ``with_context`` says
    whether the wrapped module takes the context itself
    (:class:`~gatedforecast.engine.effect.WithCovariateEffect`).
    """

    def __init__(self, module, head: DistributionHead, with_context: bool) -> None:
        super().__init__()
        self.module = module
        self.head = head
        self.with_context = with_context
        self.n_members = getattr(module, "n_members", 1)

    def forward(self, *inputs, **options):
        context = inputs[-1]
        arguments = inputs if self.with_context else inputs[:-1]
        return self.head.parameters(self.module(*arguments, **options), context)

    def clip_gradients(self, max_norm: float) -> None:
        self.module.clip_gradients(max_norm)


class NLLLoss(nn.Module):
    """Mean negative log-likelihood of targets ``(...)`` under the parameters
    ``(..., 2)`` of ``head``'s distribution."""

    def __init__(self, head: DistributionHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, parameters: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -self.head.log_prob(parameters, target).mean()


def count_scaler(scaler, head: DistributionHead | None, n_targets: int):
    """``scaler`` (a fitted :class:`~gatedforecast.scaling.SeriesScaler`) with
    the targets left unscaled for a count head: its likelihood reads counts."""
    if head is not None and head.counts:
        scaler.loc_[:, :n_targets] = 0.0
        scaler.scale_[:, :n_targets] = 1.0
    return scaler


def check_counts(values: list[np.ndarray], n_targets: int, name: str) -> None:
    """Refuse targets a count distribution cannot describe: negative or
    non-integer values (missing ones are left out)."""
    for i, v in enumerate(values):
        target = v[:, :n_targets]
        target = target[~np.isnan(target)]
        bad = (target < 0) | (target != np.round(target))
        if bad.any():
            raise ValueError(
                f"distribution={name!r} describes counts, but series {i} of y has "
                f"the value {float(target[bad][0])!r}, not a non-negative integer. Use "
                "distribution='normal' or 'student_t' for real-valued targets, or "
                "pass counts (y rounded, without negative values)."
            )
