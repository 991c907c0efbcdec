"""The class docstrings of the forecasters and the regressors, as templates.

:func:`gatedforecast._docs.class_doc` fills them in: the cell's summary, the class
names and the ``Parameters`` section built from the parameter table. The
measurements behind the defaults are on the benchmarks page of the documentation,
not here.
"""

CELL_SUMMARIES = {
    "gru": (
        "A GRU has three weight blocks per layer (update gate, reset gate, "
        "candidate),\nabout a quarter fewer parameters than an LSTM of the same "
        "width, and is often\nas accurate on short and medium series."
    ),
    "lstm": (
        "An LSTM has four weight blocks per layer (input, forget and output gates "
        "and\nthe candidate cell) and a separate cell state, which can help on long "
        "series."
    ),
}

FORECASTER = """{cell_name} forecaster for sktime, on a stacked {cell_name} network in PyTorch.

{summary}

The network reads the last ``window_length`` values and predicts the next
``horizon`` steps at once (``strategy="direct"``), or one step at a time
(``strategy="recursive"``); longer horizons are rolled out by feeding forecasts
back as inputs. Every series is scaled on the way in and the scaling is inverted on
the way out.

Steps of ``fh`` at or before the cutoff (``fh=0``, negative steps, past time
points) are in-sample forecasts: the forecast of a past point is the head's first
step from the ``window_length`` values before it, the one-step forecast the
forecaster would have made with the cutoff just before that point; points with
fewer than ``window_length`` values before them are NaN, as in sktime's reduction
forecasters. So ``predict_residuals(y_train)`` gives the one-step residuals.
In-sample steps read the stored ``X``; prediction intervals are for steps after
the cutoff only.

``y`` may be one series, several columns forecast jointly, or a panel or hierarchy
of series (one global network, see ``global_model``). Exogenous ``X`` holds
future-known covariates: in ``fit`` it has the rows of ``y``; the network reads it
beside ``y`` in each input window and, through its head, at the forecast steps, so
``predict`` needs ``X`` with a row for every step up to the largest step of ``fh``.

``y`` may have missing values (NaN; ``X`` may not): the network then reads each
window filled forward beside a mask channel per target, the scaling and the loss
ignore the missing values, and forecasts stay finite; a series whose last
``window_length`` values of a target are all missing is refused. On complete
series the network has no mask channel.

Parameters
----------
{parameters}

Attributes
----------
network_ : ForecastNetwork
    The trained network, on the CPU.
history_ : pandas.DataFrame
    One row per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``learning_rate``,
    ``seconds``.
n_epochs_ : int
    Epochs run (fewer than ``max_epochs`` after early stopping).
best_epoch_ : int
    Epoch with the lowest monitored loss (validation loss, or training loss
    without validation); its weights are the fitted ones when a validation split
    or ``patience`` is set.
calibration_epochs_ : int or None
    When the windows held out to calibrate the intervals are a large part of the
    data, fit trains twice: without them (whose forecasts of them give the
    calibration residuals), then on all windows; ``history_`` and ``n_epochs_``
    describe the second training, this is the number of epochs of the first. None
    when fit trained once.
window_length_ : int
    Window length used.
seasonal_period_ : int or None
    Season length used (found or given); None without one.
baseline_ : str or None
    Baseline used: ``"last"``, ``"seasonal"`` or None.
horizon_ : int
    Steps of the network's head.
device_ : torch.device
    Device the network was trained on.
n_parameters_ : int
    Number of trainable parameters.
n_series_ : int
    Number of series fitted (1 for a single series).
pretrained_network_, pretrained_history_ : ForecastNetwork, pandas.DataFrame
    After ``pretrain``: the pretrained network and its training history.

See Also
--------
{other} : the same forecaster with the {other_cell} cell.

Notes
-----
**Pretrain, then apply.** ``pretrain(y_panel)`` trains the global network on a
panel of series; a later ``fit(y)`` on any series (seen or not) applies a copy of it,
with per-series scaling fitted on ``y``, and fine-tunes the copy only when
``fine_tune_epochs > 0``. The pretrained network is never changed by ``fit``, so
fitting series A and then series B starts both from the same weights. Window length,
head length, scaling and columns are those of ``pretrain``; a ``fh`` longer than the
pretrained head is rolled out recursively.

With the default ``interval_method="conformal"``, ``fit`` on a single short series
trains the network twice: first without the last windows, held out to measure the
errors that calibrate the intervals, then on all windows, so the point forecast
learns from the most recent data ("calibration fit" and "final fit" in the
progress bars of ``verbose=1``). On panels the held-out windows are a small share
of all windows and the network is trained once; ``interval_method=None`` never
trains twice.

The defaults, and the season, window and baseline that ``"auto"`` picks, were
chosen on the 359 series of M4 Weekly and on a dev suite of short series
(``benchmarks/``); the measurements are on the benchmarks page
(:doc:`/benchmarks`, "How the defaults were chosen"). ``dropout=0.2`` is the one
setting to try beside them, and the one recommended for the LSTM. The seasonal
baseline is what a short seasonal series needs: a network with a few dozen
training windows cannot learn a season's shape, but it can learn a correction of
last year's values. It is not the better baseline everywhere, hence
``baseline="auto"`` keeps whichever naive forecast was the more accurate on the
training data, a rule that needs no constant. The window spans a season; without
a season it is ``max(2 * horizon, 12)``.

On a short series the seed decides much of the forecast, so
``ensemble_size="auto"`` trains five networks on small data (one pass over the
training windows takes at most 10 batches) and forecasts their median, which
narrows the spread over seeds; on a long series or a panel one network sees
enough windows, and four more would cost minutes, so it trains one. More
gradient steps per epoch and early stopping on the last windows were measured
for small data too and are not defaults (:doc:`/benchmarks`, "Small data").

Examples
--------
>>> from sktime.datasets import load_airline
>>> from gatedforecast import {name}
>>> y = load_airline()
>>> forecaster = {name}(window_length=24, max_epochs=5, random_state=0)
>>> forecaster.fit(y, fh=range(1, 13))
{name}(...)
>>> y_pred = forecaster.predict()
>>> len(y_pred)
12
"""

