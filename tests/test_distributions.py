"""Likelihood heads (``distribution``): losses, intervals, predict_proba, errors,
model files and sktime's tools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast.distributions import (
    DISTRIBUTION_HEADS,
    SCALE_FACTOR_RANGE,
    SCALE_FLOOR,
    STUDENT_T_DF,
    NLLLoss,
    distribution_head,
    fit_scale_factors,
)

TINY = {"window_length": 6, "hidden_sizes": 6, "device": "cpu", "random_state": 0}


def _counts(n_series=12, length=80, seed=0):
    rng = np.random.default_rng(seed)
    level = rng.uniform(3, 30, n_series)[:, None]
    t = np.arange(length)[None]
    mean = level * (1 + 0.4 * np.sin(2 * np.pi * t / 7))
    counts = rng.negative_binomial(3, 3 / (3 + mean)).astype(float)
    index = pd.MultiIndex.from_product(
        [[f"s{i}" for i in range(n_series)], pd.RangeIndex(length)]
    )
    return pd.DataFrame({"y": counts.ravel()}, index=index)


def _gaussian(length=300, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.period_range("2000-01-01", periods=length, freq="D")
    return pd.DataFrame({"y": 10 + 2 * rng.standard_normal(length)}, index=index)


# ---------------------------------------------------------------- the heads
@pytest.mark.parametrize("name", list(DISTRIBUTION_HEADS))
def test_nll_is_torch_distributions_log_prob(name):
    head = distribution_head(name)
    rng = np.random.default_rng(1)
    location = torch.tensor(rng.uniform(1, 20, 50), dtype=torch.float64)
    scale = torch.tensor(rng.uniform(0.5, 5, 50), dtype=torch.float64)
    parameters = torch.stack([location, scale], dim=-1)
    y = torch.tensor(rng.integers(0, 30, 50), dtype=torch.float64)
    if name == "normal":
        expected = torch.distributions.Normal(location, scale).log_prob(y)
    elif name == "student_t":
        expected = torch.distributions.StudentT(STUDENT_T_DF, location, scale)
        expected = expected.log_prob(y)
    else:
        # mean and extra spread: variance mean + extra**2, shape mean**2 / extra**2
        count = location**2 / scale**2
        expected = torch.tensor(
            stats.nbinom.logpmf(y.numpy(), count.numpy(), (count / (count + location)))
        )
    loss = NLLLoss(head)(parameters, y)
    torch.testing.assert_close(loss, -expected.mean())


@pytest.mark.parametrize("name", ["normal", "student_t"])
def test_head_outputs_are_the_quartiles(name):
    """Two ordered outputs (lower, upper) become a distribution whose quartiles
    they are, up to the scale floor, in the window's units."""
    head = distribution_head(name)
    output = torch.tensor([[[[-0.5, 1.5]]]], dtype=torch.float64)
    base = torch.tensor([[[10.0]]], dtype=torch.float64)
    spread = torch.tensor([[[2.0]]], dtype=torch.float64)
    parameters = head.parameters(output, (base, spread)).numpy()
    lower, upper = head.quantiles(parameters, [0.25, 0.75]).ravel()
    floor = 2.0 * SCALE_FLOOR * head.quartile
    assert lower == pytest.approx(10 + 2 * -0.5 - floor)
    assert upper == pytest.approx(10 + 2 * 1.5 + floor)
    assert head.median(torch.as_tensor(parameters)).item() == pytest.approx(11.0)


def test_negative_binomial_mean_is_positive_and_follows_the_location():
    head = distribution_head("negative_binomial")
    output = torch.tensor([[[[-50.0, -50.0]], [[4.0, 6.0]]]], dtype=torch.float64)
    context = (torch.tensor([[[0.0]]]).double(), torch.tensor([[[3.0]]]).double())
    mean = head.parameters(output, context)[..., 0]
    assert (mean > 0).all()
    # far above the window's scale the mean is the location itself
    assert mean[0, 1, 0].item() == pytest.approx(15.0, rel=2e-3)


