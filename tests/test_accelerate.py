"""Accelerator options (``mixed_precision``, ``torch_compile``): no effect and one
warning off CUDA, autocast, loss scaling and compilation where they act, clear
errors for bad values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from gatedforecast import GRUForecaster, GRURegressor, LSTMForecaster, accelerate
from gatedforecast.accelerate import Accelerator
from gatedforecast.persistence import load_model, save_model

SMALL = dict(hidden_sizes=(6,), max_epochs=3, ensemble_size=1, random_state=0)


def _series(n: int = 90) -> pd.Series:
    t = np.arange(n)
    return pd.Series(10 + np.sin(2 * np.pi * t / 12) + 0.01 * t, name="y")


@pytest.fixture
def cpu_accelerated(monkeypatch):
    """Let the options act on the CPU, as they do on CUDA (compiling with the
    eager backend, which traces the network without generating code)."""
    monkeypatch.setattr(accelerate, "ACCELERATED_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(accelerate, "COMPILE_OPTIONS", {"backend": "eager"})


@pytest.mark.parametrize(
    "options",
    [
        {"mixed_precision": "bf16"},
        {"mixed_precision": "fp16", "torch_compile": True},
    ],
)
def test_off_cuda_the_options_warn_once_and_change_nothing(options):
    y = _series()
    plain = GRUForecaster(**SMALL, device="cpu").fit(y, fh=[1, 2, 3]).predict()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecaster = GRUForecaster(**SMALL, device="cpu", **options)
        forecaster.fit(y, fh=[1, 2, 3])
    messages = [str(w.message) for w in caught if "CUDA devices only" in str(w.message)]
    assert len(messages) == 1
    for name, value in options.items():
        assert f"{name}={value!r}" in messages[0]
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(forecaster.predict().to_numpy(), plain.to_numpy())


def test_default_options_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRURegressor(hidden_sizes=(4,), max_epochs=1, random_state=0).fit(
            np.random.default_rng(0).random((20, 5, 1)), np.arange(20.0)
        )


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"mixed_precision": "fp32"}, ValueError, "mixed_precision='fp32'"),
        ({"mixed_precision": "bf16 "}, ValueError, "'bf16', 'fp16', None"),
        ({"torch_compile": "yes"}, TypeError, "torch_compile"),
    ],
)
def test_bad_values_are_clear_errors(params, error, match):
    with pytest.raises(error, match=match):
        GRUForecaster(**SMALL, **params).fit(_series(), fh=[1])


# oneDNN's CPU LSTM has no float16 kernel, so the float16 case uses the GRU
@pytest.mark.parametrize(
    ("estimator", "precision"), [(LSTMForecaster, "bf16"), (GRUForecaster, "fp16")]
)
def test_mixed_precision_trains_the_forward_pass_in_the_low_dtype(
    cpu_accelerated, estimator, precision
):
    seen = []
    original = torch.nn.Linear.forward

    def record(self, x):
        out = original(self, x)
        if torch.is_grad_enabled():
            seen.append(out.dtype)
        return out

    forecaster = estimator(**SMALL, device="cpu", mixed_precision=precision)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.nn.Linear, "forward", record)
        forecaster.fit(_series(), fh=[1, 2, 3])
    assert set(seen) == {accelerate.MIXED_PRECISION[precision]}
    # weights and forecasts stay float32, and close to a float32 fit's
    assert all(p.dtype == torch.float32 for p in forecaster.network_.parameters())
    mixed = forecaster.predict().to_numpy()
    plain = estimator(**SMALL, device="cpu").fit(_series(), fh=[1, 2, 3]).predict()
    assert mixed.dtype == np.float64
    assert np.isfinite(mixed).all()
    np.testing.assert_allclose(mixed, plain.to_numpy(), rtol=0.05)


def test_fp16_scales_the_loss_and_unscales_before_the_step(cpu_accelerated):
    layer = torch.nn.Linear(3, 1)
    x = torch.randn(8, 3)
    expected = torch.autograd.grad(layer(x).pow(2).mean(), layer.weight)[0]
    accelerator = Accelerator(torch.device("cpu"), "fp16", False)
    assert accelerator.scaler is not None
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.0)
    accelerator.backward(layer(x).pow(2).mean())
    scale = accelerator.scaler.get_scale()
    assert scale > 1
    torch.testing.assert_close(layer.weight.grad, expected * scale)
    accelerator.unscale(optimizer)
    torch.testing.assert_close(layer.weight.grad, expected)
    accelerator.step(optimizer)


def test_bf16_needs_no_loss_scaling(cpu_accelerated):
    assert Accelerator(torch.device("cpu"), "bf16", False).scaler is None


@pytest.mark.parametrize("ensemble_size", [1, 2])
def test_torch_compile_trains_the_compiled_forward_to_the_same_forecasts(
    cpu_accelerated, monkeypatch, ensemble_size
):
    compiled = []
    compile_ = torch.compile

    def counting(model, **options):
        compiled.append(options)
        return compile_(model, **options)

    monkeypatch.setattr(torch, "compile", counting)
    params = {**SMALL, "ensemble_size": ensemble_size, "validation_size": 0.2}
    y = _series()
    plain = GRUForecaster(**params).fit(y, fh=[1, 2, 3]).predict()
    forecaster = GRUForecaster(**params, torch_compile=True).fit(y, fh=[1, 2, 3])
    assert compiled
    assert all(o == {"backend": "eager"} for o in compiled)
    np.testing.assert_allclose(
        forecaster.predict().to_numpy(), plain.to_numpy(), rtol=1e-5
    )


def test_model_files_keep_the_options(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster = GRUForecaster(
            **SMALL, mixed_precision="bf16", torch_compile=True
        ).fit(_series(), fh=[1, 2])
    path = save_model(forecaster, tmp_path / "model")
    loaded = load_model(path)
    assert loaded.get_params()["mixed_precision"] == "bf16"
    assert loaded.get_params()["torch_compile"] is True
    np.testing.assert_array_equal(loaded.predict(), forecaster.predict())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "options", [{"mixed_precision": "bf16"}, {"torch_compile": True}]
)
def test_on_cuda_the_options_forecast_close_to_float32(options):
    y = _series()
    plain = GRUForecaster(**SMALL, device="cuda").fit(y, fh=[1, 2, 3]).predict()
    fast = GRUForecaster(**SMALL, device="cuda", **options).fit(y, fh=[1, 2, 3])
    np.testing.assert_allclose(fast.predict().to_numpy(), plain.to_numpy(), rtol=0.05)
