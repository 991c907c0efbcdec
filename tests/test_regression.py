"""Tests of the scikit-learn regressors GRURegressor and LSTMRegressor."""

from __future__ import annotations

import doctest
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from gatedforecast import (
    GRURegressor,
    LSTMRegressor,
    TrainingDivergedError,
    make_windows,
)
from gatedforecast.networks import count_parameters

TINY = {
    "max_epochs": 2,
    "hidden_sizes": 4,
    "batch_size": 16,
    "random_state": 0,
    "device": "cpu",
}
REGRESSORS = [GRURegressor, LSTMRegressor]


def _without(*names: str) -> dict:
    """The tiny settings less ``names``."""
    return {k: v for k, v in TINY.items() if k not in names}


def sine_windows(n: int = 160, window_length: int = 10, horizon: int = 1):
    """Windows of a noiseless sine of period 20."""
    series = np.sin(np.arange(n + window_length + horizon - 1) * 2 * np.pi / 20)
    return make_windows(series, window_length, horizon)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread, and tests run side by side."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def nan_loss(prediction, target):
    """A loss that always diverges."""
    return ((prediction - target) ** 2).mean() * float("nan")


@parametrize_with_checks([GRURegressor(**TINY), LSTMRegressor(**TINY)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("cls", REGRESSORS)
@pytest.mark.parametrize(
    ("y_shape", "n_outputs"), [((40,), 1), ((40, 1), 1), ((40, 3), 3)]
)
def test_predictions_have_the_shape_of_y(cls, y_shape, n_outputs):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5, 2)), rng.normal(size=y_shape)
    model = cls(**TINY).fit(X, y)
    prediction = model.predict(X[:7])
    assert prediction.shape == (7,) + y_shape[1:]
    assert prediction.dtype == np.float64
    assert model.n_outputs_ == n_outputs
    assert model.n_features_in_ == 5


@pytest.mark.parametrize("cls", REGRESSORS)
def test_attention_adds_the_attention_layers_and_learns(cls):
    X, y = sine_windows(80)
    params = {**TINY, "max_epochs": 20, "learning_rate": 0.02, "ensemble_size": 1}
    plain = cls(**params).fit(X, y)
    attention = cls(**params, attention=True).fit(X, y)
    cell = cls.__name__[: -len("Regressor")].lower()
    assert attention.network_.encoder.cell == f"{cell}+attention"
    # W_q (4 x 4) and W_c, b (4 x 8, 4) beside the plain cell's weights
    assert attention.n_parameters_ == plain.n_parameters_ + 3 * 4**2 + 4
    prediction = attention.predict(X)
    assert prediction.shape == y.shape
    assert not np.allclose(prediction, plain.predict(X))
    # it learned the sine: a tenth of the error of predicting the mean
    assert np.mean((prediction - y) ** 2) < 0.1 * np.var(y)


def test_two_d_input_with_n_features_reads_steps_side_by_side():
    rng = np.random.default_rng(1)
    X3 = rng.normal(size=(40, 6, 2))
    y = rng.normal(size=40)
    X2 = X3.reshape(40, 12)
    from_3d = GRURegressor(**TINY).fit(X3, y)
    from_2d = GRURegressor(n_features=2, **TINY).fit(X2, y)
    assert from_2d.n_features_in_ == 12
    assert from_3d.n_features_in_ == 6
    np.testing.assert_array_equal(from_2d.predict(X2), from_3d.predict(X3))


def test_two_d_input_defaults_to_one_feature_per_step():
    X, y = sine_windows(40)
    from_2d = GRURegressor(**TINY).fit(X, y)
    from_3d = GRURegressor(**TINY).fit(X[:, :, np.newaxis], y)
    np.testing.assert_array_equal(from_2d.predict(X), from_3d.predict(X[:, :, None]))


def test_n_features_that_does_not_divide_the_columns_is_an_error():
    X, y = sine_windows(40)
    with pytest.raises(ValueError, match=r"10 columns.*n_features=3"):
        GRURegressor(n_features=3, **TINY).fit(X, y)


def test_n_features_that_does_not_match_3d_input_is_an_error():
    X = np.zeros((20, 5, 2))
    with pytest.raises(ValueError, match=r"2 features per step.*n_features=3"):
        GRURegressor(n_features=3, **TINY).fit(X, np.zeros(20))


