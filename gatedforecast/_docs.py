"""Docstrings of the forecasters and the regressors, from the parameter table.

Each parameter's description is written here once (per family where the
forecasters and the regressors differ); its name, type, choices and default come
from :data:`gatedforecast._params.PARAMETERS`, so a parameter, a choice or a default
cannot be documented differently from what the estimators accept.
"""

from __future__ import annotations

import textwrap

from . import _doc_templates
from ._params import FORECASTER, REGRESSOR, Parameter, parameters

#: each public class: its family, its cell and the class with the other cell
CLASSES = {
    "GRUForecaster": (FORECASTER, "gru", "LSTMForecaster"),
    "LSTMForecaster": (FORECASTER, "lstm", "GRUForecaster"),
    "GRURegressor": (REGRESSOR, "gru", "LSTMRegressor"),
    "LSTMRegressor": (REGRESSOR, "lstm", "GRURegressor"),
}
_TEMPLATES = {
    FORECASTER: _doc_templates.FORECASTER,
    REGRESSOR: _doc_templates.REGRESSOR,
}

#: the description of each parameter in the table, per family where they differ
PARAMETER_TEXT: dict[str, str | dict[str, str]] = {
    "window_length": """\
Number of past values the network reads. ``"auto"`` (or ``None``) picks
``max(2 * horizon_, seasonal_period_, 12)``, capped at half of what the
shortest series leaves after the horizon but never below one season when the
series holds one (see Notes); the choice is ``window_length_``.""",
    "hidden_sizes": """\
Hidden units of each recurrent layer, bottom to top: ``(128, 64)`` stacks two
layers as in the classic Keras recipe.""",
    "dropout": "Dropout on the output of every recurrent layer during training.",
    "bidirectional": {
        FORECASTER: "Read each window in both directions.",
        REGRESSOR: "Read each sequence in both directions.",
    },
    "attention": {
        FORECASTER: """\
Summarise each window with attention over the recurrent states: the top
layer's last hidden state attends over its states at every step of the
window, and the head reads a combination of that context and the last state
(the encoder ``"gru+attention"`` or ``"lstm+attention"``,
:class:`gatedforecast.networks.AttentionRNN`). It adds ``3 * d**2 + d``
parameters, ``d`` being the top layer's output size (its units, twice that
when bidirectional): 12,352 for 64 units. It lost to the plain cell on
airline and won on M4 Weekly (:doc:`/benchmarks`), so it is off by default.""",
        REGRESSOR: """\
Summarise each sequence with attention over the recurrent states: the top
layer's last hidden state attends over its states at every step, and the
output layer reads a combination of that context and the last state (the
encoder ``"gru+attention"`` or ``"lstm+attention"``,
:class:`gatedforecast.networks.AttentionRNN`). It adds ``3 * d**2 + d``
parameters, ``d`` being the top layer's output size (its units, twice that
when bidirectional).""",
    },
    "ensemble_size": """\
Number of networks trained together, from different initial weights drawn
from ``random_state``, and combined by the median of their outputs. They are
one batched model (:mod:`gatedforecast.network_members`): every layer runs
all members in one batched matrix product, so ``k`` networks train in one
loop over the data. ``"auto"`` trains 5 networks on small data (one pass over
the training windows takes at most 10 batches: a single series of up to a
few hundred points) and 1 otherwise; the choice is ``ensemble_size_``. ``1``
trains a single network.""",
    "n_features": """\
Features per step of 2-D ``X``: its columns are read as
``n_columns // n_features`` steps. ``None`` means one feature per step for 2-D
``X`` and ``X.shape[2]`` for 3-D ``X``.""",
    "scale_target": """\
Standardise each target column with its mean and standard deviation on the
training data, and invert that on the predictions. ``X`` is used as it is:
standardise it in a ``Pipeline`` (for example with ``StandardScaler``).""",
    "strategy": """\
``"direct"``: one head predicts ``horizon_`` steps at once. ``"recursive"``:
a one-step head is rolled out step by step.""",
    "horizon": """\
Steps of the direct head. ``None`` uses the largest step of the ``fh`` given to
``fit``, or 1 when ``fit`` gets no ``fh``. Forecasts beyond the head are rolled
out recursively. So ``fit(y)`` followed by ``predict(fh=range(1, 13))`` trains a
one-step network and rolls it out twelve times, feeding its forecasts back as
inputs, with intervals calibrated on the first step only; pass the ``fh`` you
will predict to ``fit`` (or set ``horizon``) to train the network for it.""",
    "past_covariates": """\
Columns of ``X`` known only up to the cutoff (a sensor, yesterday's traffic, a
competitor's price). The network reads them in its input window only, never at
the forecast steps, so ``predict`` does not ask for their future values: ``X``
in ``predict`` needs only the other (future-known) columns, and may be None
when every column is past-only (past-only columns it holds are ignored, so
sktime's ``evaluate`` cannot leak them). ``fit`` and ``update`` need them for
the observed time points. Forecasts within the head (``strategy="direct"`` with
``horizon`` covering ``fh``) use only observed values. A roll-out beyond the
head (``strategy="recursive"``, or steps past ``horizon``) reads windows that
reach past the cutoff, where these values are unknown: it holds them at their
last observed value, warns once, and its calibrated intervals measure that
roll-out. ``None``: every column of ``X`` is known for the forecast steps.""",
    "static_covariates": """\
Columns of ``X`` that describe each series as a whole (a store's size, its
region, a product family): constant within every series, numbers or
``category`` dtype. The network reads them once per window, not through time:
the head reads the numeric ones (standardised across the series with the
fit-time mean and standard deviation) and a learned embedding of each
category (``min(8, (n_levels + 1) // 2)`` wide) beside the encoder's summary.
A named column that varies within a series is an error. Only ``fit`` reads
them: ``predict`` and ``update`` take each series' values from the fit and
ignore these columns of their ``X``. A level the network was not trained on
(a pretrained network applied to new series) is an error. Other ``category``
columns of ``X`` are read through time, one 0/1 channel per level of their
dtype at fit (``"column=level"``; a past-only one when ``past_covariates``
names it); text columns are refused. ``None``: no static covariates.""",
    "scaler": """\
``"window"``: each input window is normalised by its own mean and standard
deviation, and the forecast is mapped back with them (suits series whose level
drifts). ``"standard"``/``"robust"``: one mean/std (median/IQR) per series and
channel, fitted on the training data. ``None``: raw values.""",
    "baseline": """\
Learn the forecast as a correction of a naive forecast: the window's last
value, or the value ``seasonal_period_`` steps earlier. ``None`` learns the
level itself. ``"auto"``: the seasonal baseline when a season was found and
the window reaches a season back, else the last value; the choice is
``baseline_``.""",
    "seasonal_period": """\
Season length in steps, read by ``baseline="seasonal"`` and by the automatic
window. ``"auto"`` reads it from the training data: the index frequency names
a candidate (12 for monthly data, 4 quarterly, 52 weekly, 7 daily, 5
business-daily, 24 or 168 hourly, 48 half-hourly, 60 minutely; none for
yearly data; 4, 5, 7, 12, 24 and 52 for an integer index), and the
autocorrelation of the differenced series at that lag must be positive and
above its Bartlett bound (5 %), on series at least three seasons long (on a
panel, the autocorrelation pooled over its series). See
:mod:`gatedforecast.seasonality`. ``None``: no season. The choice is
``seasonal_period_``.""",
    "loss": {
        FORECASTER: """\
Training loss, computed on the scaled targets. The mean absolute error is the
default because forecasts are judged by absolute errors (MAE, MASE, sMAPE)
and it is robust to the rare windows whose scaled targets are large; it beat
the squared error on M4 Weekly (:doc:`/benchmarks`).""",
        REGRESSOR: "Training loss, computed on the (scaled) targets.",
    },
    "optimizer": """\
``"sgd"`` uses momentum 0.9. A class or callable is called as
``optimizer(params, lr=learning_rate)``.""",
    "learning_rate": "Step size of the optimizer.",
    "batch_size": {
        FORECASTER: "Windows per gradient step.",
        REGRESSOR: "Samples per gradient step.",
    },
    "max_epochs": {
        FORECASTER: "Training epochs.",
        REGRESSOR: "Training epochs of each call to ``fit``.",
    },
    "steps_per_epoch": {
        FORECASTER: """\
Gradient steps per epoch. ``None``: one pass over all training windows,
shuffled. An int bounds the work: each epoch draws ``steps_per_epoch *
batch_size`` windows at random from all of them. ``"auto"``: a full pass, or
100 steps when a full pass would be longer, so a first fit on long series or
a big panel takes minutes, not hours (a few minutes on one CPU thread for the
359 series of M4 Weekly, :doc:`/benchmarks`).""",
        REGRESSOR: """\
Gradient steps per epoch. ``None``: one pass over all training samples,
shuffled. An int bounds the work: each epoch draws ``steps_per_epoch *
batch_size`` samples at random from all of them. ``"auto"``: a full pass, or
100 steps when a full pass would be longer, so a first fit on many samples
takes minutes, not hours.""",
    },
    "gradient_clip": {
        FORECASTER: """\
Clip the global gradient norm to this value (``None``: no clipping). Targets
are scaled to about unit size, so a norm of 1 only trims the rare large steps
of the first epochs (a window spanning a level shift) that otherwise make
short series such as airline train erratically.""",
        REGRESSOR: "Clip the global gradient norm to this value (``None``: no clipping).",
    },
    "bptt_chunk": """\
Train through long windows this many steps at a time (gradient checkpointing
of the recurrent layers): the forward pass keeps only the states between
chunks and the backward pass recomputes one chunk at a time, so the memory a
window takes in training is about that of a window of ``bptt_chunk`` steps,
for about one more forward pass of compute (and, for a GRU on a CPU, the speed
of its own training layer: chunks run ``nn.GRU``). The gradients are the whole
window's (back-propagation is not truncated), so forecasts equal those of
``None`` up to float rounding. For windows of hundreds or thousands of steps
(weeks of hourly data); shorter windows are read whole. Needs
``bidirectional=False``; ``ensemble_size="auto"`` then trains one network.
With ``attention=True`` the top layer's outputs at every step are still kept.
``None``: whole windows.""",
    "validation_size": {
        FORECASTER: """\
Hold out the last windows in time for validation: an int number of windows or
a fraction of them. Training windows whose targets reach into the first
validation target are dropped, so validation never sees trained targets.""",
        REGRESSOR: """\
Hold out the last samples, in the order given, for validation: an int number of
samples or a fraction of them (at least one). They are never trained on.""",
    },
    "patience": """\
Stop after this many epochs without improvement of the validation loss (of
the training loss without validation). ``None`` runs every epoch.""",
    "min_delta": "Smallest decrease of the monitored loss that counts as an improvement.",
    "restore_best_weights": """\
At the end of training, restore the weights of the best epoch when a
validation split or ``patience`` is set. A plain fixed-epoch run keeps the
weights of its last epoch (its training loss is too noisy to pick an epoch);
an interrupted run keeps the best weights so far either way.""",
    "lr_schedule": """\
``"plateau"`` halves the learning rate after ``max(1, patience // 2)`` epochs
(5 without patience) without improvement; ``"cosine"`` anneals it to zero over
``max_epochs``; ``"onecycle"`` warms up to ``learning_rate`` and anneals, per
batch.""",
    "warm_start": """\
When the regressor is fitted, ``fit`` continues training its network (and
keeps its target scaling) for ``max_epochs`` more epochs, numbered after the
earlier ones in ``history_``. The data must have the same sequence shape and
number of outputs. ``False``: every ``fit`` starts over.""",
    "update_epochs": """\
Epochs of continued training in ``update(update_params=True)``, over the
windows whose targets reach into the new data. ``None``: ``max_epochs``.""",
    "global_model": """\
For a panel or hierarchy of series (sktime's ``pd-multiindex`` and
``pd_multiindex_hier``): ``True`` trains one network on the windows of all
series, each scaled on its own; ``False`` lets sktime fit one forecaster per
series. Either way each series is forecast from its own last observation.""",
    "fine_tune_epochs": """\
After ``pretrain``, epochs that ``fit`` trains a copy of the pretrained network
on its own series. ``0`` applies the pretrained network as it is: ``fit`` then
only scales the new series and stores its context, in milliseconds.""",
    "interval_method": """\
How ``predict_interval``/``predict_quantiles`` work. Both calibrate on the last
windows of each series, held out from training (``calibration_size``) and
separate from the validation windows. ``"conformal"``: split-conformal
quantiles of the absolute held-out residuals, per horizon step, scaled by each
forecast's window spread, so intervals are symmetric around the point forecast
and any coverage works without retraining. A flat window (spread under 5 % of
its series' typical window spread, as in the zero stretches of an intermittent
series) is scaled by that typical spread instead, so jumps after flat
stretches give intervals on the scale of the data.
``"mc_dropout"``: ``n_samples`` forecast paths with dropout masks drawn from a
generator seeded by ``random_state`` (needs ``dropout > 0``), each plus a
residual path drawn from the held-out residuals with a random sign, so the
spread covers both the model's uncertainty and the data's noise, symmetrically.
Steps beyond the calibrated ones
(the largest step of fit's ``fh``, or the head) grow the last step's quantiles
by ``sqrt(step / calibrated_steps)``. ``"quantile"``: the head predicts the
``quantiles`` levels of every step, trained with the pinball loss (``loss`` is
not used) and sorted so they never cross; the point forecast is the median,
other levels are interpolated linearly between trained ones and extrapolated
beyond the outermost with a normal tail (``m + (q_t - m) z(a) / z(t)``).
Horizons beyond the head are rolled out along the median path, with the
calibrated conformal spreads of each step. ``"distribution"`` (needs
``distribution``; ``"conformal"``, the default, is read as ``"distribution"``
when ``distribution`` is set): the quantiles of the likelihood head's
distributions, exact for the head's steps, of ``n_samples`` drawn paths
beyond them. The normal and Student-t heads' scales are calibrated on the
held-out windows (each step's scale is multiplied by the factor that minimises
the quantile loss, at the levels 0.05, ..., 0.95, of the held-out values
standardised by their distributions), as the conformal intervals are; the negative
binomial's spread is read as trained, and no windows are held out for it.
``None``: point forecasts only, no windows held out.""",
    "distribution": """\
A likelihood head trained by negative log-likelihood instead of ``loss``:
``"normal"``, ``"student_t"`` (5 degrees of freedom, fixed) or
``"negative_binomial"`` (counts: ``y`` must hold non-negative integers; the
series scaler leaves the targets in their own units, the window's scale sets
the mean through a softplus). The head predicts two quartiles per step and
target, from which the distribution's location and scale are read; the point
forecast is its median (fed back as input beyond the head), intervals and
``predict_proba`` (a skpro distribution; ``pip install gatedforecast[proba]``)
come from the distribution, and steps beyond the head from ``n_samples``
paths whose drawn values are fed back, seeded by ``random_state``. An ensemble
forecasts the distribution of the median of its members' outputs. The
normal and Student-t scales are calibrated on held-out windows (see
``interval_method``). ``None``: a point forecast trained with ``loss``.""",
    "quantiles": """\
Levels of the quantile head with ``interval_method="quantile"``; they must
include 0.5 and a level on each side of it. ``None`` there means
``(0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)``.""",
    "calibration_size": """\
Windows per series held out for calibration. ``"auto"`` aims for 20 in all
(enough for a 95 % interval), at most a quarter of each series' windows: 20
windows from a single series, one from each series of a panel of 20 or more.
When the held-out windows are more than 5 % of all windows (a single short
series), the network is trained a second time on all windows after
calibration, so the point forecast learns from the most recent data; the
intervals keep the first network's residuals, which then approximate those of
the second. Such a fit takes about twice as long; with ``verbose=1`` the two
progress bars are labelled "calibration fit" and "final fit".
With too few residuals for a level (fewer than 19 for a 95 % interval) the
quantile extends the largest residual with a normal tail (a wider coverage
always gives a wider interval), and the first ``predict_interval`` or
``predict_quantiles`` that asks for such a level warns, once per fitted model.""",
    "n_samples": 'Forecast paths drawn by ``interval_method="mc_dropout"``, or '
    "beyond the head of a likelihood head (``distribution``).",
    "device": {
        FORECASTER: """\
``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
``"mps"``. The fitted network is kept on the CPU, so a model trained on a GPU
pickles and predicts anywhere.""",
        REGRESSOR: """\
``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
``"mps"``. The fitted network is kept on the CPU, so a model trained on a GPU
pickles and predicts anywhere; ``predict`` uses the training device when it is
available and the CPU otherwise.""",
    },
    "n_threads": """\
torch threads used while fitting and predicting (restored afterwards);
``None`` keeps torch's setting. Set 1 when several fits run in parallel
processes (joblib, Dask) so they do not oversubscribe the cores.""",
    "distributed": """\
Train data-parallel with ``torch.distributed``: each process of the default
process group trains on its share of every batch and the gradients are summed
across processes, so one network is trained with the effective batch
``batch_size``. ``"auto"`` does so when a group of more than one process is
initialised (``torchrun`` and ``torch.distributed.init_process_group()``),
``True`` requires one, ``False`` trains in this process alone. Every process
must call ``fit`` (and ``update``) with the same data and ends with the same
fitted estimator; predicting needs no group. With a CUDA device each process
uses the GPU ``LOCAL_RANK`` names. See the distributed training page of the
docs.""",
    "mixed_precision": """\
Train on CUDA with the forward pass under ``torch.autocast``: ``"bf16"``
(bfloat16; GPUs from Ampere on) or ``"fp16"`` (float16, with the loss scaled
by a ``torch.amp.GradScaler`` and unscaled before clipping). The loss, the
weights and the optimizer stay in float32, and forecasts are computed in
float32. On the CPU it would make training about twice as slow, so a CPU fit
warns and trains in float32. ``None``: float32 throughout.""",
    "torch_compile": """\
Compile the network's forward pass with ``torch.compile`` for training on CUDA
(the first steps then take the compilation's time, often tens of seconds).
Forecasts run eagerly. On the CPU a compiled step was slower than the eager
one, so a CPU fit warns and trains eagerly.""",
    "random_state": """\
Seeds local generators for the initial weights, shuffling and dropout. The
global torch and numpy random states are never touched. With an int, two fits
on the CPU give bit-identical results.""",
    "verbose": """\
``1`` shows a progress bar over epochs with the current losses; ``0`` prints
nothing.""",
}


