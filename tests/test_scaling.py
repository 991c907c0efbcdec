"""The scaler registry: the estimators' scaler names, what each does, and a
scaler added through it."""

import numpy as np
import pytest

from gatedforecast.scaling import (
    SCALER_REGISTRY,
    SCALERS,
    SeriesScaler,
    get_scaler,
    register_scaler,
)


def test_the_scaler_names_come_from_the_registry():
    assert SCALERS == ("window", "standard", "robust", None)
    assert tuple(SCALER_REGISTRY) == SCALERS
    window = get_scaler("window")
    assert window.normalize_windows
    assert window.series_method == "standard"
    for name in ("standard", "robust", None):
        assert not get_scaler(name).normalize_windows
        assert get_scaler(name).series_method == name


def test_each_scaler_gives_its_location_and_scale():
    values = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [10.0, 10.0]])
    standard = SeriesScaler("standard").fit([values])
    np.testing.assert_allclose(standard.loc_[0], [4.0, 10.0])
    # a constant channel is scaled by its magnitude, never by zero
    np.testing.assert_allclose(standard.scale_[0], [np.std([1, 2, 3, 10]), 10.0])
    robust = SeriesScaler("robust").fit([values])
    np.testing.assert_allclose(robust.loc_[0], [2.5, 10.0])
    np.testing.assert_allclose(robust.scale_[0], [4.75 - 1.75, 10.0])
    identity = SeriesScaler(None).fit([values])
    np.testing.assert_array_equal(identity.transform(values, 0), values)


@pytest.mark.parametrize("method", ["window ", "minmax", 3])
def test_an_unknown_method_is_refused_instead_of_leaving_the_values_unscaled(method):
    with pytest.raises(ValueError, match=r"scaler=.* is not valid; choose one of"):
        SeriesScaler(method).fit([np.ones((3, 1))])


def test_a_registered_scaler_scales_and_unscales():
    def max_abs(values):
        return np.zeros(values.shape[1]), np.abs(values).max(axis=0)

    entry = register_scaler("max_abs", max_abs)
    try:
        assert get_scaler("max_abs") is entry
        values = np.array([[2.0], [-8.0], [4.0]])
        scaler = SeriesScaler("max_abs").fit([values])
        np.testing.assert_allclose(scaler.transform(values, 0).ravel(), [0.25, -1, 0.5])
        np.testing.assert_allclose(
            scaler.inverse_transform(scaler.transform(values, 0), 0), values
        )
        with pytest.raises(ValueError, match="'max_abs' is already registered"):
            register_scaler("max_abs", max_abs)
    finally:
        del SCALER_REGISTRY["max_abs"]
    with pytest.raises(TypeError, match="must be callable"):
        register_scaler("broken", None)
    assert "broken" not in SCALER_REGISTRY


def test_a_registered_scaler_is_a_forecaster_choice_with_its_own_window_rule(airline):
    from gatedforecast import GRUForecaster

    def max_abs(values):
        return np.zeros(values.shape[1]), np.abs(values).max(axis=0)

    register_scaler("max_abs", max_abs)
    register_scaler("max_abs_window", max_abs, normalize_windows=True)
    try:
        forecasts = {
            name: GRUForecaster(
                hidden_sizes=4, max_epochs=2, window_length=12, device="cpu",
                scaler=name, random_state=0,
            ).fit(airline, fh=[1, 2]).predict()
            for name in ("max_abs", "max_abs_window")
        }  # fmt: skip
        for y_pred in forecasts.values():
            assert np.isfinite(y_pred.to_numpy()).all()
        # the entry's normalize_windows, not the name, decides how windows scale
        assert not forecasts["max_abs"].equals(forecasts["max_abs_window"])
    finally:
        del SCALER_REGISTRY["max_abs"], SCALER_REGISTRY["max_abs_window"]
