"""A fitted forecaster's whole forecast path as one ONNX graph, for serving.

One job: write what :meth:`predict` computes for a fixed number of steps as a file
that onnxruntime runs without Python's torch or sktime. :class:`ForecastPath` is
that path as a torch module: the series scaling (float64), the per-window
transform, the network and its head, the roll-out that feeds forecasts back for
steps beyond the head (or one step at a time for the recursive strategy), the
covariates of the forecast steps, and the inverse scaling (float64). It calls the
engine's own :func:`~gatedforecast.engine.rollout.roll_out`, so the graph is the
path predict takes, not a copy of it. :func:`export_onnx` traces it into an ONNX
file and writes a JSON sidecar beside it: the inputs and outputs a server feeds
and reads, the window length, the number of steps, and the series the scaling
statistics belong to.

The graph takes the raw (unscaled) values and gives raw-unit point forecasts:

* ``y``: ``(batch, window_length, n_targets)`` float64, the last
  ``window_length`` values of each series;
* ``series``: ``(batch,)`` int64, each row's position in the sidecar's
  ``series`` list: the per-series scaling statistics are constants of the graph,
  picked by this number (one file serves every series of a panel);
* ``X`` (only when the forecaster was fitted with covariates; a forecaster
  with past-only covariates, ``past_covariates``, or static ones,
  ``static_covariates``, is refused):
  ``(batch, window_length + horizon, n_covariates)`` float64, the covariates of
  the window's time points followed by those of the forecast steps;
* output ``forecast``: ``(batch, horizon, n_targets)`` float64, steps
  ``1 .. horizon`` after the window's last time point.

Prediction intervals are not exported: the graph gives the point forecasts
(the median level of a quantile head, as predict does).

``onnx`` and ``onnxruntime`` are the optional extra ``gatedforecast[onnx]``;
this module imports them only when it exports or checks a file.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from ._series_io import _largest_step
from .engine.rollout import roll_out

__all__ = ["EXPORT_FORMAT", "ForecastPath", "export_onnx", "forecast_path"]

#: the version of the sidecar's layout (``"format_version"``)
EXPORT_FORMAT = 1
#: the ONNX operator set the graph is written with
OPSET = 17
#: the largest difference between the written graph and the torch path, in units
#: of each series' scale, that the check after writing accepts (float32 rounding
#: is about 1e-6 there)
CHECK_TOLERANCE = 1e-3
#: the series the written graph is checked on
CHECK_SERIES = 64
#: input and output names of the graph
Y_INPUT, SERIES_INPUT, X_INPUT, OUTPUT = "y", "series", "X", "forecast"


class ForecastPath(nn.Module):
    """The forecast path of a fitted engine for ``n_steps`` steps, as a module.

    Parameters
    ----------
    engine : SeriesEngine
        The fitted engine of a forecaster (``forecaster._engine``); its network is
        copied, so the forecaster is left as it was.
    n_steps : int
        Steps forecast after the last value of the input window.

    The forward pass takes ``y`` ``(batch, window_length, n_targets)``, ``series``
    ``(batch,)`` int64 and, with covariates, ``X`` ``(batch, window_length +
    n_steps, n_covariates)``, all raw values, and returns the raw forecasts
    ``(batch, n_steps, n_targets)`` in float64, as the forecaster's ``predict``
    computes them from the same values.
    """

    def __init__(self, engine, n_steps: int) -> None:
        super().__init__()
        setup = engine.setup
        self.network = copy.deepcopy(engine.network).eval()
        self.transform = setup.transform
        self.window_length = setup.window_length
        self.head = setup.horizon
        self.n_steps = int(n_steps)
        self.n_targets = setup.n_targets
        self.n_covariates = setup.n_covariates
        self.median = setup.median
        self.register_buffer(
            "loc", torch.as_tensor(engine.scaler.loc_, dtype=torch.float64)
        )
        self.register_buffer(
            "scale", torch.as_tensor(engine.scaler.scale_, dtype=torch.float64)
        )

    def forward(
        self, y: torch.Tensor, series: torch.Tensor, X: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Raw forecasts ``(batch, n_steps, n_targets)`` from raw inputs."""
        loc = self.loc.index_select(0, series).unsqueeze(1)
        scale = self.scale.index_select(0, series).unsqueeze(1)
        targets = slice(0, self.n_targets)
        # the series scaling in float64, as SeriesScaler.transform does
        context = (y - loc[..., targets]) / scale[..., targets]
        future = None
        if self.n_covariates:
            covariates = slice(self.n_targets, None)
            x = (X - loc[..., covariates]) / scale[..., covariates]
            context = torch.cat([context, x[:, : self.window_length]], dim=-1)
            future = x[:, self.window_length :]
            # rows up to a multiple of the head repeat the last one (pad_rows)
            missing = -self.n_steps % self.head
            if missing:
                last = future[:, -1:].expand(-1, missing, -1)
                future = torch.cat([future, last], dim=1)
            future = future.float()
        scaled = roll_out(
            self.network,
            self.transform,
            context.float(),
            self.n_steps,
            future,
            median=self.median,
        )
        # the inverse scaling in float64, as SeriesScaler.inverse_transform does
        return scaled.double() * scale[..., targets] + loc[..., targets]