# ---------------------------------------------------------------- training
def test_negative_binomial_panel_intervals_are_counts_near_nominal():
    y = _counts()
    train = y.groupby(level=0).head(73)
    test = y.groupby(level=0).tail(7)["y"].to_numpy().reshape(12, 7)
    forecaster = GRUForecaster(
        distribution="negative_binomial", max_epochs=15, ensemble_size=1, **TINY
    )
    forecaster.fit(train, fh=range(1, 8))
    interval = forecaster.predict_interval(coverage=[0.8, 0.95])
    bounds = interval.to_numpy()
    assert (bounds >= 0).all()
    assert (bounds == np.round(bounds)).all()
    point = forecaster.predict().to_numpy()
    assert (point == np.round(point)).all()
    lower, upper = (bounds[:, j].reshape(12, 7) for j in (2, 3))
    coverage = ((test >= lower) & (test <= upper)).mean()
    # 84 test values: a 95 % interval of a fitted count model covers most
    assert 0.85 <= coverage <= 1.0


@pytest.mark.parametrize("name", ["normal", "student_t"])
def test_scale_factors_undo_a_misstated_spread(name):
    """Held-out values drawn with half (step 0) and twice (step 1) the stated
    scale give factors near 0.5 and 2; missing truths are skipped, and a step
    with fewer than two observed truths keeps factor 1."""
    head = distribution_head(name)
    rng = np.random.default_rng(0)
    n = 4000
    location = rng.uniform(-5, 5, (n, 3, 1))
    scale = rng.uniform(0.5, 3, (n, 3, 1))
    parameters = np.stack([location, scale], axis=-1)
    true_scale = scale * np.array([0.5, 2.0, 1.0])[None, :, None]
    truths = head.sample(np.stack([location, true_scale], axis=-1), rng)
    truths[::2, 1] = np.nan
    truths[1:, 2] = np.nan
    factors = fit_scale_factors(head, parameters, truths)
    assert factors.shape == (3, 1)
    np.testing.assert_allclose(factors[:2, 0], [0.5, 2.0], rtol=0.05)
    assert factors[2, 0] == 1.0
    # at the stated scale the factor is about one
    right = head.sample(parameters, rng)
    assert fit_scale_factors(head, parameters, right)[0, 0] == pytest.approx(
        1, rel=0.05
    )
    # a factor stays within its search range
    wide = fit_scale_factors(head, parameters[:, :1] * [1, 1e6], truths[:, :1])
    assert wide[0, 0] == pytest.approx(SCALE_FACTOR_RANGE[0], rel=1e-3)


def test_calibrated_scales_reach_intervals_paths_proba_and_model_files(tmp_path):
    pytest.importorskip("skpro")
    from gatedforecast.engine.likelihood import _raw_parameters
    from gatedforecast.persistence import load_model, save_model

    forecaster = GRUForecaster(
        distribution="normal", max_epochs=3, ensemble_size=1, n_samples=50, **TINY
    )
    forecaster.fit(_gaussian(200), fh=[1, 2])
    engine = forecaster._engine
    factors = engine.scale_factors
    assert factors.shape == (2, 1)
    assert np.all(factors != 1.0)
    raw = _raw_parameters(engine, engine.contexts(), None, forecaster._runtime())
    sigma = raw[0, :, 0, 1] * factors[:, 0] * engine.scaler.scale_[0, 0]
    proba = forecaster.predict_proba()
    np.testing.assert_allclose(np.asarray(proba.sigma, float).ravel(), sigma)
    interval = forecaster.predict_interval(coverage=0.8)
    np.testing.assert_allclose(
        interval.iloc[:, 1].to_numpy(), proba.ppf(0.9).to_numpy().ravel()
    )
    # drawn paths beyond the head spread as the calibrated head does
    engine.scale_factors = factors * 3
    wider = forecaster.predict_interval(fh=range(1, 5), coverage=0.8)
    engine.scale_factors = factors
    narrower = forecaster.predict_interval(fh=range(1, 5), coverage=0.8)
    assert np.all(np.diff(wider.to_numpy()) > np.diff(narrower.to_numpy()))
    loaded = load_model(save_model(forecaster, tmp_path / "model.zip"))
    np.testing.assert_array_equal(loaded._engine.scale_factors, factors)
    pd.testing.assert_frame_equal(
        loaded.predict_interval(fh=[1, 2], coverage=0.8), interval, check_exact=True
    )


def test_normal_head_learns_the_noise_of_gaussian_data():
    forecaster = GRUForecaster(
        distribution="normal", max_epochs=30, ensemble_size=1, **TINY
    )
    forecaster.fit(_gaussian(), fh=[1, 2])
    distribution = forecaster.predict_proba()
    sigma = np.asarray(distribution.sigma, dtype=float)
    # the noise's standard deviation is 2
    assert np.all((sigma > 1.2) & (sigma < 3.2)), sigma
    mu = np.asarray(distribution.mu, dtype=float)
    # a tiny network reads noise in its window: the median within one sigma
    assert np.all(np.abs(mu - 10) < 2.0)


