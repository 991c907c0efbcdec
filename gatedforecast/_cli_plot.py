"""matplotlib for the command line: a file backend, and x values it can draw."""

from __future__ import annotations

import pandas as pd

from ._cli_data import CLIError


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise CLIError(
            "the plots need matplotlib; install it with `pip install matplotlib` or "
            "`pip install 'gatedforecast[cli]'`, or pass --no-plot"
        ) from error
    return plt


def x_values(index: pd.Index):
    """Timestamps for periods, the values themselves otherwise."""
    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp()
    return index
