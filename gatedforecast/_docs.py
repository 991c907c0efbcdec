"""Docstring parts shared by the forecasters and the regressors."""

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

NETWORK_PARAMETERS = """hidden_sizes : int or tuple of int, default=64
    Hidden units of each recurrent layer, bottom to top: ``(128, 64)`` stacks two
    layers as in the classic Keras recipe.
dropout : float in [0, 1), default=0.0
    Dropout on the output of every recurrent layer during training."""

HORIZON_PARAMETER = """horizon : int or None, default=None
    Steps of the direct head. ``None`` uses the largest step of the ``fh`` given to
    ``fit``, or 1 when ``fit`` gets no ``fh``. Forecasts beyond the head are rolled
    out recursively. So ``fit(y)`` followed by ``predict(fh=range(1, 13))`` trains a
    one-step network and rolls it out twelve times, feeding its forecasts back as
    inputs, with intervals calibrated on the first step only; pass the ``fh`` you
    will predict to ``fit`` (or set ``horizon``) to train the network for it."""

OPTIMIZER_PARAMETERS = """\
optimizer : {"adam", "adamw", "sgd"}, Optimizer subclass or callable, default="adam"
    ``"sgd"`` uses momentum 0.9. A class or callable is called as
    ``optimizer(params, lr=learning_rate)``.
learning_rate : float, default=1e-3"""

EARLY_STOPPING_PARAMETERS = """patience : int or None, default=None
    Stop after this many epochs without improvement of the validation loss (of
    the training loss without validation). ``None`` runs every epoch.
min_delta : float, default=0.0
    Smallest decrease of the monitored loss that counts as an improvement.
restore_best_weights : bool, default=True
    At the end of training, restore the weights of the best epoch when a
    validation split or ``patience`` is set. A plain fixed-epoch run keeps the
    weights of its last epoch (its training loss is too noisy to pick an epoch);
    an interrupted run keeps the best weights so far either way.
lr_schedule : {"plateau", "cosine", "onecycle", None}, default=None
    ``"plateau"`` halves the learning rate after ``max(1, patience // 2)`` epochs
    (5 without patience) without improvement; ``"cosine"`` anneals it to zero over
    ``max_epochs``; ``"onecycle"`` warms up to ``learning_rate`` and anneals, per
    batch."""

RUNTIME_PARAMETERS = """n_threads : int or None, default=None
    torch threads used while fitting and predicting (restored afterwards);
    ``None`` keeps torch's setting. Set 1 when several fits run in parallel
    processes (joblib, Dask) so they do not oversubscribe the cores.
random_state : int, RandomState, Generator or None, default=None
    Seeds local generators for the initial weights, shuffling and dropout. The
    global torch and numpy random states are never touched. With an int, two fits
    on the CPU give bit-identical results.
verbose : int, default=0
    ``1`` shows a progress bar over epochs with the current losses; ``0`` prints
    nothing."""


def render_doc(template: str, cell: str, name: str, other: str) -> str:
    """Fill a class docstring template for the ``cell`` variant named ``name``."""
    other_cell = "lstm" if cell == "gru" else "gru"
    return template.format(
        cell_name=cell.upper(),
        summary=CELL_SUMMARIES[cell],
        name=name,
        other=other,
        other_cell=other_cell.upper(),
        network_parameters=NETWORK_PARAMETERS,
        horizon_parameter=HORIZON_PARAMETER,
        optimizer_parameters=OPTIMIZER_PARAMETERS,
        early_stopping_parameters=EARLY_STOPPING_PARAMETERS,
        runtime_parameters=RUNTIME_PARAMETERS,
    )
