"""Static covariates: per-series attributes, read once per window, not through time.

One job: turn the columns of ``X`` that ``static_covariates`` names (one value
per series: a store's size, its region, a product family) into what the network
reads, and give the network the module that reads them.

* :func:`static_table` checks that each named column is constant within every
  series and holds numbers or categories, and gives one row per series.
* :class:`StaticEncoding` (fixed when a network is first trained, kept in its
  setup) standardises the numeric columns across the series with the fit-time
  mean and standard deviation, and numbers the levels of each ``category``
  column (the levels of its dtype at fit). A level the network was not trained
  on is refused with a clear error (there is no fallback embedding).
* The encoded values travel as the last covariate channels of each series' array
  (after the future-known and past-only covariates, constant through time), so
  windows, roll-outs, calibration and in-sample forecasts carry them unchanged;
  the series scaler leaves them as they are (:func:`fit_series_scaler`).
* :class:`StaticInput` is the network's part: it takes those channels at the
  window's last step, once per window, and gives the head the numeric values
  beside a learned embedding of each category (:func:`embedding_size` wide),
  which also gate what the head reads of the encoder's summary. The encoder
  never reads them as channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .scaling import SeriesScaler

__all__ = [
    "StaticEncoding",
    "StaticInput",
    "embedding_size",
    "is_categorical",
    "is_text",
    "fit_series_scaler",
    "static_sizes_valid",
    "static_table",
    "text_column_error",
]

#: the widest embedding of a category column
MAX_EMBEDDING = 8


def embedding_size(n_levels: int) -> int:
    """Width of a category's embedding: ``min(8, (n_levels + 1) // 2)``."""
    return max(1, min(MAX_EMBEDDING, (n_levels + 1) // 2))


def is_categorical(dtype) -> bool:
    return isinstance(dtype, pd.CategoricalDtype)


def is_text(dtype) -> bool:
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def text_column_error(column, dtype, static: bool) -> TypeError:
    """The error for a column of X that holds text or categories where the
    forecaster reads numbers."""
    if static:
        return TypeError(
            f"The static covariate {column!r} holds text (dtype {dtype}); make it "
            f"categorical, X[{column!r}] = X[{column!r}].astype('category'), so "
            "that each level gets a learned embedding, or convert it to numbers."
        )
    dummies = f"pd.get_dummies(X, columns=[{column!r}], dtype=float)"
    if is_categorical(dtype):
        # reached only when a pretrained network read no category columns
        return TypeError(
            f"X's column {column!r} is categorical (dtype {dtype}), but the "
            "pretrained network was trained without category columns read "
            "through time. Pass X as it was when pretraining, or pretrain again."
        )
    return TypeError(
        f"X must hold numbers, but column {column!r} holds text (dtype {dtype}). "
        "Convert it with pd.to_numeric(...) if it holds numbers as text, or "
        f"make it categorical, X[{column!r}] = X[{column!r}].astype('category'): "
        "each level then gets an indicator channel (name it in static_covariates "
        f"if it holds one value per series). Or encode it yourself: {dummies}."
    )


def static_table(frames: dict, keys: list, columns, names: list) -> pd.DataFrame:
    """One row per series (in the order of ``keys``) of the static ``columns``,
    from each series' frame of X (``frames[key]``, at the series' time points).

    Refuses a column that varies within a series, misses values, or holds text
    that is not of ``category`` dtype. ``names`` name the series in messages.
    """
    rows = []
    for key, name in zip(keys, names):
        frame = frames[key][list(columns)]
        for column in columns:
            values = frame[column]
            if values.isna().any():
                raise ValueError(
                    f"The static covariate {column!r} has missing (NaN) values in "
                    f"series {name}; give every series its value."
                )
            distinct = values.unique().tolist()
            if len(distinct) > 1:
                shown = ", ".join(map(repr, list(distinct[:3])))
                raise ValueError(
                    f"The static covariate {column!r} varies within series {name} "
                    f"(values {shown}{', ...' if len(distinct) > 3 else ''}): a "
                    "static covariate is one value per series. Make it constant "
                    "within each series, or leave it out of static_covariates to "
                    "read it as a covariate through time."
                )
        rows.append(frame.iloc[:1])
    table = pd.concat(rows, ignore_index=True)
    for column in columns:
        dtype = table[column].dtype
        if is_categorical(dtype):
            continue
        if is_text(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise text_column_error(column, dtype, static=True)
    return table


@dataclass(frozen=True)
class StaticEncoding:
    """How static covariates become the network's static input.

    ``columns`` are the static columns in channel order: the ``n_numeric``
    numeric ones (standardised by ``loc`` and ``scale``, fitted across series),
    then the category ones, each coded as its position in ``levels``.
    """

    columns: pd.Index
    n_numeric: int
    loc: np.ndarray
    scale: np.ndarray
    levels: tuple

    @classmethod
    def fit(cls, table: pd.DataFrame) -> StaticEncoding:
        numeric = [c for c in table.columns if not is_categorical(table[c].dtype)]
        categories = [c for c in table.columns if is_categorical(table[c].dtype)]
        values = table[numeric].to_numpy(dtype=np.float64).reshape(len(table), -1)
        loc, scale = values.mean(axis=0), values.std(axis=0)
        # one series, or series that share the value: centred, not divided
        scale = np.where(scale > 1e-12 * np.maximum(np.abs(loc), 1.0), scale, 1.0)
        return cls(
            columns=pd.Index(numeric + categories, dtype=object),
            n_numeric=len(numeric),
            loc=loc,
            scale=scale,
            levels=tuple(pd.Index(table[c].cat.categories) for c in categories),
        )

    @property
    def n_channels(self) -> int:
        return len(self.columns)

    @property
    def level_counts(self) -> tuple[int, ...]:
        return tuple(len(levels) for levels in self.levels)

    def describe(self) -> str:
        """The columns by kind, for messages."""
        numeric = list(self.columns[: self.n_numeric])
        categories = list(self.columns[self.n_numeric :])
        return f"numeric {numeric}, categorical {categories}"

    def check_matches(self, table: pd.DataFrame) -> None:
        """Refuse static covariates of another number or kind than these."""
        other = StaticEncoding.fit(table)
        if (other.n_numeric, len(other.levels)) != (self.n_numeric, len(self.levels)):
            raise ValueError(
                f"The network was trained with the static covariates "
                f"{self.describe()}; fit got {other.describe()}. Name as many "
                "numeric and categorical static covariates, or train again."
            )

    def encode(self, table: pd.DataFrame, names: list) -> np.ndarray:
        """The channels of each series' static covariates, ``(n_series,
        n_channels)``: standardised numbers, then category codes. A level
        outside ``levels`` is refused, naming the column, the series and the
        levels known."""
        numeric = list(self.columns[: self.n_numeric])
        values = table[numeric].to_numpy(dtype=np.float64).reshape(len(table), -1)
        parts = [(values - self.loc) / self.scale]
        for column, levels in zip(self.columns[self.n_numeric :], self.levels):
            given = table[column].astype(object)
            codes = levels.get_indexer(given)
            if (codes < 0).any():
                at = int(np.flatnonzero(codes < 0)[0])
                raise ValueError(
                    f"The static covariate {column!r} of series {names[at]} has "
                    f"the level {given.iloc[at]!r}, which the network was not "
                    f"trained on (it knows {list(levels)[:10]}). Each level's "
                    "embedding is learned in fit: fit (or pretrain) on series "
                    "with this level."
                )
            parts.append(codes.astype(np.float64)[:, None])
        return np.hstack(parts)


def fit_series_scaler(setup, values: list[np.ndarray]) -> SeriesScaler:
    """The series scaler of ``setup`` fitted on ``values``, with location 0 and
    scale 1 for the static channels: they are standardised across series (or
    are category codes) already, and are constant within a series, where a
    per-series scaling would erase them."""
    scaler = SeriesScaler(setup.scaler_method).fit(values)
    scaler.loc_[:, setup.static_channels] = 0.0
    scaler.scale_[:, setup.static_channels] = 1.0
    return scaler


class StaticInput(nn.Module):
    """The network's reading of the static channels of a window.

    Takes ``(batch, n_numeric + n_categories)`` (the static channels at one
    step) and gives ``(batch, output_size)``: the numeric values, then an
    embedding of each category of :func:`embedding_size` width. These features
    also gate what the head reads (:meth:`gated`): the ``n_gated`` values of the
    encoder's summary and the future-known covariates are scaled by ``1 + s G``,
    ``G`` starting at zero, so that a category can change how the head reads
    the window (a drift, a response), not only add an offset. For an ensemble
    of ``n_members`` each member has its own tables and gate, and the outputs
    have a leading axis of members.
    """

    def __init__(
        self, n_numeric: int, levels: tuple, n_gated: int, n_members: int = 1
    ) -> None:
        super().__init__()
        self.n_numeric = n_numeric
        self.levels = tuple(levels)
        self.n_members = n_members
        lead = (n_members,) if n_members > 1 else ()
        self.tables = nn.ParameterList(
            nn.Parameter(torch.zeros(*lead, n, embedding_size(n))) for n in self.levels
        )
        self.output_size = n_numeric + sum(embedding_size(n) for n in self.levels)
        self.gate = nn.Parameter(torch.zeros(*lead, self.output_size, n_gated))

    def forward(self, static: torch.Tensor) -> torch.Tensor:
        parts = [static[:, : self.n_numeric]]
        if self.n_members > 1:
            parts[0] = parts[0].unsqueeze(0).expand(self.n_members, *parts[0].shape)
        for j, table in enumerate(self.tables):
            codes = static[:, self.n_numeric + j].round().long()
            parts.append(table[:, codes] if self.n_members > 1 else table[codes])
        return torch.cat(parts, dim=-1)

    def gated(self, read: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``read`` (what the head reads beside the static features) scaled by
        ``1 + features G``."""
        if self.n_members > 1:
            return read * (1.0 + torch.bmm(features, self.gate))
        return read * (1.0 + features @ self.gate)

    @torch.no_grad()
    def initialize(self, generator: torch.Generator) -> None:
        """Embeddings drawn from N(0, 1), as ``torch.nn.Embedding`` draws them;
        the gate at zero (the head first reads the summary as it is)."""
        for table in self.tables:
            table.normal_(0.0, 1.0, generator=generator)
        self.gate.zero_()

    @torch.no_grad()
    def load_member(self, member: int, single: StaticInput) -> None:
        """Write the single network's ``single`` into slot ``member``."""
        for table, theirs in zip(self.tables, single.tables):
            table[member] = theirs
        self.gate[member] = single.gate


def static_sizes_valid(n_numeric, levels) -> bool:
    """Whether a model file's description of the static input is well formed."""
    if type(n_numeric) is not int or n_numeric < 0 or not isinstance(levels, list):
        return False
    return all(type(n) is int and 1 <= n <= 2**24 for n in levels)