def test_predict_proba_types_and_index_match_predict():
    pytest.importorskip("skpro")
    from skpro.distributions import Empirical, TDistribution

    y = _counts(n_series=3, length=60)
    forecaster = LSTMForecaster(
        distribution="student_t", max_epochs=2, n_samples=20, **TINY
    )
    forecaster.fit(y, fh=[1, 2, 3])
    point = forecaster.predict()
    within = forecaster.predict_proba()
    assert isinstance(within, TDistribution)
    assert forecaster.ensemble_size_ > 1
    assert within.index.equals(point.index)
    assert list(within.columns) == list(point.columns)
    # the head's own family: its median is the point forecast
    np.testing.assert_allclose(within.ppf(0.5).to_numpy(), point.to_numpy())
    beyond = forecaster.predict_proba(fh=range(1, 7))
    assert isinstance(beyond, Empirical)
    assert beyond.index.equals(forecaster.predict(fh=range(1, 7)).index)
    assert beyond.shape == (18, 1)


def test_paths_beyond_the_head_are_drawn_and_seeded():
    from gatedforecast.engine.likelihood import sample_paths

    y = _counts(n_series=2, length=60)
    forecaster = GRUForecaster(
        distribution="negative_binomial",
        strategy="recursive",
        max_epochs=3,
        ensemble_size=1,
        **TINY,
    )
    forecaster.fit(y, fh=[1])
    engine = forecaster._engine
    paths = sample_paths(
        engine, engine.contexts(), None, 5, 30, 7, forecaster._runtime()
    )
    assert paths.shape == (2, 30, 5, 1)
    # every step of every path is a draw: the paths differ after the head
    assert all(len(np.unique(paths[i, :, s])) > 1 for i in range(2) for s in range(5))
    again = sample_paths(
        engine, engine.contexts(), None, 5, 30, 7, forecaster._runtime()
    )
    np.testing.assert_array_equal(paths, again)
    quantiles = forecaster.predict_quantiles(fh=range(1, 6), alpha=[0.1, 0.9])
    values = quantiles.to_numpy()
    assert (values == np.round(values)).all()
    assert (values >= 0).all()


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"distribution": "poisson"}, "distribution='poisson' is not valid"),
        (
            {"distribution": "normal", "interval_method": "quantile"},
            "gives the prediction intervals itself",
        ),
        (
            {"distribution": "normal", "interval_method": "mc_dropout", "dropout": 0.1},
            "gives the prediction intervals itself",
        ),
        ({"interval_method": "distribution"}, "reads the forecast distribution"),
    ],
)
def test_bad_settings_are_clear_errors(params, match):
    with pytest.raises(ValueError, match=match):
        GRUForecaster(max_epochs=1, **TINY, **params).fit(_gaussian(60))


@pytest.mark.parametrize("value", [-1.0, 2.5])
def test_negative_binomial_refuses_values_that_are_not_counts(value):
    y = _counts(n_series=1, length=40).droplevel(0)
    y.iloc[10, 0] = value
    before = y.copy()
    forecaster = GRUForecaster(distribution="negative_binomial", max_epochs=1, **TINY)
    with pytest.raises(ValueError, match="not a non-negative integer.*'normal'"):
        forecaster.fit(y)
    pd.testing.assert_frame_equal(y, before)


def test_export_refuses_a_likelihood_head():
    from gatedforecast.export import forecast_path

    forecaster = GRUForecaster(distribution="normal", max_epochs=1, **TINY)
    forecaster.fit(_gaussian(60), fh=[1])
    with pytest.raises(ValueError, match="likelihood head.*distribution=None"):
        forecast_path(forecaster, horizon=1)


def test_conformal_default_reads_as_distribution_and_none_gives_no_intervals():
    forecaster = GRUForecaster(distribution="normal", max_epochs=1, **TINY)
    forecaster.fit(_gaussian(60), fh=[1])
    # windows are held out to calibrate the scale, and the intervals read it
    assert forecaster._engine.scale_factors.shape == (1, 1)
    assert forecaster.predict_interval().shape == (1, 2)
    counts = GRUForecaster(distribution="negative_binomial", max_epochs=1, **TINY)
    counts.fit(_counts(n_series=2, length=40), fh=[1])
    # the count head's spread is read as trained: nothing held out
    assert counts._engine.residuals is None
    assert counts._engine.scale_factors is None
    plain = GRUForecaster(
        distribution="normal", interval_method=None, max_epochs=1, **TINY
    )
    assert plain.get_tag("capability:pred_int") is False