def test_predict_needs_x_in_the_form_of_fit():
    rng = np.random.default_rng(2)
    X3, y = rng.normal(size=(30, 4, 3)), rng.normal(size=30)
    model = GRURegressor(**TINY).fit(X3, y)
    with pytest.raises(ValueError, match="same form as in fit"):
        model.predict(X3.reshape(30, 12))
    with pytest.raises(ValueError, match=r"2 features per step.*fitted on 3"):
        model.predict(X3[:, :, :2])
    with pytest.raises(ValueError, match=r"3 steps per sequence.*sequences of 4 steps"):
        model.predict(X3[:, :3])


def test_empty_sequences_are_an_error():
    with pytest.raises(ValueError, match="no values per sample"):
        GRURegressor(**TINY).fit(np.zeros((10, 0, 2)), np.zeros(10))


# ---------------------------------------------------------------- sklearn tools
def test_pipeline_in_grid_search_with_time_series_split():
    X, y = sine_windows(120)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", GRURegressor(**TINY))])
    grid = {
        "model__hidden_sizes": [4, (4, 3)],
        "model__learning_rate": [1e-3, 1e-2],
    }
    search = GridSearchCV(pipeline, grid, cv=TimeSeriesSplit(3), n_jobs=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["model__hidden_sizes"] in (4, (4, 3))
    assert search.predict(X[:5]).shape == (5,)


def test_cross_val_score_with_time_series_split():
    X, y = sine_windows(90)
    scores = cross_val_score(LSTMRegressor(**TINY), X, y, cv=TimeSeriesSplit(3))
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    X, y = sine_windows(40)
    model = LSTMRegressor(hidden_sizes=(4, 3), dropout=0.1, **_without("hidden_sizes"))
    model.fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_joblib_and_pickle_round_trips_predict_identically(cls, tmp_path):
    X, y = sine_windows(40)
    model = cls(dropout=0.2, **TINY).fit(X, y)
    expected = model.predict(X)
    assert next(model.network_.parameters()).device.type == "cpu"
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(X), expected)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(model)).predict(X), expected
    )


def test_predict_falls_back_to_the_cpu_when_the_training_device_is_gone(monkeypatch):
    X, y = sine_windows(40)
    model = GRURegressor(**TINY).fit(X, y)
    expected = model.predict(X)
    model.device_ = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    np.testing.assert_array_equal(model.predict(X), expected)


# ---------------------------------------------------------------- sktime
@pytest.mark.parametrize(
    "estimator",
    [
        LSTMRegressor(**TINY),
        make_pipeline(StandardScaler(), GRURegressor(**TINY)),
    ],
    ids=["LSTMRegressor", "StandardScaler+GRURegressor"],
)
def test_make_reduction_forecasts_airline(estimator):
    from sktime.datasets import load_airline
    from sktime.forecasting.compose import make_reduction

    y = load_airline()
    with warnings.catch_warnings():
        # sktime 1.2 warns about its remember_data default at construction
        warnings.simplefilter("ignore", FutureWarning)
        forecaster = make_reduction(estimator, window_length=12, strategy="recursive")
        forecaster.fit(y)
        y_pred = forecaster.predict(fh=np.arange(1, 13))
    assert len(y_pred) == 12
    assert np.isfinite(y_pred.to_numpy()).all()


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("cls", REGRESSORS)
def test_learns_a_sine_far_better_than_the_mean(cls):
    X, y = sine_windows(400)
    model = cls(
        hidden_sizes=8, learning_rate=1e-2, max_epochs=15, random_state=0, device="cpu"
    )
    model.fit(X[:300], y[:300])
    mse = np.mean((model.predict(X[300:]) - y[300:]) ** 2)
    mean_mse = np.mean((y[:300].mean() - y[300:]) ** 2)
    assert mse < 0.05 * mean_mse


def test_history_and_fitted_attributes():
    X, y = sine_windows(60)
    model = GRURegressor(validation_size=0.25, **TINY).fit(X, y)
    history = model.history_
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "val_loss",
        "learning_rate",
        "seconds",
    ]
    assert history["epoch"].tolist() == [1, 2]
    assert np.isfinite(history["val_loss"]).all()
    assert model.n_epochs_ == 2
    assert model.best_epoch_ in (1, 2)
    assert model.device_ == torch.device("cpu")
    assert model.n_parameters_ == count_parameters(model.network_)


