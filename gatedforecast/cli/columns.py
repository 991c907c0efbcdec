"""Checking the columns of the command line's input file: which columns are the
time, the targets and the covariates, and that their values are what they must be.

Everything wrong ends in :class:`~gatedforecast.cli.errors.CLIError` with one line
that names the file, the column and the first offending row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CLIError

__all__ = ["as_categories", "check_columns", "check_values"]


def check_columns(frame, path, time_col, targets, id_col, covariates=()):
    columns = list(frame.columns)
    shown = ", ".join(repr(c) for c in columns[:12]) + (
        " ..." if len(columns) > 12 else ""
    )

    def need(name, option):
        if name not in columns:
            raise CLIError(
                f"{path}: no column {name!r} (from {option}); the columns are {shown}"
            )

    if id_col is not None:
        need(id_col, "--id-col")
    if time_col is not None:
        need(time_col, "--time-col")
    for target in targets or []:
        need(target, "--target")
    for covariate in covariates:
        need(covariate, "--covariates, --past-covariates or --static-covariates")

    taken = {id_col, *(targets or []), *covariates}
    if time_col is None:
        free = [c for c in columns if c not in taken]
        if not free:
            raise CLIError(
                f"{path}: no column is left for the time; name it with --time-col"
            )
        time_col = free[0]
    if not targets:
        free = [c for c in columns if c not in {id_col, time_col, *covariates}]
        if not free:
            raise CLIError(
                f"{path}: no column is left for the target after time column "
                f"{time_col!r}; name it with --target"
            )
        if len(free) > 1:
            raise CLIError(
                f"{path}: several columns could be the target ({', '.join(map(repr, free))}); "
                "pick one or more with --target"
            )
        targets = free
    if time_col in targets or (id_col is not None and id_col in {time_col, *targets}):
        raise CLIError(
            f"{path}: --time-col, --target and --id-col must name different columns"
        )
    for covariate in covariates:
        if covariate in {time_col, id_col, *targets}:
            raise CLIError(
                f"{path}: column {covariate!r} is given as a covariate and as the "
                "time, id or target column; a column can be one of them only"
            )
    return time_col, list(dict.fromkeys(targets))


def as_categories(frame, path, column) -> None:
    """Make the text covariate ``column`` of ``frame`` a category (its levels are
    read through time, one indicator channel each), refusing an empty value."""
    empty = frame[column].isna().to_numpy()
    if empty.any():
        raise CLIError(
            f"{path}: covariate column {column!r} holds text (read as categories) "
            f"and is empty in data row {int(empty.argmax()) + 1}; covariates "
            "cannot be missing: give every row a level"
        )
    frame[column] = frame[column].astype(str).astype("category")


def check_values(
    frame, path, targets, kind="target", allow_missing=False, categories=False
):
    """Turn the ``kind`` columns (``"target"`` or ``"covariate"``) of ``frame``
    into float64, or refuse, naming the first value that is not a finite number
    (with ``allow_missing``, an empty value is missing: refused only when the
    whole column is). With ``categories``, a column of text becomes a category
    instead (:func:`as_categories`)."""
    for target in targets:
        column = frame[target]
        if pd.api.types.is_bool_dtype(column):
            raise CLIError(
                f"{path}: {kind} column {target!r} is not numeric: it holds True/False"
                + (" (write them as 0/1)" if kind == "covariate" else "")
            )
        if not pd.api.types.is_numeric_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce")
            bad = numbers.isna() & column.notna()
            if bad.any() and categories:
                as_categories(frame, path, target)
                continue
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise CLIError(
                    f"{path}: {kind} column {target!r} is not numeric: "
                    f"{column.iloc[row]!r} in data row {row + 1}"
                )
            frame[target] = numbers
        values = frame[target].to_numpy(dtype=np.float64)
        missing = np.isnan(values)
        if missing.all():
            raise CLIError(f"{path}: {kind} column {target!r} has no values")
        if missing.any() and not allow_missing:
            row = int(np.flatnonzero(missing)[0])
            why = (
                "covariates cannot be missing: fill them first"
                if kind == "covariate"
                else "compare scores every fold against the actual values: fill "
                "them first, or use forecast, which trains on series with gaps"
            )
            raise CLIError(
                f"{path}: {kind} column {target!r} has {int(missing.sum())} missing "
                f"value(s), first in data row {row + 1}; {why} (see the docs on "
                "missing values)"
            )
        if np.isinf(values).any():
            row = int(np.flatnonzero(np.isinf(values))[0])
            raise CLIError(
                f"{path}: {kind} column {target!r} has an infinite value in data "
                f"row {row + 1}"
            )
        frame[target] = values
