"""Behaviour shared by every fitted estimator of the package."""

from __future__ import annotations

import pandas as pd
import torch

from ._params import CoreSettings, check_value, core_settings
from .devices import resolve_device
from .plotting import plot_history
from .training import TrainingResult


class FittedNetworkMixin:
    """The encoder an estimator builds, and the history bookkeeping, prediction
    device and history plot of a fitted network.

    The network of a fitted estimator lives on the CPU (so it pickles and loads
    anywhere); predictions run on the training device when it is still available.
    """

    #: the recurrent cell of the public class (``"gru"`` or ``"lstm"``)
    _cell = "gru"

    def _encoder_name(self) -> str:
        """The registered encoder (:data:`gatedforecast.networks.ENCODERS`) the
        estimator builds: its cell, with attention over the states when
        ``attention=True``."""
        attention = check_value("attention", self.attention)
        return f"{self._cell}+attention" if attention else self._cell

    def _core_settings(self) -> CoreSettings:
        """The checked network and training settings, for the encoder it builds."""
        return core_settings(self, self._encoder_name())

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
        """The device predictions run on: the training device when it is still
        there, else the CPU (see :func:`gatedforecast.engine.rollout.prediction_network`)."""
        try:
            return resolve_device(self.device_)
        except ValueError:
            return torch.device("cpu")

    def save_model(self, path):
        """Save the fitted estimator to a model file that loads without running code.

        The file (a zip archive) holds the parameters and fitted state as JSON and
        numeric arrays, and the network weights as tensors; load it with
        :func:`gatedforecast.load_model`. Unlike pickle or sktime's ``save``,
        loading it never executes code from the file. The optimizer and loss must
        be names (such as ``"adam"`` and ``"mse"``).

        Parameters
        ----------
        path : str or path-like
            Where to write the file; an existing file is replaced.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        gatedforecast.ModelFileError
            If the estimator is not fitted, has a custom optimizer or loss, or
            cannot be stored as data (see :func:`gatedforecast.save_model`).
        """
        from .persistence import save_model

        return save_model(self, path)

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