def test_gru_has_a_quarter_fewer_recurrent_weights_than_lstm():
    X, y = sine_windows(30)
    one = {"hidden_sizes": 16, "ensemble_size": 1}
    gru = GRURegressor(**_without("hidden_sizes"), **one).fit(X, y)
    lstm = LSTMRegressor(**_without("hidden_sizes"), **one).fit(X, y)
    head = 16 + 1
    assert (gru.n_parameters_ - head) * 4 == (lstm.n_parameters_ - head) * 3


@pytest.mark.parametrize(("validation_size", "n_validation"), [(10, 10), (0.25, 10)])
def test_validation_uses_the_last_samples_and_never_trains_on_them(
    validation_size, n_validation
):
    X, y = sine_windows(40)
    settings = {**TINY, "scale_target": False, "restore_best_weights": False}
    held_out = GRURegressor(validation_size=validation_size, **settings).fit(X, y)
    first_only = GRURegressor(**settings).fit(X[:-n_validation], y[:-n_validation])
    np.testing.assert_array_equal(held_out.predict(X), first_only.predict(X))
    last_mse = np.mean((held_out.predict(X[-n_validation:]) - y[-n_validation:]) ** 2)
    assert held_out.history_["val_loss"].iloc[-1] == pytest.approx(last_mse, rel=1e-4)


@pytest.mark.parametrize("validation_size", [40, 100])
def test_validation_that_leaves_no_training_sample_is_an_error(validation_size):
    X, y = sine_windows(40)
    with pytest.raises(ValueError, match="validation_size.*no training sample"):
        GRURegressor(validation_size=validation_size, **TINY).fit(X, y)


def test_early_stopping_stops_before_max_epochs():
    X, y = sine_windows(60)
    model = GRURegressor(
        validation_size=10, patience=1, min_delta=1e9, **_without("max_epochs")
    )
    model.set_params(max_epochs=10).fit(X, y)
    assert model.n_epochs_ == 2
    assert len(model.history_) == 2


# ---------------------------------------------------------------- warm start
def test_warm_start_continues_training():
    X, y = sine_windows(60)
    model = GRURegressor(learning_rate=1e-2, **TINY).fit(X, y)
    trained = {k: v.clone() for k, v in model.network_.state_dict().items()}
    model.set_params(warm_start=True, learning_rate=1e-9)
    model.fit(X, y)
    assert model.history_["epoch"].tolist() == [1, 2, 3, 4]
    assert model.n_epochs_ == 4
    assert model.best_epoch_ in (3, 4)
    # a tiny learning rate barely moves the weights: they were not re-initialised
    for name, value in model.network_.state_dict().items():
        torch.testing.assert_close(value, trained[name], atol=1e-6, rtol=0)


def test_warm_start_keeps_the_target_scaling_of_the_first_fit():
    X, y = sine_windows(60)
    model = GRURegressor(**TINY).fit(X, y)
    expected = model.predict(X)
    # a warm fit that barely moves the weights predicts on the first fit's scale;
    # targets scaled anew would put the predictions near 10 * expected + 5
    model.set_params(warm_start=True, learning_rate=1e-9).fit(X, 10 * y + 5)
    np.testing.assert_allclose(model.predict(X), expected, rtol=0, atol=1e-5)


def test_without_warm_start_fit_starts_over():
    X, y = sine_windows(60)
    model = GRURegressor(**TINY).fit(X, y)
    expected = model.predict(X)
    model.fit(X, y)
    assert model.history_["epoch"].tolist() == [1, 2]
    np.testing.assert_array_equal(model.predict(X), expected)


def test_warm_start_on_an_unfitted_regressor_fits_from_scratch():
    X, y = sine_windows(40)
    warm = GRURegressor(warm_start=True, **TINY).fit(X, y)
    cold = GRURegressor(**TINY).fit(X, y)
    np.testing.assert_array_equal(warm.predict(X), cold.predict(X))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"X": np.zeros((40, 10, 2))}, "sequence shape"),
        ({"y": np.zeros((40, 2))}, "number of outputs"),
        ({"hidden_sizes": 5}, "hidden_sizes"),
        ({"bidirectional": True}, "bidirectional"),
        ({"attention": True}, r"encoder .*'gru'.*'gru\+attention'"),
    ],
)
def test_warm_start_with_other_shapes_is_an_error(change, message):
    X, y = sine_windows(40)
    model = GRURegressor(**TINY).fit(X, y)
    expected = model.predict(X)
    params = {k: v for k, v in change.items() if k not in ("X", "y")}
    model.set_params(warm_start=True, **params)
    with pytest.raises(ValueError, match=f"warm_start=True.*{message}"):
        model.fit(change.get("X", X[:, :, None]), change.get("y", y))
    assert model.history_["epoch"].tolist() == [1, 2]
    np.testing.assert_array_equal(model.predict(X), expected)