REGRESSOR = """{cell_name} regressor for scikit-learn, on a stacked {cell_name} network in PyTorch.

{summary}

Each sample is a sequence: ``X`` of shape ``(n_samples, n_steps, n_features)``, or
2-D ``(n_samples, n_columns)`` read as ``n_columns // n_features`` steps with the
features of each step side by side (one feature per step by default), as
:func:`gatedforecast.make_windows` and sktime's ``make_reduction`` produce it. The
network reads each sequence, oldest step first, and a linear head maps its final
state to the targets ``y`` of shape ``(n_samples,)`` or ``(n_samples, n_outputs)``.

Parameters
----------
{parameters}

Attributes
----------
network_ : ForecastNetwork
    The trained network, on the CPU.
history_ : pandas.DataFrame
    One row per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``learning_rate``,
    ``seconds``.
n_epochs_ : int
    Epochs run over all fits (fewer than ``max_epochs`` after early stopping).
best_epoch_ : int
    Epoch with the lowest monitored loss in the last fit (validation loss, or
    training loss without validation); its weights are the fitted ones when a
    validation split or ``patience`` is set.
device_ : torch.device
    Device the network was trained on.
n_features_in_ : int
    ``X.shape[1]`` in ``fit``: the column count of 2-D ``X``, the number of steps
    of 3-D ``X``.
feature_names_in_ : ndarray of str
    Column names of ``X`` when it was a DataFrame with string column names.
n_outputs_ : int
    Number of targets.
n_parameters_ : int
    Number of trainable parameters.

See Also
--------
{other} : the same regressor with the {other_cell} cell.
gatedforecast.make_windows : cut a series into ``(X, y)`` samples.

Examples
--------
>>> import numpy as np
>>> from gatedforecast import make_windows, {name}
>>> X, y = make_windows(np.sin(np.arange(200) / 4), window_length=12)
>>> X.shape, y.shape
((188, 12), (188,))
>>> model = {name}(hidden_sizes=8, max_epochs=3, random_state=0)
>>> model.fit(X[:150], y[:150])
{name}(hidden_sizes=8, max_epochs=3, random_state=0)
>>> model.predict(X[150:]).shape
(38,)
"""
