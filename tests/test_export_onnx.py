"""The ONNX export of the forecast path: onnxruntime forecasts as predict does."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from gatedforecast import GRUForecaster, LSTMForecaster  # noqa: E402
from gatedforecast.export import export_onnx, forecast_path  # noqa: E402

TINY = {"hidden_sizes": 4, "max_epochs": 2, "batch_size": 8, "device": "cpu"}
#: the target: onnxruntime's forecasts within this of predict's
TOLERANCE = 1e-4


def _series(n=90, level=300.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level + 40 * np.sin(2 * np.pi * t / 4) + 2 * t + rng.normal(0, 3, n)
    return pd.DataFrame({"sales": values})


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3  # the refused runs below log errors otherwise
    return ort.InferenceSession(str(path), options)


def _run(path, y, series, X=None):
    feed = {"y": np.asarray(y, dtype=np.float64), "series": np.asarray(series)}
    if X is not None:
        feed["X"] = np.asarray(X, dtype=np.float64)
    return _session(path).run(["forecast"], feed)[0]


def _window(forecaster, values):
    return np.asarray(values, dtype=np.float64)[-forecaster.window_length_ :]


def _assert_close(onnx_forecast, predicted):
    error = np.abs(onnx_forecast - predicted).max()
    assert error <= TOLERANCE, f"largest difference {error:.3g}"


CASES = {
    # a direct head of 3 rolled out to 7 steps
    "gru-direct-beyond-head": (
        GRUForecaster,
        {"strategy": "direct", "scaler": "window", "baseline": "last"},
        [1, 2, 3],
        7,
    ),
    "lstm-recursive-seasonal": (
        LSTMForecaster,
        {
            "strategy": "recursive",
            "scaler": "standard",
            "baseline": "seasonal",
            "seasonal_period": 4,
        },
        [1, 2],
        6,
    ),
    "gru-recursive-robust-one-network": (
        GRUForecaster,
        {
            "strategy": "recursive",
            "scaler": "robust",
            "baseline": None,
            "ensemble_size": 1,
        },
        [1],
        5,
    ),
    "lstm-direct-attention-unscaled": (
        LSTMForecaster,
        {"attention": True, "scaler": None, "baseline": "last"},
        [1, 2, 3, 4],
        4,
    ),
    # the median of an even ensemble is the mean of its middle members
    "lstm-ensemble-of-four": (
        LSTMForecaster,
        {"ensemble_size": 4, "baseline": "last"},
        [1, 2, 3],
        5,
    ),
    "gru-quantile-head": (
        GRUForecaster,
        {
            "interval_method": "quantile",
            "quantiles": (0.1, 0.5, 0.9),
            "hidden_sizes": (4, 3),
        },
        [1, 2],
        5,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_onnxruntime_forecasts_as_predict_does(case, tmp_path):
    cls, params, fh, horizon = CASES[case]
    y = _series()
    forecaster = cls(**{**TINY, "window_length": 8, "random_state": 0, **params})
    forecaster.fit(y, fh=fh)
    predicted = forecaster.predict(fh=list(range(1, horizon + 1))).to_numpy()
    window = _window(forecaster, y)[None]

    # the torch module is predict's path itself: the same numbers
    module = forecast_path(forecaster, horizon)
    with torch.no_grad():
        in_torch = module(torch.tensor(window), torch.tensor([0])).numpy()
    np.testing.assert_allclose(in_torch[0], predicted, rtol=1e-12, atol=1e-9)

    path = tmp_path / "model.onnx"
    sidecar = forecaster.to_onnx(path, horizon=horizon)
    assert sidecar["horizon"] == horizon
    assert sidecar["head"] == forecaster.horizon_
    out = _run(path, window, [0])
    assert out.shape == (1, horizon, 1)
    assert out.dtype == np.float64
    _assert_close(out[0], predicted)
    # the batch size is free: the same window three times
    _assert_close(_run(path, np.repeat(window, 3, axis=0), [0, 0, 0]), predicted)


def _with_x(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"price": rng.normal(10, 2, n), "promo": rng.integers(0, 2, n) * 1.0}
    )
    y = pd.DataFrame({"sales": 50 + 3 * X["price"] + 8 * X["promo"]})
    y["sales"] += rng.normal(0, 0.5, n)
    return y, X


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_covariates_of_the_window_and_of_the_forecast_steps(strategy, tmp_path):
    y, X = _with_x()
    horizon = 5
    fit_end = len(y) - horizon
    forecaster = GRUForecaster(
        **TINY, window_length=6, strategy=strategy, random_state=1
    )
    # a head of 2 rolled out to 5 steps: the covariates of steps 1..5 are padded
    # to 6 rows as predict pads them
    forecaster.fit(y.iloc[:fit_end], X=X.iloc[:fit_end], fh=[1, 2])
    predicted = forecaster.predict(
        fh=list(range(1, horizon + 1)), X=X.iloc[fit_end:]
    ).to_numpy()
    path = tmp_path / "with_x.onnx"
    sidecar = export_onnx(forecaster, path, horizon=horizon)
    assert [i["name"] for i in sidecar["inputs"]] == ["y", "series", "X"]
    assert sidecar["inputs"][2]["shape"] == ["batch", 6 + horizon, 2]
    assert sidecar["x_columns"] == ["price", "promo"]
    window = _window(forecaster, y.iloc[:fit_end])[None]
    rows = X.to_numpy()[fit_end - 6 : fit_end + horizon][None]
    out = _run(path, window, [0], rows)
    _assert_close(out[0], predicted)
    # the covariates are read: other future values give other forecasts
    changed = rows.copy()
    changed[:, -horizon:, 1] = 1 - changed[:, -horizon:, 1]
    assert np.abs(_run(path, window, [0], changed) - out).max() > 1e-3


def _panel():
    frames = []
    for i, (n, level) in enumerate([(70, 20.0), (90, 500.0), (80, 3000.0)]):
        values = _series(n, level, seed=i)["sales"].to_numpy()
        index = pd.MultiIndex.from_product(
            [[f"s{i}"], range(n)], names=["store", "week"]
        )
        frames.append(pd.DataFrame({"sales": values}, index=index))
    return pd.concat(frames)


def test_one_file_forecasts_every_series_of_a_panel(tmp_path):
    y = _panel()
    forecaster = LSTMForecaster(
        **TINY, window_length=8, scaler="standard", random_state=2
    )
    forecaster.fit(y, fh=[1, 2, 3])
    predicted = forecaster.predict()
    path = tmp_path / "panel.onnx"
    sidecar = forecaster.to_onnx(path)
    assert sidecar["horizon"] == 3
    assert sidecar["series"] == [["s0"], ["s1"], ["s2"]]
    assert sidecar["series_index_names"] == ["store"]
    assert sidecar["last_index"] == [69, 89, 79]
    windows = np.stack([_window(forecaster, y.loc[key]) for key in ["s0", "s1", "s2"]])
    # rows in any order: each reads its own series' statistics
    order = [2, 0, 1]
    out = _run(path, windows[order], order)
    for row, i in enumerate(order):
        expected = predicted.loc[f"s{i}"].to_numpy()
        _assert_close(out[row], expected)
    # the same window under another series' statistics forecasts differently
    assert np.abs(_run(path, windows[:1], [1]) - out[1:2]).max() > 1e-3


def test_the_sidecar_describes_the_graph_and_the_model(tmp_path):
    forecaster = GRUForecaster(**TINY, window_length=8, random_state=0)
    y = _series()
    forecaster.fit(y, fh=[1, 2, 3, 4])
    path = tmp_path / "m.onnx"
    sidecar = export_onnx(forecaster, path)
    assert json.loads((tmp_path / "m.json").read_text()) == sidecar
    assert sidecar["format"] == "gatedforecast-onnx"
    assert sidecar["format_version"] == 1
    assert sidecar["estimator"] == "GRUForecaster"
    assert sidecar["onnx_file"] == "m.onnx"
    assert sidecar["window_length"] == 8
    assert sidecar["horizon"] == 4
    assert sidecar["strategy"] == "direct"
    assert sidecar["columns"] == ["sales"]
    assert sidecar["x_columns"] is None
    assert sidecar["series"] == [None]
    assert sidecar["series_index_names"] is None
    assert sidecar["series_scaler"] == "standard"
    assert sidecar["window_normalization"] is True
    assert sidecar["intervals"] is None
    assert sidecar["inputs"] == [
        {
            "name": "y",
            "shape": ["batch", 8, 1],
            "dtype": "float64",
            "description": "the last 8 values of each series, raw",
        },
        {
            "name": "series",
            "shape": ["batch"],
            "dtype": "int64",
            "description": "each row's position in 'series' (its scaling statistics)",
        },
    ]
    assert [o["name"] for o in sidecar["outputs"]] == ["forecast"]
    assert sidecar["outputs"][0]["shape"] == ["batch", 4, 1]
    # what onnxruntime reads agrees with the sidecar
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["y", "series"]
    assert [i.type for i in session.get_inputs()] == [
        "tensor(double)",
        "tensor(int64)",
    ]
    assert [o.name for o in session.get_outputs()] == ["forecast"]


def test_export_leaves_the_forecaster_as_it_was(tmp_path):
    y = _series()
    forecaster = GRUForecaster(**TINY, window_length=8, random_state=0)
    forecaster.fit(y, fh=[1, 2])
    before = forecaster.predict()
    weights = {k: v.clone() for k, v in forecaster.network_.state_dict().items()}
    mode = forecaster.network_.training
    forecaster.to_onnx(tmp_path / "m.onnx", horizon=9)
    pd.testing.assert_frame_equal(forecaster.predict(), before)
    for key, value in forecaster.network_.state_dict().items():
        assert torch.equal(value, weights[key])
    assert forecaster.network_.training is mode


def test_unfitted_and_unknown_objects_are_refused(tmp_path):
    # sktime's NotFittedError is a ValueError
    with pytest.raises(ValueError, match="has not been fitted yet"):
        export_onnx(GRUForecaster(), tmp_path / "m.onnx", horizon=3)
    with pytest.raises(TypeError, match="fitted GRUForecaster or LSTMForecaster"):
        export_onnx(object(), tmp_path / "m.onnx", horizon=3)
    assert not (tmp_path / "m.onnx").exists()


def test_a_horizon_is_needed_and_checked(tmp_path):
    y = _series()
    forecaster = GRUForecaster(**TINY, window_length=8, random_state=0).fit(y)
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=r"pass horizon=\.\.\."):
        export_onnx(forecaster, path)
    with pytest.raises(ValueError, match="horizon must be an int >= 1, got 0"):
        export_onnx(forecaster, path, horizon=0)
    with pytest.raises(TypeError, match="horizon must be an int >= 1, got 2.5"):
        export_onnx(forecaster, path, horizon=2.5)
    with pytest.raises(TypeError, match="horizon must be an int >= 1, got True"):
        export_onnx(forecaster, path, horizon=True)
    with pytest.raises(ValueError, match="roll-out passes"):
        export_onnx(forecaster, path, horizon=10**6)
    assert not path.exists()
    # after a predict, its fh is the default
    forecaster.predict(fh=[1, 2, 3])
    assert export_onnx(forecaster, path)["horizon"] == 3


def test_paths_that_would_lose_a_file_are_refused(tmp_path):
    forecaster = GRUForecaster(**TINY, window_length=8, random_state=0)
    forecaster.fit(_series(), fh=[1])
    with pytest.raises(ValueError, match="sidecar's suffix"):
        export_onnx(forecaster, tmp_path / "model.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(forecaster, tmp_path / "absent" / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_onnxruntime_refuses_inputs_that_do_not_fit_the_graph(tmp_path):
    forecaster = GRUForecaster(**TINY, window_length=8, random_state=0)
    y = _series()
    forecaster.fit(y, fh=[1, 2])
    path = tmp_path / "m.onnx"
    export_onnx(forecaster, path)
    window = _window(forecaster, y)[None]
    fail = ort.capi.onnxruntime_pybind11_state.InvalidArgument
    with pytest.raises(fail, match="out of data bounds"):
        _run(path, window, [1])
    with pytest.raises(fail, match="Got: 7 Expected: 8"):
        _run(path, window[:, 1:], [0])
    with pytest.raises(fail, match="expected: \\(tensor\\(double\\)\\)"):
        _session(path).run(None, {"y": window.astype(np.float32), "series": [0]})


def test_a_network_that_does_not_trace_is_refused_and_its_file_removed(tmp_path):
    forecaster = GRUForecaster(**TINY, window_length=8, random_state=0)
    forecaster.fit(_series(), fh=[1, 2])
    encoder = forecaster._engine.network.encoder

    class Branching(type(encoder)):
        def forward(self, x, generator=None, dropout=None):
            # Python control flow on the values: the trace keeps one branch
            summary = super().forward(x, generator, dropout)
            return summary if float(x[:, -1].abs().sum()) > 1 else -summary

    encoder.__class__ = Branching
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="does not trace into a fixed graph"):
        export_onnx(forecaster, path)
    assert not path.exists()
    assert not path.with_suffix(".json").exists()
    # unchecked, the file is written as traced
    export_onnx(forecaster, path, check=False)
    assert path.exists()


def test_per_series_networks_are_refused(tmp_path):
    y = _panel()
    local = GRUForecaster(**TINY, window_length=8, global_model=False)
    local.fit(y, fh=[1])
    with pytest.raises(ValueError, match="one network per series"):
        export_onnx(local, tmp_path / "m.onnx", horizon=2)


def test_importing_the_package_does_not_import_onnx():
    code = (
        # the forecasters import gatedforecast.export only inside to_onnx
        "import sys, gatedforecast, gatedforecast.export\n"
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_serving_page_runs_and_serves_without_torch(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "deploy_onnx.md"
    export, serve = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(export, "deploy_onnx.md, export", "exec"), {"__name__": "__docs__"})
    predicted = capsys.readouterr().out
    # the serving block in a fresh interpreter: torch is never imported
    check = "\nimport sys\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    served = subprocess.run(
        [sys.executable, "-c", serve + check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def numbers(text):
        return np.array(
            [float(v) for v in re.findall(r"-?\d+\.\d*(?:e[-+]?\d+)?", text)]
        )

    assert len(numbers(served)) == 12
    np.testing.assert_allclose(numbers(served), numbers(predicted), atol=0.11)