# ---------------------------------------------------------------- failures
def test_a_diverged_fit_leaves_a_fitted_regressor_as_it_was():
    X, y = sine_windows(40)
    model = GRURegressor(**TINY).fit(X, y)
    expected = model.predict(X)
    before = dict(vars(model))
    network = {k: v.clone() for k, v in model.network_.state_dict().items()}
    model.set_params(loss=nan_loss)
    for warm_start, data in [(False, (np.ones((30, 7)), np.ones(30))), (True, (X, y))]:
        model.set_params(warm_start=warm_start)
        with pytest.raises(TrainingDivergedError, match="learning_rate"):
            model.fit(*data)
        fitted = {k: v for k, v in vars(model).items() if k.endswith("_")}
        assert fitted.keys() == {k for k in before if k.endswith("_")}
        assert all(v is before[k] for k, v in fitted.items())
    for name, value in model.network_.state_dict().items():
        torch.testing.assert_close(value, network[name], atol=0, rtol=0)
    np.testing.assert_array_equal(model.predict(X), expected)


def test_a_failed_fit_leaves_an_unfitted_regressor_unfitted():
    X, y = sine_windows(40)
    model = GRURegressor(loss=nan_loss, **_without("loss"))
    with pytest.raises(TrainingDivergedError):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert not hasattr(model, "n_features_in_")


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_the_data_is_an_error(where, bad):
    rng = np.random.default_rng(3)
    data = {"X": rng.normal(size=(30, 4, 2)), "y": rng.normal(size=30)}
    data[where][5] = bad
    before = {k: v.copy() for k, v in data.items()}
    with pytest.raises(ValueError, match="NaN|infinity"):
        GRURegressor(**TINY).fit(data["X"], data["y"])
    for k in data:
        np.testing.assert_array_equal(data[k], before[k])


def test_nan_in_x_at_predict_is_an_error():
    X, y = sine_windows(40)
    model = GRURegressor(**TINY).fit(X, y)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)


def test_fit_and_predict_leave_the_users_arrays_unchanged():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 5, 2)).astype(np.float32)
    y = rng.normal(size=(40, 2))
    X_before, y_before = X.copy(), y.copy()
    model = GRURegressor(**TINY).fit(X, y)
    model.predict(X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_read_only_windows_fit_without_warnings():
    X, y = sine_windows(40)
    assert not X.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRURegressor(**TINY).fit(X, y).predict(X)


# ---------------------------------------------------------------- randomness, output
@pytest.mark.parametrize("cls", REGRESSORS)
def test_random_state_gives_identical_fits_and_leaves_global_rngs_alone(cls):
    X, y = sine_windows(60)
    # the legacy global numpy state is exactly what must stay untouched
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002
    settings = {**TINY, "dropout": 0.3, "hidden_sizes": (4, 3)}
    first = cls(**settings).fit(X, y).predict(X)
    second = cls(**settings).fit(X, y).predict(X)
    cls(**{**settings, "random_state": None}).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


def test_different_random_states_give_different_fits():
    X, y = sine_windows(40)
    a = GRURegressor(**TINY).fit(X, y).predict(X)
    b = GRURegressor(**{**TINY, "random_state": 1}).fit(X, y).predict(X)
    assert not np.array_equal(a, b)


def test_verbose_zero_is_silent(capfd):
    X, y = sine_windows(40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRURegressor(**TINY).fit(X, y).predict(X)
    assert capfd.readouterr() == ("", "")


def test_verbose_one_shows_progress(capfd):
    X, y = sine_windows(40)
    GRURegressor(verbose=1, **TINY).fit(X, y)
    assert "epoch" in capfd.readouterr().err


def test_dataframe_input_records_feature_names():
    X, y = sine_windows(40)
    frame = pd.DataFrame(X, columns=[f"lag_{i}" for i in range(10, 0, -1)])
    model = GRURegressor(**TINY).fit(frame, y)
    assert list(model.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        from_array = model.predict(X)
    np.testing.assert_array_equal(model.predict(frame), from_array)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_docstring_examples_run(cls):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    (test,) = finder.find(cls, cls.__name__, globs={})
    assert test.examples
    runner.run(test)
    assert runner.failures == 0
