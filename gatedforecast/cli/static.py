"""The command line's static covariates (``--static-covariates``): per-series
columns of the input file, checked here so the command can say what is wrong in
one line.

:func:`covariate_kinds` refuses a column named as two kinds of covariate (or
twice); :func:`static_columns` checks that each static column holds one value
per series, with no empty cell, and makes a column of text categorical (a CSV
file has no dtypes), so that the forecasters embed its levels.
"""

from __future__ import annotations

import pandas as pd

from .errors import CLIError

__all__ = ["covariate_kinds", "static_columns"]

_OPTIONS = ("--covariates", "--past-covariates", "--static-covariates")


def covariate_kinds(path, covariates, past, static) -> list[list[str]]:
    """The columns of each kind, each once; a column of two kinds is refused."""
    kinds = [list(dict.fromkeys(c or [])) for c in (covariates, past, static)]
    for i, first in enumerate(kinds):
        for j in range(i + 1, len(kinds)):
            both = [c for c in first if c in kinds[j]]
            if both:
                raise CLIError(
                    f"{path}: column {both[0]!r} is given with {_OPTIONS[i]} and "
                    f"with {_OPTIONS[j]}; a covariate is of one kind (known ahead, "
                    "only up to now, or one value per series), name it once"
                )
    return kinds


def static_columns(frame: pd.DataFrame, path, static: list, id_col) -> None:
    """Check the ``static`` columns of ``frame`` (in place: a column of text
    becomes categorical): no empty value, one value per series (the whole
    file without ``id_col``)."""
    groups = [("", frame)] if id_col is None else frame.groupby(id_col, sort=False)
    for column in static:
        if frame[column].isna().any():
            row = int(frame[column].isna().to_numpy().argmax())
            raise CLIError(
                f"{path}: static covariate {column!r} is empty in data row {row + 1}; "
                "give every row its series' value"
            )
        for key, rows in groups:
            values = rows[column].unique().tolist()
            if len(values) > 1:
                where = "the series" if id_col is None else f"series {key!r}"
                raise CLIError(
                    f"{path}: static covariate {column!r} varies within {where} "
                    f"({values[0]!r}, {values[1]!r}, ...): it must hold one value "
                    "per series (use --covariates for a column that changes)"
                )
        if not pd.api.types.is_numeric_dtype(frame[column]) or (
            pd.api.types.is_bool_dtype(frame[column])
        ):
            frame[column] = frame[column].astype(str).astype("category")