# ---------------------------------------------------------------- files, sktime
def test_model_file_round_trip(tmp_path):
    from gatedforecast.persistence import load_model, save_model

    y = _counts(n_series=2, length=50)
    forecaster = GRUForecaster(
        distribution="negative_binomial", max_epochs=2, ensemble_size=1, **TINY
    )
    forecaster.fit(y, fh=[1, 2])
    path = save_model(forecaster, tmp_path / "model.zip")
    loaded = load_model(path)
    assert loaded._engine.setup.distribution == "negative_binomial"
    pd.testing.assert_frame_equal(loaded.predict(), forecaster.predict())
    pd.testing.assert_frame_equal(
        loaded.predict_interval(coverage=0.9), forecaster.predict_interval(coverage=0.9)
    )


def test_evaluate_and_grid_search():
    from sktime.forecasting.model_evaluation import evaluate
    from sktime.forecasting.model_selection import ForecastingGridSearchCV
    from sktime.performance_metrics.forecasting.probabilistic import PinballLoss
    from sktime.split import ExpandingWindowSplitter

    y = _gaussian(80)
    forecaster = GRUForecaster(distribution="normal", max_epochs=1, **TINY)
    cv = ExpandingWindowSplitter(initial_window=60, step_length=10, fh=[1, 2])
    results = evaluate(forecaster, cv, y, scoring=PinballLoss())
    assert len(results) == 2
    assert np.isfinite(results.iloc[:, 0]).all()
    search = ForecastingGridSearchCV(
        forecaster,
        cv,
        param_grid={"distribution": ["normal", "student_t"]},
    )
    search.fit(y)
    assert search.best_params_["distribution"] in ("normal", "student_t")


# ---------------------------------------------------------------- command line
CLI = ["--epochs", "2", "--hidden-sizes", "4", "--device", "cpu", "--no-plot"]


def _count_csv(tmp_path, values):
    dates = pd.date_range("2020-01-01", periods=len(values), freq="D")
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "orders": values})
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_forecast_with_a_count_distribution(tmp_path):
    from gatedforecast.cli import main

    counts = np.random.default_rng(0).negative_binomial(3, 0.3, 60)
    path = _count_csv(tmp_path, counts)
    out = tmp_path / "out"
    argv = [
        "forecast", str(path), "--horizon", "4", "--window-length", "7",
        "--distribution", "negative_binomial", "--output-dir", str(out), *CLI,
    ]  # fmt: skip
    assert main(argv) == 0
    forecast = pd.read_csv(out / "forecast.csv")
    assert list(forecast.columns) == ["date", "orders", "orders_lower", "orders_upper"]
    values = forecast[["orders", "orders_lower", "orders_upper"]].to_numpy()
    assert (values >= 0).all()
    assert (values == np.round(values)).all()


def test_cli_count_distribution_refuses_values_that_are_not_counts(tmp_path, capsys):
    from gatedforecast.cli import main

    path = _count_csv(tmp_path, np.linspace(-3, 5, 60))
    argv = ["forecast", str(path), "--distribution", "negative_binomial", *CLI]
    assert main(argv) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(
        "error: --distribution negative_binomial describes counts, but target "
        "'orders' has the value -3"
    )
    assert "Traceback" not in line
    argv = [
        "forecast", str(path), "--distribution", "normal",
        "--interval-method", "quantile", *CLI,
    ]  # fmt: skip
    assert main(argv) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--distribution normal gives the prediction intervals itself" in line


def test_import_does_not_load_skpro():
    import subprocess
    import sys

    code = "import gatedforecast, sys; print('skpro' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_predict_proba_without_skpro_names_the_extra(monkeypatch):
    import gatedforecast._distribution_face as face

    forecaster = GRUForecaster(distribution="normal", max_epochs=1, **TINY)
    forecaster.fit(_gaussian(60), fh=[1])
    real = face.importlib.util.find_spec
    monkeypatch.setattr(
        face.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "skpro" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"pip install gatedforecast\[proba\]"):
        forecaster.predict_proba()


def test_predict_proba_of_a_point_forecaster_is_sktimes_normal():
    forecaster = GRUForecaster(max_epochs=1, **TINY)
    forecaster.fit(_gaussian(60), fh=[1, 2])
    distribution = forecaster.predict_proba()
    assert type(distribution).__name__ == "Normal"
    assert distribution.index.equals(forecaster.predict().index)
