"""Value tests for the forecasters: what sktime's own suite does not compare."""

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST
from sktime.base import load
from sktime.forecasting.base import ForecastingHorizon

from gatedforecast import GRUForecaster, LSTMForecaster

CELLS = [GRUForecaster, LSTMForecaster]


@pytest.mark.parametrize("cls", CELLS)
def test_same_seed_gives_identical_forecasts_without_touching_global_rng(cls, airline):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002 (the global state is the point)
    first = cls(**FAST, window_length=12, dropout=0.2, random_state=0)
    second = cls(**FAST, window_length=12, dropout=0.2, random_state=0)
    a = first.fit(airline, fh=[1, 2, 3]).predict()
    b = second.fit(airline, fh=[1, 2, 3]).predict()
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    other = cls(**FAST, window_length=12, dropout=0.2, random_state=1)
    c = other.fit(airline, fh=[1, 2, 3]).predict()
    assert not np.allclose(a.to_numpy(), c.to_numpy())


@pytest.mark.parametrize("cls", CELLS)
def test_subset_of_fh_equals_same_steps_of_full_fh(cls, airline):
    forecaster = cls(**FAST, window_length=12, random_state=0).fit(airline, fh=[2, 5])
    subset = forecaster.predict(fh=[2, 5])
    full = forecaster.predict(fh=[1, 2, 3, 4, 5])
    np.testing.assert_allclose(subset.to_numpy(), full.iloc[[1, 4]].to_numpy())
    assert list(subset.index) == list(full.index[[1, 4]])
    assert forecaster.horizon_ == 5


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_horizon_longer_than_head_is_rolled_out(strategy, airline):
    forecaster = GRUForecaster(
        **FAST, window_length=12, strategy=strategy, random_state=0
    )
    forecaster.fit(airline, fh=[1, 2, 3])
    short = forecaster.predict(fh=[1, 2, 3])
    long = forecaster.predict(fh=range(1, 11))
    assert len(long) == 10
    assert np.isfinite(long.to_numpy()).all()
    np.testing.assert_allclose(long.iloc[:3].to_numpy(), short.to_numpy())
    assert forecaster.horizon_ == (3 if strategy == "direct" else 1)


def test_absolute_and_relative_fh_agree(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0).fit(airline)
    relative = forecaster.predict(fh=[1, 2, 3])
    absolute = forecaster.predict(
        fh=ForecastingHorizon(relative.index, is_relative=False)
    )
    pd.testing.assert_series_equal(relative, absolute)
    expected = ForecastingHorizon([1, 2, 3]).to_absolute_index(forecaster.cutoff)
    assert relative.index.equals(expected)


def test_fh_only_in_predict(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0).fit(airline)
    assert forecaster.horizon_ == 1
    assert len(forecaster.predict(fh=[1, 6, 12])) == 3


@pytest.mark.parametrize(
    "cls", [pytest.param(GRUForecaster, marks=pytest.mark.slow), LSTMForecaster]
)
def test_learns_a_noiseless_sine_far_better_than_naive(cls, sine):
    train, test = sine.iloc[:-12], sine.iloc[-12:]
    forecaster = cls(
        window_length=24,
        hidden_sizes=32,
        max_epochs=60,
        batch_size=16,
        learning_rate=5e-3,
        device="cpu",
        random_state=0,
    )
    forecaster.fit(train, fh=range(1, 13))
    mae = np.abs(forecaster.predict().to_numpy() - test.to_numpy()).mean()
    naive_mae = np.abs(train.iloc[-1] - test.to_numpy()).mean()
    assert mae < naive_mae / 10


def test_multivariate_columns_are_modelled_jointly_and_kept(airline):
    y = pd.DataFrame(
        {"a": airline.to_numpy(), "b": np.log(airline.to_numpy())}, index=airline.index
    )
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    y_pred = forecaster.fit(y, fh=[1, 2]).predict()
    assert list(y_pred.columns) == ["a", "b"]
    assert y_pred.shape == (2, 2)
    assert forecaster.network_.head.out_features == 2 * 2


