"""The engine on plain arrays: no pandas, no estimator."""

import numpy as np
import pytest
import torch

from gatedforecast._params import CoreSettings
from gatedforecast.engine import (
    INTERVAL_METHODS,
    PREDICT_BATCH,
    IntervalContext,
    Runtime,
    SeriesEngine,
    _Setup,
    interval_method,
)
from gatedforecast.engine.calibration import hold_out
from gatedforecast.engine.rollout import batch_rows
from gatedforecast.scaling import WindowTransform
from gatedforecast.training import TrainingConfig

CPU = Runtime(torch.device("cpu"))


def _settings(**config):
    return CoreSettings(
        hidden_sizes=(4,),
        cell="gru",
        dropout=0.1,
        bidirectional=False,
        ensemble_size=1,
        config=TrainingConfig(loss="mae", max_epochs=2, **config),
        validation_size=None,
        device=torch.device("cpu"),
        seed=0,
    )


def _setup(window=6, head=2, levels=None, n_covariates=0):
    return _Setup(
        window_length=window,
        horizon=head,
        transform=WindowTransform(
            normalize=True,
            baseline="last",
            seasonal_period=None,
            horizon=head,
            n_targets=1,
        ),
        scaler_method="standard",
        columns=["y"],
        x_columns=None if not n_covariates else [f"x{i}" for i in range(n_covariates)],
        levels=levels,
    )


def _series(lengths, channels=1):
    rng = np.random.default_rng(0)
    return [np.cumsum(rng.normal(size=(n, channels)), axis=0) + 5 for n in lengths]


def _fit(lengths=(60, 45), setup=None, calibrate=True, channels=1):
    setup = setup or _setup()
    return SeriesEngine.fit(
        _series(lengths, channels),
        setup,
        _settings(),
        epochs=2,
        calibrate=calibrate,
        calibration_size="auto",
        calibration_horizon=3,
        runtime=CPU,
    )


def test_fit_on_arrays_keeps_the_tails_and_forecasts_every_series():
    engine, result = _fit()
    assert result.n_epochs == 2
    # window + head - 1 scaled values of each series
    assert engine.tails.shape == (2, 7, 1)
    contexts = engine.contexts()
    assert contexts.shape == (2, 6, 1)
    forecast = engine.forecast(contexts, 5, None, CPU)
    assert forecast.shape == (2, 5, 1)
    assert np.isfinite(forecast).all()
    # the same contexts forecast the same values
    np.testing.assert_array_equal(forecast, engine.forecast(contexts, 5, None, CPU))


def test_calibration_residuals_have_a_row_per_held_out_window():
    engine, _ = _fit()
    held = hold_out(_series((60, 45)), engine.setup, 3, "auto", True)
    # "auto" aims for 20 residuals over both series, 10 each, but at most a
    # quarter of a series' windows: 9 of the 38 of the shorter one
    assert list(held.counts) == [10, 9]
    assert engine.residuals.shape == (19, 3, 1)
    assert engine.typical_spread.shape == (2, 1)


def test_no_calibration_leaves_no_residuals_and_refuses_intervals():
    engine, _ = _fit(calibrate=False)
    assert engine.residuals is None
    with pytest.raises(ValueError, match="No window could be held out"):
        engine.require_residuals()


def test_continued_training_leaves_the_engine_it_came_from_unchanged():
    engine, _ = _fit()
    weights = {k: v.clone() for k, v in engine.network.state_dict().items()}
    longer = [np.vstack([t, t[-3:]]) for t in engine.tails]
    trained, result = engine.continued(longer, _settings(), epochs=1, first_epoch=3)
    assert result.n_epochs == 1
    assert trained.network is not engine.network
    for name, value in engine.network.state_dict().items():
        assert torch.equal(value, weights[name])
    moved = trained.with_series(longer)
    assert moved.tails.shape == engine.tails.shape
    np.testing.assert_array_equal(moved.tails[0], longer[0][-7:])


def test_the_registry_names_every_interval_method():
    assert set(INTERVAL_METHODS) == {
        "conformal",
        "mc_dropout",
        "quantile",
        "distribution",
    }
    assert interval_method(None) is None
    for name, cls in INTERVAL_METHODS.items():
        method = interval_method(name)
        assert isinstance(method, cls)
        assert method.name == name
    assert INTERVAL_METHODS["mc_dropout"].needs_dropout
    assert INTERVAL_METHODS["quantile"].quantile_head
    assert not INTERVAL_METHODS["conformal"].quantile_head
    assert INTERVAL_METHODS["distribution"].reads_distribution


@pytest.mark.parametrize("name", ["conformal", "mc_dropout"])
def test_interval_methods_give_sorted_quantiles_of_every_step(name):
    engine, _ = _fit()
    alpha = [0.1, 0.5, 0.9]
    context = IntervalContext(runtime=CPU, seed=0, n_samples=20)
    contexts = engine.contexts()
    quantiles = interval_method(name).quantiles(
        engine, contexts, None, 4, alpha, context
    )
    assert quantiles.shape == (3, 2, 4, 1)
    assert (np.diff(quantiles, axis=0) >= 0).all()
    if name == "conformal":
        # symmetric around the point forecast
        point = engine.forecast(contexts, 4, None, CPU)
        np.testing.assert_allclose(quantiles[1], point)


def test_a_quantile_head_answers_for_its_steps_and_conformal_spreads_after():
    setup = _setup(levels=(0.1, 0.5, 0.9))
    engine, _ = _fit(setup=setup)
    assert engine.head_quantiles(engine.contexts(), None, CPU).shape == (2, 2, 1, 3)
    warned = []
    context = IntervalContext(runtime=CPU, warn_unresolved=warned.append)
    alpha = [0.1, 0.9]
    quantiles = interval_method("quantile").quantiles(
        engine, engine.contexts(), None, 2, alpha, context
    )
    head = engine.head_quantiles(engine.contexts(), None, CPU)
    np.testing.assert_array_equal(quantiles[0], head[..., 0])
    # only steps beyond the head use the residuals (and may warn about them)
    assert warned == []
    interval_method("quantile").quantiles(
        engine, engine.contexts(), None, 3, alpha, context
    )
    assert warned == [alpha]


def test_prediction_batches_cover_every_row_once():
    for n in (0, 1, PREDICT_BATCH, PREDICT_BATCH + 1, 3 * PREDICT_BATCH - 1):
        batches = batch_rows(n)
        assert all(len(b) <= PREDICT_BATCH for b in batches)
        np.testing.assert_array_equal(np.concatenate(batches), np.arange(n))
