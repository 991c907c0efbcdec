"""matplotlib for the command line: a file backend, and x values it can draw.

The plots are optional: without matplotlib the commands write everything else,
say in one line how to get the plots, and succeed.
"""

from __future__ import annotations

import pandas as pd

#: the line the commands print when they skip their plots
NO_MATPLOTLIB = (
    "note: {what} not drawn: the plots need matplotlib, which is not installed; "
    'install it with `pip install "gatedforecast[plot]"` (or pass --no-plot)'
)


class PlotsUnavailable(Exception):
    """matplotlib is not installed."""


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed), or
    :class:`PlotsUnavailable`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise PlotsUnavailable(str(error)) from error
    return plt


def draw(plot, path, log, *args) -> list:
    """``[path]`` after ``plot(*args, path)``; ``[]`` and a note when matplotlib is
    missing."""
    try:
        plot(*args, path)
    except PlotsUnavailable:
        log(NO_MATPLOTLIB.format(what=path.name))
        return []
    return [path]


def x_values(index: pd.Index):
    """Timestamps for periods, the values themselves otherwise."""
    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp()
    return index