def _engine_of(forecaster):
    """The fitted engine of a gatedforecast forecaster, or a clear refusal."""
    is_fitted = getattr(forecaster, "check_is_fitted", None)
    if not callable(is_fitted) or not hasattr(type(forecaster), "_set_engine"):
        raise TypeError(
            "export_onnx exports a fitted GRUForecaster or LSTMForecaster, got "
            f"{type(forecaster).__name__}."
        )
    is_fitted()
    engine = getattr(forecaster, "_engine", None)
    if engine is None:
        # sktime fitted one clone per series (global_model=False on a panel)
        raise ValueError(
            "This forecaster holds one network per series (global_model=False on a "
            "panel), so there is no one forecast path to export. Export each series' "
            "forecaster from forecaster.forecasters_, or fit with global_model=True."
        )
    if engine.setup.static is not None:
        raise ValueError(
            f"This forecaster reads static covariates {list(engine.setup.static.columns)} "
            "(static_covariates), which the exported graph does not take: it has no "
            "input for per-series values or category embeddings. Fit without "
            "static_covariates to export, or serve it with predict."
        )
    if engine.setup.categories is not None:
        columns = list(engine.setup.categories.columns)
        raise ValueError(
            f"This forecaster reads the category columns {columns} of X through "
            "time as indicator columns, which the exported graph would expect "
            "already expanded. Fit on X with those columns one-hot encoded "
            "(pd.get_dummies(X, columns=..., dtype=float)) to export, or serve it "
            "with predict."
        )
    if engine.setup.n_past:
        # the graph's X input holds every covariate at the window and the steps
        past = list(engine.setup.past_columns)
        raise ValueError(
            f"This forecaster reads past-only covariates {past} "
            "(past_covariates), which the exported graph does not take: its X "
            "input holds every covariate for the window and the forecast steps. "
            "Fit without past_covariates to export, or serve it with predict."
        )
    if engine.setup.distribution is not None:
        # a negative binomial's median is no graph of torch operations, and a
        # graph of the location alone would drop what the model is for
        raise ValueError(
            f"This forecaster has a likelihood head (distribution="
            f"{engine.setup.distribution!r}); the exported graph gives point "
            "forecasts only, and exports networks trained for them. Fit with "
            "distribution=None to export, or forecast with the forecaster itself."
        )
    if engine.setup.masked:
        raise ValueError(
            "This forecaster was fitted on series with missing values, so its "
            "network reads a mask channel per target beside windows filled "
            "forward; the exported graph does not compute them and exports only "
            "networks of complete series. Fill the missing values (e.g. with "
            "sktime's Imputer) and fit again to export, or forecast with the "
            "forecaster itself."
        )
    return engine


def _n_steps(forecaster, horizon) -> int:
    """The steps to export: ``horizon``, else the furthest step of the
    forecaster's ``fh`` (from fit or the last predict)."""
    if horizon is None:
        fh = getattr(forecaster, "_fh", None)
        steps = _largest_step(fh, forecaster.cutoff) if fh is not None else 0
        if steps < 1:
            raise ValueError(
                "export_onnx needs the number of steps to forecast: pass horizon=... "
                "(an int >= 1), or fit (or predict) with an fh that reaches past the "
                "cutoff."
            )
        horizon = steps
    if isinstance(horizon, bool | np.bool_) or not isinstance(
        horizon, numbers.Integral
    ):
        raise TypeError(f"horizon must be an int >= 1, got {horizon!r}.")
    if horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}.")
    # the roll-out length predict allows (its error names the limit)
    forecaster._steps_to_forecast([np.array([int(horizon)])])
    return int(horizon)


