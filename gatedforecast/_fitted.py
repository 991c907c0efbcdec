"""Behaviour shared by every fitted estimator of the package."""

from __future__ import annotations

import pandas as pd
import torch

from .devices import resolve_device
from .plotting import plot_history
from .training import TrainingResult


class FittedNetworkMixin:
    """History bookkeeping, prediction device and history plot of a fitted network.

    The network of a fitted estimator lives on the CPU (so it pickles and loads
    anywhere); predictions run on the training device when it is still available.
    """

    def _record_history(self, result: TrainingResult, continued: bool) -> None:
        """Set ``history_``, ``n_epochs_`` and ``best_epoch_`` after training;
        continued training appends to them."""
        if not continued:
            self.history_ = result.history
            self.n_epochs_ = result.n_epochs
            self.best_epoch_ = result.best_epoch
            return
        self.history_ = pd.concat([self.history_, result.history], ignore_index=True)
        self.n_epochs_ += result.n_epochs
        if result.n_epochs:
            self.best_epoch_ = result.best_epoch

    def _predict_device(self) -> torch.device:
        try:
            return resolve_device(self.device_)
        except ValueError:
            return torch.device("cpu")

    def plot_history(self, ax=None):
        """Plot the training and validation loss of each epoch.

        Needs matplotlib (``pip install matplotlib``).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when omitted.

        Returns
        -------
        matplotlib.axes.Axes
        """
        if not hasattr(self, "history_"):
            raise ValueError(
                f"This {type(self).__name__} is not fitted yet: call fit before "
                "plot_history."
            )
        return plot_history(self.history_, ax=ax, title=type(self).__name__)
