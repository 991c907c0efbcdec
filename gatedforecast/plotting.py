"""Plots of fitted estimators. matplotlib is optional: ``pip install matplotlib``."""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_history"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "plot_history needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib` (or `pip install gatedforecast[plot]`)."
        ) from error
    return plt


def plot_history(history: pd.DataFrame, ax=None, title: str | None = None):
    """Draw the training (and validation) loss of each epoch.

    Parameters
    ----------
    history : pandas.DataFrame
        An estimator's ``history_``: columns ``epoch``, ``train_loss``, ``val_loss``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    if ax is None:
        # a constrained layout keeps the labels inside the saved figure
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.plot(history["epoch"], history["train_loss"], label="training loss")
    if history["val_loss"].notna().any():
        ax.plot(history["epoch"], history["val_loss"], label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if (history[["train_loss"]] > 0).all().all() else "linear")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
