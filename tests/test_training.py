"""The shared training loop: validation split, early stopping, schedules, clipping,
divergence, interruption, history and continued training."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST
from sktime.exceptions import NotFittedError

from gatedforecast import GRUForecaster, LSTMForecaster, TrainingDivergedError
from gatedforecast.callbacks import (
    Callback,
    DivergenceCheck,
    EarlyStopping,
    History,
    LRSchedule,
    ProgressBar,
    default_callbacks,
)
from gatedforecast.networks import ForecastNetwork
from gatedforecast.training import Batches, TrainingConfig, train_network
from gatedforecast.windows import WindowIndex


def test_validation_windows_are_the_last_ones_and_never_overlap_training_targets():
    index = WindowIndex.build([20], window_length=5, horizon=3)
    assert index.starts.tolist() == list(range(13))
    train, val = index.split_validation(2)
    assert val.tolist() == [11, 12]
    # training targets end at start + 5 + 3 - 1, before the first validation target
    assert train.tolist() == list(range(9))
    assert train.max() + 5 + 3 - 1 < val.min() + 5
    train, val = index.split_validation(0.2)
    assert val.tolist() == [10, 11, 12]
    assert train.tolist() == list(range(8))


def test_validation_is_split_per_series_in_a_panel():
    index = WindowIndex.build([10, 12], window_length=3, horizon=2)
    train, val = index.split_validation(1)
    # series 0 has starts 0..5, series 1 starts at offset 10 with 10..17
    assert val.tolist() == [5, 17]
    assert train.tolist() == [0, 1, 2, 3, 10, 11, 12, 13, 14, 15]


def test_validation_size_leaving_no_training_window_is_a_clear_error(airline):
    forecaster = GRUForecaster(**FAST, window_length=12, validation_size=500)
    with pytest.raises(ValueError, match="leaves no training window"):
        forecaster.fit(airline, fh=[1])


class ScriptedLoss:
    """A loss whose validation values follow a script; snapshots the weights at
    each validation so tests can see which epoch was restored."""

    def __init__(self, network, script):
        self.network = network
        self.script = list(script)
        self.snapshots = []

    def __call__(self, prediction, target):
        real = torch.mean((prediction - target) ** 2)
        if torch.is_grad_enabled():
            return real
        epoch = len(self.snapshots)
        self.snapshots.append(
            {k: v.clone() for k, v in self.network.state_dict().items()}
        )
        return real * 0 + self.script[epoch]


def _problem(n=64):
    generator = torch.Generator().manual_seed(0)
    network = ForecastNetwork(1, 1, 1, (4,), "gru").initialize(generator)
    inputs = torch.randn(n, 6, 1, generator=generator)
    targets = inputs[:, -1:, :] * 0.5
    batches = Batches(
        make=lambda items: (inputs[items], targets[items]),
        train=torch.arange(n - 16),
        validation=torch.arange(n - 16, n),
    )
    return network, batches, generator


def test_early_stopping_stops_at_the_expected_epoch_and_restores_the_best_weights():
    network, batches, generator = _problem()
    script = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 1.0]
    loss = ScriptedLoss(network, script)
    config = TrainingConfig(loss=loss, batch_size=16, max_epochs=8, patience=3)
    result = train_network(network, batches, config, generator)
    assert result.n_epochs == 6  # epochs 4, 5, 6 bring no improvement on 3.0
    assert result.best_epoch == 3
    np.testing.assert_allclose(result.history["val_loss"], script[:6], rtol=1e-6)
    for name, value in network.state_dict().items():
        assert torch.equal(value, loss.snapshots[2][name])


def test_min_delta_ignores_tiny_improvements():
    network, batches, generator = _problem()
    loss = ScriptedLoss(network, [5.0, 4.99, 4.98, 4.97, 1.0])
    config = TrainingConfig(
        loss=loss, batch_size=16, max_epochs=5, patience=2, min_delta=0.1
    )
    result = train_network(network, batches, config, generator)
    assert result.n_epochs == 3
    assert result.best_epoch == 1


class TrainingLossOffset:
    """Adds ``offsets[epoch]`` to the training loss (not to its gradient), so the
    training-loss curve is scripted while the weights train as usual."""

    def __init__(self, offsets, steps_per_epoch):
        self.offsets = list(offsets)
        self.steps_per_epoch = steps_per_epoch
        self.calls = 0

    def __call__(self, prediction, target):
        real = torch.mean((prediction - target) ** 2)
        epoch = self.calls // self.steps_per_epoch
        self.calls += 1
        return real + self.offsets[epoch]


def _train_without_validation(max_epochs=4, **settings):
    network, batches, generator = _problem()
    batches.validation = torch.arange(0)
    # 48 training windows in batches of 16: three steps per epoch
    loss = TrainingLossOffset([0.0, -5.0, 10.0, 10.0], steps_per_epoch=3)
    config = TrainingConfig(loss=loss, batch_size=16, max_epochs=max_epochs, **settings)
    return network, train_network(network, batches, config, generator)


def test_a_fixed_epoch_run_keeps_its_last_weights_though_an_earlier_loss_was_lower():
    network, result = _train_without_validation()
    assert result.best_epoch == 2
    assert result.n_epochs == 4
    last, _ = _train_without_validation(restore_best_weights=False)
    for name, value in network.state_dict().items():
        assert torch.equal(value, last.state_dict()[name])


def test_patience_without_validation_restores_the_best_training_loss_epoch():
    network, result = _train_without_validation(patience=2)
    assert result.n_epochs == 4
    assert result.best_epoch == 2
    after_best_epoch, _ = _train_without_validation(max_epochs=2)
    last, _ = _train_without_validation(restore_best_weights=False)
    for name, value in network.state_dict().items():
        assert torch.equal(value, after_best_epoch.state_dict()[name])
    assert any(
        not torch.equal(value, last.state_dict()[name])
        for name, value in network.state_dict().items()
    )


def test_without_restore_the_last_weights_are_kept():
    network, batches, generator = _problem()
    loss = ScriptedLoss(network, [1.0, 2.0, 3.0])
    config = TrainingConfig(
        loss=loss, batch_size=16, max_epochs=3, restore_best_weights=False
    )
    train_network(network, batches, config, generator)
    for name, value in network.state_dict().items():
        assert torch.equal(value, loss.snapshots[-1][name])


def test_patience_watches_the_training_loss_without_validation(airline):
    forecaster = GRUForecaster(
        **{**FAST, "max_epochs": 200},
        window_length=12,
        patience=2,
        learning_rate=0.05,
        random_state=0,
    )
    forecaster.fit(airline, fh=[1])
    history = forecaster.history_
    assert forecaster.n_epochs_ < 200
    assert history["val_loss"].isna().all()
    best = history["train_loss"].idxmin()
    assert forecaster.best_epoch_ == history["epoch"][best]
    assert forecaster.n_epochs_ == forecaster.best_epoch_ + 2


def test_history_has_one_row_per_epoch_with_the_documented_columns(airline):
    forecaster = LSTMForecaster(
        **FAST, window_length=12, validation_size=10, random_state=0
    )
    forecaster.fit(airline, fh=[1, 2])
    history = forecaster.history_
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "val_loss",
        "learning_rate",
        "seconds",
    ]
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history[["train_loss", "val_loss"]].notna().all().all()
    assert (history["seconds"] > 0).all()
    assert (history["learning_rate"] == 1e-3).all()


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_learning_rate_schedules_change_the_rate(airline, schedule):
    forecaster = GRUForecaster(
        **{**FAST, "max_epochs": 6},
        window_length=12,
        lr_schedule=schedule,
        learning_rate=0.01,
    )
    rates = forecaster.fit(airline, fh=[1]).history_["learning_rate"].to_numpy()
    assert len(np.unique(rates)) == 6
    if schedule == "cosine":
        assert rates[0] == 0.01
        assert np.all(np.diff(rates) < 0)


def test_plateau_schedule_halves_the_rate_after_stalled_epochs():
    network, batches, generator = _problem()
    loss = ScriptedLoss(network, [3.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    config = TrainingConfig(
        loss=loss,
        batch_size=16,
        max_epochs=6,
        lr_schedule="plateau",
        patience=4,
        learning_rate=0.01,
    )
    result = train_network(network, batches, config, generator)
    # patience 4 -> the plateau schedule halves after 3 stalled epochs (more than
    # 2), and early stopping ends training after 4
    assert result.history["learning_rate"].tolist() == [0.01] * 4 + [0.005]


class RecordingSGD(torch.optim.SGD):
    norms: list = []

    def step(self, closure=None):
        grads = [
            p.grad.norm()
            for g in self.param_groups
            for p in g["params"]
            if p.grad is not None
        ]
        RecordingSGD.norms.append(float(torch.linalg.vector_norm(torch.stack(grads))))
        return super().step(closure)


@pytest.mark.parametrize("clip", [0.05, None])
def test_gradient_clip_bounds_the_global_norm(airline, clip):
    RecordingSGD.norms = []
    GRUForecaster(
        **FAST,
        window_length=12,
        optimizer=RecordingSGD,
        gradient_clip=clip,
        scaler=None,
        baseline=None,
        ensemble_size=1,  # an ensemble clips each member's norm (test_ensembles)
    ).fit(airline, fh=[1])
    norms = np.array(RecordingSGD.norms)
    if clip is None:
        assert norms.max() > 0.05
    else:
        assert norms.max() <= clip * (1 + 1e-4)


def test_a_huge_learning_rate_raises_a_clear_error_and_leaves_it_unfitted(airline):
    y = airline.copy()
    forecaster = GRUForecaster(
        **FAST,
        window_length=12,
        optimizer="sgd",
        learning_rate=1e10,
        gradient_clip=None,
        loss="mse",  # the squared error's gradient grows with the error
    )
    with pytest.raises(TrainingDivergedError, match="epoch 1.*learning_rate"):
        forecaster.fit(y, fh=[1])
    assert not forecaster.is_fitted
    assert not hasattr(forecaster, "network_")
    with pytest.raises(NotFittedError):
        forecaster.predict()
    pd.testing.assert_series_equal(y, airline)


class InterruptingLoss:
    """MSE that raises KeyboardInterrupt on its n-th call, as Ctrl-C would."""

    def __init__(self, at_call):
        self.at_call = at_call
        self.calls = 0

    def __call__(self, prediction, target):
        self.calls += 1
        if self.calls == self.at_call:
            raise KeyboardInterrupt
        return torch.mean((prediction - target) ** 2)


def test_keyboard_interrupt_keeps_the_best_weights_and_a_usable_model(airline):
    forecaster = GRUForecaster(
        hidden_sizes=8,
        window_length=12,
        batch_size=200,
        max_epochs=10,
        loss=InterruptingLoss(at_call=4),
        ensemble_size=1,  # the loss counts its calls: one network, one a batch
        device="cpu",
        random_state=0,
    )
    with pytest.warns(UserWarning, match="interrupted during epoch 4.*best weights"):
        forecaster.fit(airline, fh=[1, 2])
    assert forecaster.is_fitted
    assert forecaster.n_epochs_ == 3
    assert np.isfinite(forecaster.predict().to_numpy()).all()


def test_update_continues_training_through_the_same_loop(airline):
    forecaster = GRUForecaster(
        **FAST, window_length=12, update_epochs=4, patience=50, random_state=0
    )
    forecaster.fit(airline.iloc[:-24], fh=[1, 2, 3])
    forecaster.update(airline.iloc[-24:], update_params=True)
    history = forecaster.history_
    assert history["epoch"].tolist() == list(range(1, 8))
    assert forecaster.n_epochs_ == 7
    assert len(forecaster.predict()) == 3


def test_update_validates_on_the_new_windows_when_there_are_enough(airline):
    forecaster = GRUForecaster(
        **FAST, window_length=12, update_epochs=2, validation_size=2, random_state=0
    )
    forecaster.fit(airline.iloc[:-24], fh=[1])
    forecaster.update(airline.iloc[-24:], update_params=True)
    assert forecaster.history_["val_loss"].notna().all()
    # one new point leaves one window: it trains on it without validation
    forecaster.update(airline.iloc[-1:] + 0, update_params=True)
    forecaster.update(
        pd.Series([airline.iloc[-1]], index=airline.index[-1:] + 1),
        update_params=True,
    )
    assert math.isnan(forecaster.history_["val_loss"].iloc[-1])


def test_plot_history_draws_both_curves(airline):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    forecaster = GRUForecaster(**FAST, window_length=12, validation_size=5)
    ax = forecaster.fit(airline, fh=[1]).plot_history()
    assert [line.get_label() for line in ax.get_lines()] == [
        "training loss",
        "validation loss",
    ]
    assert len(ax.get_lines()[0].get_xdata()) == 3


def test_plot_history_before_fit_is_a_clear_error():
    with pytest.raises(ValueError, match="not fitted"):
        GRUForecaster().plot_history()


def test_a_diverged_update_leaves_the_weights_and_the_cutoff_as_they_were(
    airline, monkeypatch
):
    import gatedforecast.engine.fitting as fitting

    forecaster = GRUForecaster(**FAST, window_length=12).fit(airline[:-12], fh=[1, 2])
    before = forecaster.predict()
    weights = {k: v.clone() for k, v in forecaster.network_.state_dict().items()}
    cutoff, n_epochs = forecaster.cutoff, forecaster.n_epochs_

    def diverging(network, *args, **kwargs):
        # a step that ruins the weights, then the loop's divergence error
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.fill_(float("nan"))
        raise TrainingDivergedError("The training loss became nan at epoch 4.")

    monkeypatch.setattr(fitting, "train_network", diverging)
    with pytest.raises(TrainingDivergedError, match="epoch 4"):
        forecaster.update(airline[-12:], update_params=True)
    assert forecaster.cutoff.equals(cutoff)
    assert forecaster.n_epochs_ == n_epochs
    for name, value in forecaster.network_.state_dict().items():
        assert value.equal(weights[name])
    pd.testing.assert_series_equal(forecaster.predict(), before)


class Recorder(Callback):
    """Records the hooks it receives; stops the run after ``stop_at`` epochs."""

    def __init__(self, stop_at=None):
        self.calls = []
        self.stop_at = stop_at

    def on_train_begin(self, state):
        self.calls.append("train_begin")

    def on_epoch_begin(self, state):
        self.calls.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state, prediction, targets, loss, n_items):
        self.calls.append(f"batch {n_items}")

    def device_values(self, state):
        return [torch.tensor(float(state.epoch)), torch.tensor(2.5)]

    def on_epoch_trained(self, state, values):
        assert math.isfinite(state.train_loss)
        assert math.isnan(state.val_loss)
        self.calls.append(f"trained {values}")

    def on_epoch_end(self, state):
        assert math.isfinite(state.val_loss)
        self.calls.append(f"epoch_end {state.epoch}")
        if state.epoch == self.stop_at:
            state.stop = True

    def on_train_end(self, state):
        self.calls.append(f"train_end completed={state.completed}")


def test_a_callback_gets_every_hook_in_order_and_can_stop_the_run():
    network, batches, generator = _problem()
    recorder = Recorder(stop_at=3)
    # 48 training samples in batches of 32: two batches per epoch
    config = TrainingConfig(batch_size=32, max_epochs=5)
    result = train_network(
        network, batches, config, generator, first_epoch=2, callbacks=[recorder]
    )
    assert result.n_epochs == 2
    assert result.history["epoch"].tolist() == [2, 3]
    epoch = ["batch 32", "batch 16"]
    assert recorder.calls == [
        "train_begin",
        "epoch_begin 2",
        *epoch,
        "trained [2.0, 2.5]",
        "epoch_end 2",
        "epoch_begin 3",
        *epoch,
        "trained [3.0, 2.5]",
        "epoch_end 3",
        "train_end completed=True",
    ]


def test_a_failed_run_still_ends_its_callbacks():
    network, batches, generator = _problem()
    recorder = Recorder()
    config = TrainingConfig(batch_size=32, max_epochs=5, learning_rate=1e9)
    config.loss = lambda prediction, target: (prediction - target).mean() * math.inf
    with pytest.raises(TrainingDivergedError, match="at epoch 1: the training loss"):
        train_network(network, batches, config, generator, callbacks=[recorder])
    # the divergence check runs first: the recorder never saw the epoch trained
    assert recorder.calls[-1] == "train_end completed=False"
    assert not any(call.startswith("trained") for call in recorder.calls)


def test_the_config_assembles_its_callbacks():
    def kinds(**settings):
        return [type(c) for c in default_callbacks(TrainingConfig(**settings))]

    assert kinds() == [DivergenceCheck, History, EarlyStopping]
    assert kinds(lr_schedule="cosine", verbose=1) == [
        DivergenceCheck,
        LRSchedule,
        History,
        ProgressBar,
        EarlyStopping,
    ]