def forecast_path(forecaster, horizon: int | None = None) -> ForecastPath:
    """The forecast path of a fitted forecaster for ``horizon`` steps as a torch
    module (what :func:`export_onnx` writes); see :class:`ForecastPath`.

    ``horizon=None`` takes the furthest step of the forecaster's ``fh``.
    """
    engine = _engine_of(forecaster)
    return ForecastPath(engine, _n_steps(forecaster, horizon))


def _example_inputs(path: ForecastPath, batch: int = 2) -> tuple:
    y = torch.zeros(batch, path.window_length, path.n_targets, dtype=torch.float64)
    series = torch.zeros(batch, dtype=torch.int64)
    if not path.n_covariates:
        return y, series
    x = torch.zeros(
        batch,
        path.window_length + path.n_steps,
        path.n_covariates,
        dtype=torch.float64,
    )
    return y, series, x


def _check_feed(path: ForecastPath, engine) -> dict:
    """Inputs to check a written graph on: the raw last windows of the first
    :data:`CHECK_SERIES` series (at least 3 rows, another batch size than the
    trace's), with their last covariates repeated over the forecast steps."""
    series = np.arange(min(len(engine.tails), CHECK_SERIES))
    if len(series) < 3:
        series = np.resize(series, 3)
    windows = engine.tails[series, -path.window_length :]
    raw = np.stack(
        [engine.scaler.inverse_transform(w, i) for w, i in zip(windows, series)]
    )
    feed = {Y_INPUT: raw[..., : path.n_targets], SERIES_INPUT: series}
    if path.n_covariates:
        past = raw[..., path.n_targets :]
        future = np.repeat(past[:, -1:], path.n_steps, axis=1)
        feed[X_INPUT] = np.concatenate([past, future], axis=1)
    return feed


def _compare_with_torch(path: ForecastPath, engine, onnx_path: Path) -> None:
    """Refuse (and remove) a written graph whose forecasts differ from the torch
    path's by more than float32 rounding; without onnxruntime, nothing to run."""
    try:
        import onnxruntime
    except ImportError:
        return
    feed = _check_feed(path, engine)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(onnx_path), options)
    served = session.run([OUTPUT], feed)[0]
    with torch.no_grad():
        expected = path(*(torch.as_tensor(v) for v in feed.values())).numpy()
    scale = engine.scaler.scale_[feed[SERIES_INPUT], None, : path.n_targets]
    worst = float(np.max(np.abs(served - expected) / scale))
    if not worst <= CHECK_TOLERANCE:
        onnx_path.unlink()
        raise ValueError(
            f"The exported graph's forecasts differ from the forecaster's by up to "
            f"{worst:.3g} (in units of each series' scale), far beyond float32 "
            "rounding, so the file was removed: part of the network does not trace "
            "into a fixed graph (for example Python control flow on the values in "
            "a custom encoder). Write the encoder's forward pass with torch "
            "operations only."
        )


