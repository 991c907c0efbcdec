"""Category columns read through time: one indicator channel per level.

One job: turn each ``category``-dtype column of ``X`` that is not a static
covariate (a promotion type, a day kind, a weather class: one value per time
point) into numbers the network reads through time.

:class:`CategoryIndicators` (fixed when a network is first trained, kept in its
setup and model files) holds the levels of each such column's dtype at fit and
replaces the column, in place, by one 0/1 column per level, named
``"column=level"``. The network's input weights on those channels are each
level's learned embedding (a linear layer on one-hot codes is an embedding
lookup), and the covariate effect of a future-known category learns one offset
per level. Everything after the expansion (windows, scaling, roll-outs,
past-only columns, calibration, ``update``) reads them as numeric covariates.

A value outside the fit's levels is refused with a clear error (there is no
fallback embedding). A missing value is refused at the time points of the
data a network trains on (``y`` in ``fit``, ``update``); elsewhere it becomes
missing indicators, so the check of the forecast steps' ``X`` refuses it where
it is read and lets it pass where it is not (the forecast steps of a past-only
column, rows of ``X`` beyond ``y``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .static import is_categorical

__all__ = ["CategoryIndicators"]


def _indicator_name(column, level) -> str:
    return f"{column}={level}"


@dataclass(frozen=True)
class CategoryIndicators:
    """The category columns of ``X`` read through time and their levels.

    ``columns`` are their labels in ``X``, ``levels[j]`` the levels of column
    ``j`` (those of its dtype at fit, in order).
    """

    columns: object
    levels: tuple

    @classmethod
    def of(cls, X: pd.DataFrame | None, static=None) -> CategoryIndicators | None:
        """The ``category`` columns of ``X`` outside ``static`` (None: none)."""
        if X is None:
            return None
        static = set(static or ())
        columns = [
            c for c in X.columns if c not in static and is_categorical(X[c].dtype)
        ]
        if not columns:
            return None
        levels = tuple(pd.Index(X[c].cat.categories) for c in columns)
        empty = [c for c, level in zip(columns, levels) if len(level) == 0]
        if empty:
            raise ValueError(
                f"The category column(s) {empty!r} of X have no levels (their dtype "
                "declares no categories). Give them their levels, or drop them."
            )
        indicators = cls(pd.Index(columns, dtype=object), levels)
        taken = set(X.columns) - set(columns)
        clash = [n for c in columns for n in indicators.names(c) if n in taken]
        if clash:
            raise ValueError(
                f"X already has columns named {clash[:5]!r}, the names of the "
                "indicator columns of its category columns (column=level). Rename "
                "those columns."
            )
        return indicators

    def names(self, column) -> list[str]:
        """The indicator columns that stand for the category ``column``."""
        j = list(self.columns).index(column)
        return [_indicator_name(column, level) for level in self.levels[j]]

    def rename(self, labels) -> list | None:
        """``labels`` (column names of ``X``; None: None) with each category
        column replaced by its indicator columns."""
        if labels is None:
            return None
        out = []
        for label in labels:
            out.extend(self.names(label) if label in set(self.columns) else [label])
        return out

    def expand(
        self,
        X: pd.DataFrame | None,
        observed: pd.Index | None = None,
        read: object | None = None,
    ) -> pd.DataFrame | None:
        """A new ``X`` whose category columns are replaced, in place, by their
        indicator columns (float, NaN where the value is missing); ``X`` itself
        is left as it is. A value outside the fit's levels is a ValueError, and
        so is a missing one at a time point of ``observed`` (the index of the
        ``y`` that ``X`` comes with, or None). With ``read`` (the columns that
        will be read, e.g. the future-known ones in ``predict``), a category
        column none of whose indicators is read is dropped unchecked (it may
        be absent)."""
        if X is None:
            return None
        read = None if read is None else set(read)
        wanted = [
            c for c in self.columns if read is None or read.intersection(self.names(c))
        ]
        # a category column that is never read is not checked
        X = X.drop(columns=[c for c in self.columns if c not in wanted and c in X])
        absent = [c for c in wanted if c not in X.columns]
        if absent:
            raise ValueError(
                f"X lacks the category column(s) {absent!r} that the network was "
                f"trained with; X has {list(X.columns)!r}. Pass X with them."
            )
        parts = []
        for column in X.columns:
            if column not in set(self.columns):
                parts.append(X[[column]])
                continue
            parts.append(self._indicators(X[column], observed))
        return pd.concat(parts, axis=1)

    def _indicators(self, values: pd.Series, observed) -> pd.DataFrame:
        column = values.name
        levels = self.levels[list(self.columns).index(column)]
        codes = pd.Index(levels).get_indexer(values.astype(object))
        missing = values.isna().to_numpy()
        needed = missing & values.index.isin(observed) if observed is not None else []
        if np.any(needed):
            raise ValueError(
                f"X[{column!r}] has {int(needed.sum())} missing (NaN) value(s) at "
                f"time points of y, first at {values.index[needed][0]!r}. A "
                "category column needs a level at every time point of y: fill "
                "them, e.g. with a level of their own (add it with "
                "X[col].cat.add_categories)."
            )
        unknown = (codes < 0) & ~missing
        if unknown.any():
            shown = list(pd.unique(values[unknown]))[:5]
            raise ValueError(
                f"X[{column!r}] has the level(s) {shown!r}, which the network was "
                f"not trained on; its levels are {list(levels)[:20]!r}. Map them "
                "to a known level, or fit again with data that has them (the "
                "dtype's categories may declare levels not yet seen)."
            )
        table = np.eye(len(levels))[np.where(missing, 0, codes)]
        table[missing] = np.nan
        return pd.DataFrame(table, index=values.index, columns=self.names(column))
