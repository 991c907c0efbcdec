"""Bad input to the forecasters ends in a clear error and leaves the data as it was."""

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from gatedforecast import GRUForecaster, LSTMForecaster


def _series(n=60):
    index = pd.period_range("2000-01", periods=n, freq="M")
    return pd.Series(np.linspace(1.0, 2.0, n), index=index, name="y")


def _fit_expecting(error, match, y, **params):
    original = y.copy(deep=True)
    forecaster = GRUForecaster(**{**FAST, **params})
    with pytest.raises(error, match=match):
        forecaster.fit(y, fh=[1, 2])
    pd.testing.assert_series_equal(y, original) if isinstance(
        y, pd.Series
    ) else pd.testing.assert_frame_equal(y, original)
    assert not forecaster.is_fitted


def test_series_shorter_than_the_window_states_the_minimum_length():
    _fit_expecting(
        ValueError,
        r"y has 10 observations.*at least 14 \(window_length \+ 2\)",
        _series(10),
        window_length=12,
    )


def test_recursive_needs_only_window_length_plus_one():
    y = _series(13)
    GRUForecaster(**FAST, window_length=12, strategy="recursive").fit(y, fh=[1, 2])
    _fit_expecting(
        ValueError,
        r"at least 13 \(window_length \+ 1\)",
        _series(12),
        window_length=12,
        strategy="recursive",
    )


@pytest.mark.parametrize(
    ("value", "match"), [(np.nan, "missing|NaN"), (np.inf, "infinite")]
)
def test_nan_or_inf_inside_the_series(value, match):
    y = _series()
    y.iloc[30] = value
    frame = y.to_frame()
    original = frame.copy()
    with pytest.raises(ValueError, match=match):
        GRUForecaster(**FAST, window_length=12).fit(frame, fh=[1])
    pd.testing.assert_frame_equal(frame, original)


@pytest.mark.parametrize(
    ("column", "match"),
    [
        # strings: sktime refuses them before the forecaster sees them
        (["a"] * 60, "do not support categorical features"),
        ([True, False] * 30, r"'label': bool.*pd.to_numeric"),
    ],
)
def test_non_numeric_columns_are_refused_clearly(column, match):
    y = _series().to_frame()
    y["label"] = column
    original = y.copy()
    with pytest.raises(TypeError, match=match):
        GRUForecaster(**FAST, window_length=12).fit(y, fh=[1])
    pd.testing.assert_frame_equal(y, original)


@pytest.mark.parametrize(
    ("param", "value", "error", "match"),
    [
        ("hidden_sizes", (0,), ValueError, r"hidden_sizes.*positive ints.*\(128, 64\)"),
        ("hidden_sizes", "big", TypeError, "hidden_sizes"),
        ("hidden_sizes", (), TypeError, "hidden_sizes"),
        ("dropout", 1.5, ValueError, r"dropout must be in \[0, 1\)"),
        ("window_length", 0, ValueError, "window_length must be an int >= 1"),
        ("window_length", 2.5, TypeError, "window_length must be an int"),
        ("batch_size", 0, ValueError, "batch_size must be an int >= 1"),
        ("max_epochs", True, TypeError, "max_epochs must be an int"),
        ("learning_rate", 0, ValueError, r"learning_rate must be in \(0, inf\)"),
        ("learning_rate", -1e-3, ValueError, "learning_rate"),
        ("learning_rate", "fast", TypeError, "learning_rate must be a number"),
        ("strategy", "dirct", ValueError, r"strategy='dirct'.*'direct', 'recursive'"),
        ("scaler", "minmax", ValueError, r"'window', 'standard', 'robust', None"),
        ("baseline", "mean", ValueError, r"'last', 'seasonal', None"),
        ("baseline", "seasonal", ValueError, "needs seasonal_period"),
        ("loss", "rmse", ValueError, r"loss='rmse'.*'mse', 'mae', 'huber'"),
        ("loss", 3, TypeError, "loss must be one of"),
        ("optimizer", "lbfgs", ValueError, r"'adam', 'adamw', 'sgd'"),
        ("optimizer", 1.0, TypeError, "optimizer must be one of"),
        ("lr_schedule", "step", ValueError, r"'plateau', 'cosine', 'onecycle', None"),
        ("validation_size", 1.5, ValueError, r"validation_size must be in \(0, 1\)"),
        ("validation_size", "last", TypeError, "validation_size must be None"),
        ("gradient_clip", 0, ValueError, "gradient_clip"),
        ("patience", 0, ValueError, "patience must be an int >= 1"),
        ("min_delta", -1.0, ValueError, "min_delta"),
        ("random_state", -1, ValueError, "random_state"),
        ("random_state", "seed", TypeError, "random_state"),
        ("bidirectional", "yes", TypeError, "bidirectional must be True or False"),
        ("global_model", 1, TypeError, "global_model must be True or False"),
        ("verbose", -1, ValueError, "verbose"),
        (
            "device",
            "tpu",
            ValueError,
            r"Unknown device 'tpu'.*\"auto\", \"cpu\", \"cuda\"",
        ),
        ("device", 0, TypeError, "device must be a string"),
    ],
)
def test_invalid_parameters_are_refused_in_fit_with_the_valid_choices(
    param, value, error, match
):
    _fit_expecting(error, match, _series(), **{param: value})