def _label(value):
    """A column label or series key level as JSON: numbers and strings as they
    are, anything else (timestamps, tuples) as its string."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _sidecar(forecaster, path: ForecastPath, onnx_name: str) -> dict:
    engine = forecaster._engine
    keys = list(forecaster._keys)
    n_series = len(keys)
    window, steps = path.window_length, path.n_steps
    inputs = [
        {
            "name": Y_INPUT,
            "shape": ["batch", window, path.n_targets],
            "dtype": "float64",
            "description": f"the last {window} values of each series, raw",
        },
        {
            "name": SERIES_INPUT,
            "shape": ["batch"],
            "dtype": "int64",
            "description": "each row's position in 'series' (its scaling statistics)",
        },
    ]
    if path.n_covariates:
        inputs.append(
            {
                "name": X_INPUT,
                "shape": ["batch", window + steps, path.n_covariates],
                "dtype": "float64",
                "description": (
                    f"the covariates of the window's {window} time points, then "
                    f"of the {steps} forecast steps, raw"
                ),
            }
        )
    freq = getattr(forecaster, "_time_freq", None)
    return {
        "format": "gatedforecast-onnx",
        "format_version": EXPORT_FORMAT,
        "gatedforecast_version": __version__,
        "estimator": type(forecaster).__name__,
        "onnx_file": onnx_name,
        "opset": OPSET,
        "window_length": window,
        "horizon": steps,
        "head": path.head,
        "strategy": forecaster.strategy,
        "inputs": inputs,
        "outputs": [
            {
                "name": OUTPUT,
                "shape": ["batch", steps, path.n_targets],
                "dtype": "float64",
                "description": f"point forecasts of steps 1..{steps}, raw units",
            }
        ],
        "columns": [_label(c) for c in forecaster._columns],
        "x_columns": (
            None
            if forecaster._x_columns is None
            else [_label(c) for c in forecaster._x_columns]
        ),
        "series_index_names": (
            None
            if keys == [None]
            else [_label(n) for n in forecaster._index_names[:-1]]
        ),
        "series": (
            [None] if keys == [None] else [[_label(k) for k in key] for key in keys]
        ),
        "last_index": [_label(i) for i in forecaster._last_index],
        "freq": None if freq is None else str(freq),
        "series_scaler": engine.setup.scaler_method,
        "window_normalization": engine.setup.transform.normalize,
        "baseline": engine.setup.transform.baseline,
        "seasonal_period": engine.setup.transform.seasonal_period,
        "n_series": n_series,
        "intervals": None,
    }


def export_onnx(
    forecaster, path, horizon: int | None = None, check: bool = True
) -> dict:
    """Write the fitted forecaster's forecast path as one ONNX graph.

    The graph maps the raw last window of a series (and its covariates) to the
    raw point forecasts of steps ``1 .. horizon``: series scaling, window
    transform, network, head, roll-out beyond the head, inverse scaling. A JSON
    sidecar with the same name (``.json``) describes its inputs and outputs; see
    :mod:`gatedforecast.export` for the layout. Prediction intervals are not
    exported.

    Parameters
    ----------
    forecaster : GRUForecaster or LSTMForecaster
        A fitted forecaster with one network for all its series.
    path : str or path-like
        Where to write the ONNX file; the sidecar goes to ``path`` with the
        suffix ``.json``.
    horizon : int, optional
        Steps the graph forecasts. Default: the furthest step of the
        forecaster's ``fh`` (from fit, or its last predict).
    check : bool, default=True
        Check the written graph with ``onnx.checker`` and, where onnxruntime is
        installed, run it on the last windows of the forecaster's series (up to
        :data:`CHECK_SERIES`) against the torch path; a graph that forecasts
        otherwise is removed and refused with a ``ValueError``.

    Returns
    -------
    dict
        The sidecar's content.

    Examples
    --------
    >>> import json, numpy as np, onnxruntime as ort  # doctest: +SKIP
    >>> sidecar = export_onnx(forecaster, "model.onnx", horizon=12)  # doctest: +SKIP
    >>> session = ort.InferenceSession("model.onnx")  # doctest: +SKIP
    >>> y = np.asarray(last_values, dtype=np.float64).reshape(1, -1, 1)  # doctest: +SKIP
    >>> session.run(["forecast"], {"y": y, "series": np.array([0])})[0]  # doctest: +SKIP
    """
    try:
        import onnx
    except ImportError as error:
        raise ImportError(
            "export_onnx needs the onnx package: pip install 'gatedforecast[onnx]'."
        ) from error
    module = forecast_path(forecaster, horizon)
    path = Path(path)
    if path.suffix == ".json":
        raise ValueError(
            f"path={str(path)!r} ends in .json, the sidecar's suffix, so the sidecar "
            "would overwrite the graph; name the graph with .onnx."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The folder {str(path.parent)!r} does not exist; create it first, or "
            "write the graph elsewhere."
        )
    names = [Y_INPUT, SERIES_INPUT] + ([X_INPUT] if module.n_covariates else [])
    dynamic = {name: {0: "batch"} for name in [*names, OUTPUT]}
    with warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation and notes that the
        # traced roll-out is fixed in length, which is what is exported
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                module,
                _example_inputs(module),
                str(path),
                input_names=names,
                output_names=[OUTPUT],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
        except Exception as error:
            path.unlink(missing_ok=True)
            raise ValueError(
                "The forecaster's network could not be written as an ONNX graph "
                f"({type(error).__name__}: {str(error).strip()[:300]}). The "
                "built-in encoders export; a custom encoder must trace with "
                "torch.jit.trace into operators ONNX knows."
            ) from error
    if check:
        onnx.checker.check_model(str(path))
        _compare_with_torch(module, forecaster._engine, path)
    sidecar = _sidecar(forecaster, module, path.name)
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar
