"""Ensembles of networks trained as one batched model (``ensemble_size``)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gatedforecast import (
    GRUForecaster,
    GRURegressor,
    LSTMForecaster,
    LSTMRegressor,
    load_model,
)
from gatedforecast.accelerate import Accelerator
from gatedforecast.engine import resolve_ensemble_size
from gatedforecast.engine.setup import AUTO_ENSEMBLE_SIZE, SMALL_DATA_BATCHES
from gatedforecast.networks import (
    ENCODERS,
    ForecastNetwork,
    StackedRNN,
    register_encoder,
)
from gatedforecast.training import _clip, _member_step

REFERENCE = Path(__file__).parent / "reference_models"


def _singles_and_ensemble(cell, k=3, **options):
    arguments = dict(n_inputs=2, n_targets=1, horizon=3, hidden_sizes=(5, 4), cell=cell)
    arguments.update(options)
    generator = torch.Generator().manual_seed(0)
    singles = [ForecastNetwork(**arguments).initialize(generator) for _ in range(k)]
    ensemble = ForecastNetwork(**arguments, n_members=k).initialize(
        torch.Generator().manual_seed(0)
    )
    return singles, ensemble


@pytest.mark.parametrize("cell", ["gru", "lstm", "gru+attention", "lstm+attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_members_compute_what_single_networks_drawn_in_turn_compute(
    cell, bidirectional
):
    singles, ensemble = _singles_and_ensemble(
        cell, bidirectional=bidirectional, n_future=1
    )
    x, future = torch.randn(7, 10, 2), torch.randn(7, 3, 1)
    expected = torch.stack([net(x, future) for net in singles])
    members = ensemble(x, future, members=True)
    assert members.shape == (3, 7, 3, 1)
    torch.testing.assert_close(members, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        ensemble(x, future), expected.median(dim=0).values, rtol=1e-5, atol=1e-5
    )


def test_even_ensemble_combines_by_the_mean_of_the_middle_members():
    singles, ensemble = _singles_and_ensemble("gru", k=4)
    x = torch.randn(5, 6, 2)
    ordered = torch.stack([net(x) for net in singles]).sort(dim=0).values
    torch.testing.assert_close(
        ensemble(x), (ordered[1] + ordered[2]) / 2, rtol=1e-5, atol=1e-5
    )


def test_quantile_members_combine_into_ordered_quantiles():
    _, ensemble = _singles_and_ensemble("lstm", n_quantiles=3)
    out = ensemble(torch.randn(9, 6, 2))
    assert out.shape == (9, 3, 1, 3)
    assert bool((out.diff(dim=-1) >= 0).all())


def test_members_train_as_independently_as_single_networks():
    """One step of the ensemble moves each member as one step of the single
    network moves it: the losses are summed, and the gradients clipped member by
    member (a small limit makes the clipping act)."""
    singles, ensemble = _singles_and_ensemble("gru", k=2)
    x, y = torch.randn(8, 10, 2), torch.randn(8, 3, 1)
    loss_fn = torch.nn.L1Loss()
    for net in singles:
        net.zero_grad()
        loss_fn(net(x), y).backward()
        _clip(net, 0.05)
        with torch.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
    ensemble.zero_grad()
    plain = Accelerator(torch.device("cpu"), None, False)
    _, _, loss = _member_step(ensemble, x, y, loss_fn, None, plain)
    _clip(ensemble, 0.05)
    with torch.no_grad():
        for p in ensemble.parameters():
            p -= 0.1 * p.grad
    expected = torch.stack([net(x) for net in singles])
    torch.testing.assert_close(
        ensemble(x, members=True), expected, rtol=1e-5, atol=1e-5
    )
    assert loss.ndim == 0


def test_custom_encoder_ensemble_is_refused_with_the_fix():
    register_encoder("plain_again", lambda *a, **k: StackedRNN(*a, cell="gru", **k))
    try:
        with pytest.raises(ValueError, match="ensemble_size=1"):
            ForecastNetwork(1, 1, 2, (3,), cell="plain_again", n_members=2)
    finally:
        del ENCODERS["plain_again"]


def _airline_like(n=72):
    t = np.arange(n)
    values = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    return pd.Series(values, index=pd.period_range("2000-01", periods=n, freq="M"))


@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_ensemble_forecaster_fits_predicts_updates_and_round_trips(cls, tmp_path):
    y = _airline_like()
    settings = dict(hidden_sizes=4, max_epochs=3, random_state=0, ensemble_size=3)
    forecaster = cls(**settings).fit(y[:-6], fh=[1, 2, 3])
    point = forecaster.predict()
    bands = forecaster.predict_interval(coverage=0.8)
    assert np.isfinite(point.to_numpy()).all()
    lower, upper = bands.to_numpy().T
    assert (lower <= point.to_numpy()).all()
    assert (point.to_numpy() <= upper).all()
    assert (
        forecaster.n_parameters_
        == 3
        * cls(**{**settings, "ensemble_size": 1})
        .fit(y[:-6], fh=[1, 2, 3])
        .n_parameters_
    )
    path = forecaster.save_model(tmp_path / "ensemble.gfm")
    loaded = load_model(path)
    assert loaded.get_params()["ensemble_size"] == 3
    pd.testing.assert_frame_equal(loaded.predict_interval(coverage=0.8), bands)
    forecaster.update(y[-6:-3])
    assert forecaster.predict().index[0] == y.index[-3]


def test_ensemble_forecast_is_the_median_of_its_members_forecasts():
    """The median of the members is taken before the inverse scaling, which is
    increasing in the scaled value: the forecast equals the median of the members'
    own forecasts."""
    y = _airline_like()
    forecaster = GRUForecaster(
        hidden_sizes=4,
        max_epochs=2,
        random_state=0,
        ensemble_size=3,
        interval_method=None,
    ).fit(y, fh=[1, 2])
    network = forecaster._engine.network
    member_forecasts = []
    for member in range(3):
        single = copy.deepcopy(forecaster)
        ensemble = single._engine.network
        lone = ForecastNetwork(**ensemble._arguments)
        with torch.no_grad():
            enc, head = ensemble.encoder.weights, ensemble.head
            for i, layer in enumerate(lone.encoder.layers):
                layer.weight_ih_l0.copy_(enc[f"ih{i}"][member].T)
                layer.bias_ih_l0.copy_(enc[f"bih{i}"][member])
                layer.weight_hh_l0.copy_(enc[f"hh{i}"][member].T)
                layer.bias_hh_l0.copy_(enc[f"bhh{i}"][member])
            lone.head.weight.copy_(head.weight[member].T)
            lone.head.bias.copy_(head.bias[member])
        single._engine.network = lone
        member_forecasts.append(single.predict().to_numpy())
    assert network.n_members == 3
    np.testing.assert_allclose(
        forecaster.predict().to_numpy(),
        np.median(member_forecasts, axis=0),
        rtol=1e-5,
    )


def test_regressor_ensemble_and_warm_start_check():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), rng.normal(size=40)
    reg = GRURegressor(hidden_sizes=3, max_epochs=2, ensemble_size=2, random_state=0)
    reg.fit(X, y)
    assert reg.predict(X).shape == (40,)
    reg.set_params(warm_start=True, ensemble_size=3)
    with pytest.raises(ValueError, match="ensemble_size"):
        reg.fit(X, y)


def test_model_files_written_before_ensembles_load_as_single_networks():
    """A file that does not state ensemble_size was fitted with one network,
    whatever today's default is."""
    loaded = load_model(REFERENCE / "gru_forecaster.gfm")
    assert loaded.get_params()["ensemble_size"] == 1


