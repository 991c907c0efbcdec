"""A fixed relation between X and y is learned at the defaults, whatever the
window scaling and baseline: the covariate effect is added in the series' units."""

import numpy as np
import pandas as pd
import pytest
import torch

from gatedforecast import GRUForecaster, LSTMForecaster, load_model
from gatedforecast.engine import _Setup
from gatedforecast.engine.effect import start_effect
from gatedforecast.networks import ForecastNetwork
from gatedforecast.scaling import WindowTransform

FH = list(range(1, 6))


def _three_times_x(seed, n=400):
    """The issue's case: y_t = 3 x_t, x i.i.d. normal, daily; 5 future steps."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n + 5, freq="D")
    x = rng.normal(size=n + 5)
    X = pd.DataFrame({"x": x}, index=index)
    y = pd.Series(3 * x, index=index, name="y")
    return y.iloc[:n], X.iloc[:n], y.iloc[n:], X.iloc[n:]


def _errors(cls, strategy, seed, **params):
    """MAE of the defaults (``params`` aside) with X and without it."""
    y, X, y_test, X_test = _three_times_x(seed)
    settings = dict(window_length=8, strategy=strategy, random_state=seed)
    settings.update(device="cpu", **params)
    with_x = cls(**settings).fit(y, X=X, fh=FH)
    without_x = cls(**settings).fit(y, fh=FH)
    error_with = np.abs(with_x.predict(X=X_test).to_numpy().ravel() - y_test).mean()
    error_without = np.abs(without_x.predict().to_numpy().ravel() - y_test).mean()
    return error_with, error_without


def test_three_times_x_is_learned_at_the_defaults_in_a_few_epochs():
    error_with, error_without = _errors(GRUForecaster, "recursive", 0, max_epochs=3)
    assert error_without > 1.0
    assert error_with < 0.1 * error_without


@pytest.mark.slow
@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
@pytest.mark.parametrize("strategy", ["direct", "recursive"])
@pytest.mark.parametrize("seed", [0, 1])
def test_three_times_x_is_learned_for_both_cells_and_strategies(cls, strategy, seed):
    # the settings: 400 points, window_length=8, max_epochs=60, fh=1..5
    error_with, error_without = _errors(cls, strategy, seed, max_epochs=60)
    assert error_with < 0.1 * error_without


@pytest.mark.parametrize(
    ("scaler", "baseline"), [("window", "last"), ("standard", "last"), (None, None)]
)
def test_the_relation_is_learned_whatever_the_scaling_and_baseline(scaler, baseline):
    y, X, y_test, X_test = _three_times_x(1, n=200)
    y, y_test = y + 50.0, y_test + 50.0
    forecaster = GRUForecaster(
        window_length=8,
        hidden_sizes=8,
        max_epochs=2,
        scaler=scaler,
        baseline=baseline,
        device="cpu",
        random_state=0,
    ).fit(y, X=X, fh=FH)
    error = np.abs(forecaster.predict(X=X_test).to_numpy().ravel() - y_test).mean()
    # the spread of y is 3: the relation, not the network, makes the forecast
    assert error < 0.1


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("baseline", ["last", "seasonal", None])
def test_the_offset_adds_the_effect_in_the_series_units(normalize, baseline):
    transform = WindowTransform(normalize, baseline, 3, horizon=4, n_targets=1)
    generator = torch.Generator().manual_seed(0)
    window = torch.randn(5, 6, 2, generator=generator) * 4 + 7
    effect_window = torch.randn(5, 6, 1, generator=generator)
    effect_future = torch.randn(5, 4, 1, generator=generator)
    output = torch.randn(5, 4, 1, generator=generator)
    _, context = transform.inputs(window)
    offset = transform.covariate_offset(effect_window, effect_future, context)
    got = transform.invert(output + offset, context)
    # the baseline of the residual y - effect, plus the effect of each step
    residual = window[..., :1] - effect_window
    _, residual_context = transform.inputs(residual)
    # in the spread of y's window
    expected = residual_context[0] + output * context[1] + effect_future
    torch.testing.assert_close(got, expected)


def test_a_network_without_covariates_has_no_effect_and_keeps_its_weights():
    plain = ForecastNetwork(1, 1, 3, (4,), covariate_effect=16)
    assert plain.effect is None
    assert plain.covariate_effect == 0
    with_x = ForecastNetwork(2, 1, 3, (4,), n_future=1, covariate_effect=16)
    extra = sum(p.numel() for p in with_x.effect.parameters())
    assert extra == 1 + (16 + 16) + 16
    # the effect is drawn after the encoder and head, which keep their draws
    a = ForecastNetwork(2, 1, 3, (4,), n_future=1).initialize(
        torch.Generator().manual_seed(0)
    )
    b = with_x.initialize(torch.Generator().manual_seed(0))
    for name, value in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[name], value)
    # and starts at zero
    x = torch.randn(7, 1)
    assert torch.equal(b.effect(x), torch.zeros(7, 1))


def test_the_effect_starts_at_the_least_squares_relation():
    network = ForecastNetwork(2, 1, 2, (4,), n_future=1, covariate_effect=4)
    network.initialize(torch.Generator().manual_seed(0))
    x = np.random.default_rng(0).normal(size=60)
    setup = _Setup(
        window_length=5,
        horizon=2,
        transform=WindowTransform(True, "last", None, horizon=2, n_targets=1),
        scaler_method="standard",
        columns=["y"],
        x_columns=["x"],
    )
    start_effect(network, [np.column_stack([-2.0 * x, x])], setup)
    # the constant of an effect cancels against the baseline: compare changes
    got = network.effect(torch.tensor([[1.0], [-0.5]])) - network.effect.forward(
        torch.zeros(1, 1)
    )
    torch.testing.assert_close(got, torch.tensor([[-2.0], [1.0]]), atol=1e-3, rtol=0)
    # the network starts from the baseline plus the effect: nothing else remains
    assert torch.equal(network.head.weight, torch.zeros_like(network.head.weight))
    torch.testing.assert_close(
        network.head.bias, torch.zeros_like(network.head.bias), atol=1e-6, rtol=0
    )


def test_a_saved_forecaster_with_x_predicts_the_same(tmp_path):
    y, X, _, X_test = _three_times_x(0, n=120)
    forecaster = GRUForecaster(
        window_length=8, hidden_sizes=4, max_epochs=2, device="cpu", random_state=0
    ).fit(y, X=X, fh=FH)
    assert forecaster.network_.covariate_effect > 0
    forecaster.save_model(tmp_path / "x.gfm")
    loaded = load_model(tmp_path / "x.gfm")
    pd.testing.assert_frame_equal(
        pd.DataFrame(loaded.predict(X=X_test)),
        pd.DataFrame(forecaster.predict(X=X_test)),
    )
    assert loaded.n_parameters_ == forecaster.n_parameters_


def test_a_simple_nonlinear_relation_is_learned():
    rng = np.random.default_rng(0)
    index = pd.date_range("2020-01-01", periods=205, freq="D")
    x = rng.normal(size=205)
    X = pd.DataFrame({"x": x}, index=index)
    y = pd.Series(x**2, index=index, name="y")
    params = dict(window_length=8, hidden_sizes=8, max_epochs=3, device="cpu")
    fitted = GRUForecaster(**params, random_state=0).fit(y[:200], X=X[:200], fh=FH)
    alone = GRUForecaster(**params, random_state=0).fit(y[:200], fh=FH)
    error_with = np.abs(fitted.predict(X=X[200:]).to_numpy().ravel() - y[200:]).mean()
    error_without = np.abs(alone.predict().to_numpy().ravel() - y[200:]).mean()
    assert error_with < 0.1 * error_without