@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_an_unavailable_device_is_a_clear_error(cls, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    forecaster = cls(**{**FAST, "device": "cuda:0"})
    with pytest.raises(ValueError, match=r"CUDA is not available.*device=\"cpu\""):
        forecaster.fit(_series(), fh=[1])


def test_seasonal_baseline_needs_a_window_covering_the_season():
    _fit_expecting(
        ValueError,
        "window_length must be at least seasonal_period=12",
        _series(),
        window_length=6,
        baseline="seasonal",
        seasonal_period=12,
    )


def test_parameters_are_stored_untouched():
    forecaster = GRUForecaster(hidden_sizes=[8, 4], dropout=2.0, device="nowhere")
    assert forecaster.hidden_sizes == [8, 4]
    assert forecaster.dropout == 2.0
    assert forecaster.get_params()["device"] == "nowhere"


@pytest.mark.parametrize("integer_index", [False, True])
def test_update_with_a_gap_is_refused_and_leaves_the_forecaster_as_it_was(
    integer_index,
):
    y = _series(60)
    if integer_index:
        y = y.reset_index(drop=True)
    forecaster = GRUForecaster(**FAST).fit(y[:50], fh=[1, 2])
    before = forecaster.predict()
    cutoff = forecaster.cutoff
    weights = {k: v.clone() for k, v in forecaster.network_.state_dict().items()}
    first_missing = "2004-03" if not integer_index else "50"
    with pytest.raises(
        ValueError, match=rf"gap after .*no values at \['{first_missing}'"
    ):
        forecaster.update(y[53:], update_params=True)
    assert forecaster.cutoff.equals(cutoff)
    for name, value in forecaster.network_.state_dict().items():
        assert value.equal(weights[name])
    pd.testing.assert_series_equal(forecaster.predict(), before)
    # the contiguous continuation is still accepted
    forecaster.update(y[50:], update_params=False)
    assert forecaster.cutoff[0] == y.index[-1]


def test_a_horizon_needing_an_endless_roll_out_is_refused_before_any_work():
    forecaster = GRUForecaster(**FAST).fit(_series(), fh=[1, 2])
    with pytest.raises(
        ValueError, match=r"fh reaches 1000000 steps .*500,000 roll-out"
    ):
        forecaster.predict(fh=[10**6])
    with pytest.raises(ValueError, match="fewer steps, or fit with a longer head"):
        forecaster.predict_interval(fh=[10**6])
    assert len(forecaster.predict(fh=[1, 2, 3])) == 3