def test_pretrained_ensemble_refuses_another_ensemble_size():
    series = _airline_like(48).reset_index(drop=True).rename("y")
    panel = pd.concat(
        {f"s{i}": (series + i).to_frame() for i in range(3)}, names=["id", "time"]
    )
    forecaster = GRUForecaster(
        hidden_sizes=3,
        max_epochs=1,
        random_state=0,
        ensemble_size=2,
        interval_method=None,
    )
    forecaster.pretrain(panel, fh=[1, 2])
    # set_params would reset the pretrained state; an attribute write keeps it
    forecaster.ensemble_size = 1
    with pytest.raises(ValueError, match="ensemble of 2 network"):
        forecaster.fit(_airline_like(48).reset_index(drop=True), fh=[1, 2])


def test_auto_ensemble_size_is_several_networks_on_small_data_and_one_on_large():
    """A full pass over the training windows in at most SMALL_DATA_BATCHES
    batches makes the data small."""
    small_n = SMALL_DATA_BATCHES * 8
    assert resolve_ensemble_size("auto", small_n, 8) == AUTO_ENSEMBLE_SIZE
    assert resolve_ensemble_size("auto", small_n + 1, 8) == 1
    assert resolve_ensemble_size(2, 10**6, 8) == 2
    y = _airline_like(60)
    short = GRUForecaster(hidden_sizes=3, max_epochs=1, random_state=0).fit(y, fh=[1])
    assert short.ensemble_size_ == AUTO_ENSEMBLE_SIZE
    assert short.get_params()["ensemble_size"] == "auto"
    # 60 - 12 windows of the default window: more than 10 batches of 4
    big = GRUForecaster(hidden_sizes=3, max_epochs=1, batch_size=4, random_state=0)
    assert big.fit(y, fh=[1]).ensemble_size_ == 1
    X, target = np.random.default_rng(0).normal(size=(30, 4)), np.arange(30.0)
    reg = LSTMRegressor(hidden_sizes=2, max_epochs=1, random_state=0).fit(X, target)
    assert reg.ensemble_size_ == AUTO_ENSEMBLE_SIZE


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_an_ensemble_learns_the_covariate_effect_too(strategy):
    """The covariate effect is one module beside the members: y = 3 x is learned
    by an ensemble as by one network."""
    rng = np.random.default_rng(0)
    index = pd.date_range("2020-01-01", periods=205, freq="D")
    X = pd.DataFrame({"x": rng.normal(size=205)}, index=index)
    y = 3 * X["x"].rename("y")
    settings = dict(
        window_length=8,
        strategy=strategy,
        max_epochs=3,
        random_state=0,
        ensemble_size=3,
        hidden_sizes=8,
    )
    with_x = GRUForecaster(**settings).fit(y[:200], X=X[:200], fh=[1, 2, 3])
    without_x = GRUForecaster(**settings).fit(y[:200], fh=[1, 2, 3])
    assert with_x.ensemble_size_ == 3
    truth = y[200:203].to_numpy()
    error_with = np.abs(with_x.predict(X=X[200:]).to_numpy().ravel() - truth).mean()
    error_without = np.abs(without_x.predict().to_numpy().ravel() - truth).mean()
    assert error_with < 0.1 * error_without


def test_window_count_is_the_number_of_windows_build_cuts():
    """What ensemble_size='auto' counts is what training cuts."""
    from gatedforecast.windows import WindowIndex

    for lengths in ([10, 3, 7], [5], [], [2, 2]):
        built = WindowIndex.build(lengths, 3, 2)
        assert WindowIndex.count(lengths, 3, 2) == len(built)