def _literal(value) -> str:
    return (
        "None"
        if value is None
        else f'"{value}"'
        if isinstance(value, str)
        else repr(value)
    )


def _alternatives(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} or {parts[-1]}"


def type_text(param: Parameter) -> str:
    """The type of ``param`` as its docstring line states it."""
    if param.kind in ("choice", "component"):
        choices = "{" + ", ".join(_literal(c) for c in param.choices()) + "}"
        return choices if param.type_doc is None else f"{choices}, {param.type_doc}"
    if param.type_doc is not None:
        return param.type_doc
    if param.kind == "int":
        return _alternatives(
            [
                "int",
                *(['"auto"'] if param.auto else []),
                *(["None"] if param.none else []),
            ]
        )
    if param.kind == "float":
        text = "float"
        if param.high is not None:
            text += (
                f" in {param.closed[0]}{param.low:g}, {param.high:g}{param.closed[1]}"
            )
        return f"{text} or None" if param.none else text
    return param.kind


def description(param: Parameter, family: str) -> str:
    text = PARAMETER_TEXT[param.name]
    return text[family] if isinstance(text, dict) else text


def parameters_section(family: str) -> str:
    """The body of the ``Parameters`` section of ``family``'s classes."""
    entries = []
    for param in parameters(family):
        header = (
            f"{param.name} : {type_text(param)}, "
            f"default={_literal(param.default_for(family))}"
        )
        entries.append(
            header + "\n" + textwrap.indent(description(param, family), "    ")
        )
    return "\n".join(entries)


def class_doc(name: str) -> str:
    """The numpydoc docstring of the public class ``name``."""
    family, cell, other = CLASSES[name]
    return _TEMPLATES[family].format(
        cell_name=cell.upper(),
        summary=_doc_templates.CELL_SUMMARIES[cell],
        name=name,
        other=other,
        other_cell=CLASSES[other][1].upper(),
        parameters=parameters_section(family),
    )