def test_update_without_training_moves_the_context_only(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.fit(airline.iloc[:100], fh=[1, 2, 3])
    weights = copy.deepcopy(forecaster.network_.state_dict())
    before = forecaster.predict()
    forecaster.update(airline.iloc[100:110], update_params=False)
    after = forecaster.predict()
    for name, value in forecaster.network_.state_dict().items():
        assert torch.equal(value, weights[name])
    assert after.index[0] == airline.index[110]
    assert not np.allclose(before.to_numpy(), after.to_numpy())
    # the same network on the same last window gives the same forecast as a
    # forecaster whose context is that window, with the network copied over
    refit = GRUForecaster(**FAST, window_length=12, random_state=0)
    refit.fit(airline.iloc[:100], fh=[1, 2, 3])
    refit.update(airline.iloc[100:105], update_params=False)
    refit.update(airline.iloc[105:110], update_params=False)
    np.testing.assert_allclose(refit.predict().to_numpy(), after.to_numpy())


def test_update_with_one_point_continues_training(airline):
    forecaster = GRUForecaster(
        **FAST, window_length=12, update_epochs=2, random_state=0
    )
    forecaster.fit(airline.iloc[:-1], fh=[1, 2, 3])
    weights = copy.deepcopy(forecaster.network_.state_dict())
    forecaster.update(airline.iloc[-1:], update_params=True)
    changed = any(
        not torch.equal(value, weights[name])
        for name, value in forecaster.network_.state_dict().items()
    )
    assert changed
    assert forecaster.n_epochs_ == 5
    assert list(forecaster.history_["epoch"]) == [1, 2, 3, 4, 5]
    assert forecaster.predict().index[0] == airline.index[-1] + 1


def test_pickle_deepcopy_and_sktime_save_keep_the_weights(airline, tmp_path):
    forecaster = LSTMForecaster(**FAST, window_length=12, random_state=0)
    expected = forecaster.fit(airline, fh=[1, 2, 3]).predict()
    forecaster.save(tmp_path / "model")
    for clone in (
        load(str(tmp_path / "model")),
        pickle.loads(pickle.dumps(forecaster)),
        copy.deepcopy(forecaster),
        load(forecaster.save()),
    ):
        pd.testing.assert_series_equal(clone.predict(), expected)


def test_unpickled_in_a_fresh_process_predicts_the_same(airline, tmp_path):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    expected = forecaster.fit(airline, fh=[1, 2, 3]).predict()
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(forecaster))
    code = (
        "import pickle, sys; f = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "print(repr(f.predict().to_numpy().tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert eval(out.stdout) == expected.to_numpy().tolist()


def test_network_is_kept_on_the_cpu_and_a_gpu_model_predicts_on_cpu(
    airline, monkeypatch
):
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    expected = forecaster.fit(airline, fh=[1, 2]).predict()
    assert all(p.device.type == "cpu" for p in forecaster.network_.parameters())
    # a model trained on a GPU carries device_=cuda; where CUDA is gone (as it is
    # made to be here, on any machine) it predicts on the CPU
    moved = copy.deepcopy(forecaster)
    moved.device_ = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    pd.testing.assert_series_equal(moved.predict(), expected)


def test_verbose_zero_is_silent_and_verbose_one_shows_progress(
    airline, capsys, recwarn
):
    GRUForecaster(**FAST, window_length=12, verbose=0).fit(airline, fh=[1]).predict()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert len(recwarn) == 0
    GRUForecaster(**FAST, window_length=12, verbose=1).fit(airline, fh=[1])
    captured = capsys.readouterr()
    assert "epoch" in captured.err
    assert "loss" in captured.err


def test_per_layer_sizes_build_the_keras_recipe(airline):
    forecaster = GRUForecaster(
        window_length=24,
        hidden_sizes=(16, 8),
        max_epochs=1,
        device="cpu",
        ensemble_size=1,
    ).fit(airline, fh=range(1, 13))
    layers = forecaster.network_.encoder.layers
    assert [layer.hidden_size for layer in layers] == [16, 8]
    assert forecaster.network_.head.in_features == 8
    assert forecaster.predict().shape == (12,)


def test_bidirectional_doubles_the_summary(airline):
    forecaster = LSTMForecaster(**FAST, window_length=12, bidirectional=True)
    forecaster.fit(airline, fh=[1])
    assert forecaster.network_.head.in_features == 2 * 8
    assert np.isfinite(forecaster.predict().to_numpy()).all()


@pytest.mark.parametrize("cls", CELLS)
def test_attention_adds_the_attention_layers_and_forecasts(cls, airline):
    params = {**FAST, "window_length": 12, "random_state": 0, "ensemble_size": 1}
    plain = cls(**params).fit(airline, fh=[1, 2, 3])
    attention = cls(**params, attention=True).fit(airline, fh=[1, 2, 3])
    cell = cls.__name__[: -len("Forecaster")].lower()
    assert attention.network_.encoder.cell == f"{cell}+attention"
    # W_q (8 x 8) and W_c, b (8 x 16, 8) beside the plain cell's weights
    assert attention.n_parameters_ == plain.n_parameters_ + 3 * 8**2 + 8
    y_pred = attention.predict()
    assert y_pred.between(300, 700).all()
    assert not np.allclose(y_pred.to_numpy(), plain.predict().to_numpy())
    interval = attention.predict_interval(coverage=0.9)
    assert (interval.iloc[:, 0] <= y_pred).all()
    assert (y_pred <= interval.iloc[:, 1]).all()


@pytest.mark.parametrize(
    ("scaler", "baseline"),
    [("window", "last"), ("standard", None), ("robust", "seasonal"), (None, "last")],
)
def test_every_scaler_and_baseline_forecasts_the_right_level(airline, scaler, baseline):
    forecaster = GRUForecaster(
        **FAST,
        window_length=24,
        scaler=scaler,
        baseline=baseline,
        seasonal_period=12,
        random_state=0,
    )
    y_pred = forecaster.fit(airline.iloc[:-12], fh=range(1, 13)).predict()
    # every combination lands in the data's range, so the scaling is inverted
    assert y_pred.between(100, 900).all()


def test_n_threads_limits_torch_during_fit_and_predict_only(airline):
    import torch

    seen = []

    class Recording(torch.nn.L1Loss):
        def forward(self, prediction, target):
            seen.append(torch.get_num_threads())
            return super().forward(prediction, target)

    before = torch.get_num_threads()
    forecaster = GRUForecaster(**FAST, window_length=12, loss=Recording, n_threads=2)
    forecaster.fit(airline, fh=[1]).predict()
    assert set(seen) == {2}
    assert torch.get_num_threads() == before
