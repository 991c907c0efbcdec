"""Missing values (NaN) in y: the forecasters fill each window forward, read a
mask channel, scale and train on the observed values only, and refuse a series
whose last window has no observed value. Complete series keep their networks."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST

from gatedforecast import GRUForecaster, LSTMForecaster
from gatedforecast._model_archive import MODEL_JSON
from gatedforecast.intervals import conformal_quantiles, typical_spreads
from gatedforecast.missing import fill_series, fill_window, usable_windows
from gatedforecast.persistence import load_model
from gatedforecast.scaling import SeriesScaler, WindowTransform
from gatedforecast.training import MaskedLoss, PinballLoss

WINDOW = 12
PARAMS = {**FAST, "window_length": WINDOW, "ensemble_size": 1, "random_state": 0}


def _sine(n=144, noise=0.0, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    values = 10 + 3 * np.sin(2 * np.pi * t / 12) + noise * rng.normal(size=n)
    index = pd.period_range("2000-01", periods=n, freq="M")
    return pd.Series(values, index=index, name="y")


def _gaps(y: pd.Series, share=0.1, seed=1, keep_last=1) -> pd.Series:
    """``y`` with ``share`` of its values missing at random (the last
    ``keep_last`` kept)."""
    rng = np.random.default_rng(seed)
    out = y.copy()
    drop = rng.random(len(y)) < share
    drop[len(y) - keep_last :] = False
    out[drop] = np.nan
    return out


# ---------------------------------------------------------------- mechanism
def test_fill_window_carries_values_forward_and_masks_them():
    nan = float("nan")
    x = torch.tensor([[[nan, 1.0], [2.0, nan], [nan, nan], [4.0, 3.0]]])
    x = torch.cat([x, torch.full_like(x, nan)])  # a window with nothing observed
    filled, observed = fill_window(x)
    assert filled[0, :, 0].tolist() == [2.0, 2.0, 2.0, 4.0]  # leading: backward
    assert filled[0, :, 1].tolist() == [1.0, 1.0, 1.0, 3.0]
    assert filled[1].eq(0).all()
    assert not observed[1].any()
    assert observed[0, :, 0].tolist() == [False, True, False, True]


def test_fill_series_fills_columns_and_leaves_complete_values_alone():
    values = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, 5.0]])
    np.testing.assert_array_equal(fill_series(values), [[2, 1], [2, 1], [2, 5]])
    complete = np.ones((3, 2))
    assert fill_series(complete) is complete


def test_masked_transform_normalises_by_the_observed_values_and_adds_masks():
    transform = WindowTransform(
        normalize=True, baseline="last", seasonal_period=None, horizon=2,
        n_targets=1, masked=True,
    )  # fmt: skip
    x = torch.tensor([[[1.0, 7.0], [np.nan, 8.0], [3.0, 9.0], [np.nan, 10.0]]])
    inputs, (base, spread) = transform.inputs(x)
    # level 2 and spread 1 of the observed 1 and 3; the last observed value (3)
    # is the baseline; the covariate passes; the mask channel ends the inputs
    assert inputs.shape == (1, 4, 3)
    assert inputs[0, :, 0].tolist() == [-1.0, -1.0, 1.0, 1.0]
    assert inputs[0, :, 1].tolist() == [7.0, 8.0, 9.0, 10.0]
    assert inputs[0, :, 2].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert base[0, :, 0].tolist() == [3.0, 3.0]
    assert spread.item() == 1.0
    assert transform.covariates(inputs)[0, :, 0].tolist() == [7.0, 8.0, 9.0, 10.0]


def test_series_scaler_ignores_missing_values_and_keeps_them_missing():
    values = np.array([[1.0, 0.0], [np.nan, 2.0], [3.0, 4.0]])
    scaler = SeriesScaler("standard").fit([values])
    np.testing.assert_allclose(scaler.loc_[0], [2.0, 2.0])
    np.testing.assert_allclose(scaler.scale_[0], [1.0, np.std([0.0, 2.0, 4.0])])
    scaled = scaler.transform(values, 0)
    assert np.isnan(scaled[1, 0])
    assert scaled[0, 0] == -1.0
    assert scaled[2, 0] == 1.0


def test_masked_loss_averages_over_the_observed_targets_only():
    prediction = torch.tensor([[1.0, 2.0, 3.0, 4.0]], requires_grad=True)
    target = torch.tensor([[0.0, np.nan, 5.0, np.nan]])
    loss = MaskedLoss("mae")(prediction, target)
    assert loss.item() == pytest.approx((1.0 + 2.0) / 2)
    loss.backward()
    # a missing target sends no gradient
    assert prediction.grad[0, 1] == 0
    assert prediction.grad[0, 3] == 0
    assert MaskedLoss("mse")(prediction, target).item() == pytest.approx(2.5)


def test_masked_pinball_loss_leaves_missing_targets_out_of_every_level():
    levels = (0.1, 0.5, 0.9)
    prediction = torch.zeros(1, 3, 3)
    target = torch.tensor([[1.0, np.nan, -1.0]])
    masked = MaskedLoss(PinballLoss(levels))(prediction, target)
    observed = PinballLoss(levels)(prediction[:, [0, 2]], target[:, [0, 2]])
    assert masked.item() == pytest.approx(observed.item())
    assert torch.isfinite(masked)


def test_windows_without_an_observed_input_or_target_are_not_trained_on():
    values = np.array([1, np.nan, np.nan, 4, 5, np.nan, np.nan, 8.0])[:, None]
    starts = np.arange(len(values) - 3 + 1)
    # window 2, head 1: [1 nan|nan] no target, [nan nan|4] no input, [nan 4|5],
    # [4 5|nan] no target, [5 nan|nan] no target, [nan nan|8] no input
    assert usable_windows(values, starts, 2, 1, 1).tolist() == [
        False, False, True, False, False, False,
    ]  # fmt: skip


def test_conformal_quantiles_ignore_missing_residuals():
    rng = np.random.default_rng(0)
    residuals = rng.normal(size=(30, 2, 1))
    with_gaps = residuals.copy()
    with_gaps[::3, 0] = np.nan
    alpha = [0.05, 0.5, 0.9]
    got = conformal_quantiles(with_gaps, alpha, warn=False)
    kept = np.delete(residuals[:, 0], np.s_[::3], axis=0)
    np.testing.assert_array_equal(
        got[:, 0], conformal_quantiles(kept[:, None], alpha, warn=False)[:, 0]
    )
    np.testing.assert_array_equal(
        got[:, 1], conformal_quantiles(residuals[:, 1:], alpha, warn=False)[:, 0]
    )


def test_typical_spread_of_a_series_with_gaps_reads_its_observed_values():
    values = np.tile([0.0, 2.0], 20)[:, None]
    with_gaps = values.copy()
    with_gaps[[5, 17]] = np.nan
    spread = typical_spreads([with_gaps], 4)
    assert np.isfinite(spread).all()
    assert spread[0, 0] == pytest.approx(typical_spreads([values], 4)[0, 0], rel=0.05)


# ---------------------------------------------------------------- forecasters
@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_a_sine_with_a_tenth_missing_forecasts_as_the_complete_sine(cls):
    y = _sine()
    truth = 10 + 3 * np.sin(2 * np.pi * np.arange(144, 156) / 12)
    params = {**PARAMS, "max_epochs": 30}
    complete = cls(**params).fit(y, fh=range(1, 13)).predict().to_numpy()
    gaps = _gaps(y)
    assert 10 <= gaps.isna().sum() <= 20
    forecaster = cls(**params).fit(gaps, fh=range(1, 13))
    masked = forecaster.predict().to_numpy()
    assert np.isfinite(masked).all()
    # within a tenth of the sine's mean deviation from its level (1.9) of the
    # truth and of the complete series' forecast
    assert np.abs(masked - truth).mean() < 0.2
    assert np.abs(masked - complete).mean() < 0.2
    # the network reads one mask channel beside the target
    assert forecaster.network_.encoder.layers[0].input_size == 2
    assert gaps.isna().sum() == int(np.isnan(gaps.to_numpy()).sum())  # untouched


def test_complete_series_train_the_network_without_a_mask_channel(tmp_path):
    forecaster = GRUForecaster(**PARAMS).fit(_sine(60), fh=[1, 2])
    assert not forecaster._engine.setup.masked
    assert forecaster.network_.encoder.layers[0].input_size == 1
    path = forecaster.save_model(tmp_path / "complete.gfm")
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(MODEL_JSON))
    assert "masked" not in document["state"]["setup"]["transform"]


def test_a_masked_model_round_trips_through_a_file_and_updates(tmp_path):
    y = _gaps(_sine(72), share=0.15)
    forecaster = GRUForecaster(**PARAMS).fit(y.iloc[:60], fh=[1, 2, 3])
    path = forecaster.save_model(tmp_path / "masked.gfm")
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(MODEL_JSON))
    assert document["state"]["setup"]["transform"]["masked"] is True
    loaded = load_model(path)
    assert loaded._engine.setup.masked
    pd.testing.assert_frame_equal(
        loaded.predict().to_frame(), forecaster.predict().to_frame()
    )
    # update with new values, some missing, trains on and forecasts finitely
    new = y.iloc[60:].copy()
    new.iloc[[2, 5]] = np.nan
    for model in (forecaster, loaded):
        model.update(new, update_params=True)
        assert model.cutoff[0] == y.index[-1]
        assert np.isfinite(model.predict().to_numpy()).all()


def test_a_panel_with_missing_values_in_one_series():
    t = np.arange(60)
    index = pd.MultiIndex.from_product(
        [["a", "b"], pd.RangeIndex(60)], names=["id", "t"]
    )
    values = np.concatenate([np.sin(t / 2) + 3, np.cos(t / 3) + 5])
    y = pd.DataFrame({"v": values}, index=index)
    y.iloc[[3, 10, 11, 12, 40, 55]] = np.nan  # all in series "a"
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2])
    y_pred = forecaster.predict()
    assert y_pred.shape == (4, 1)
    assert np.isfinite(y_pred.to_numpy()).all()
    # series "b", complete, is scaled as it would be alone
    scaler = SeriesScaler("standard").fit([np.cos(t / 3)[:, None] + 5])
    np.testing.assert_allclose(forecaster._engine.scaler.loc_[1], scaler.loc_[0])


def test_in_sample_forecasts_missing_points_and_their_residuals_are_missing():
    y = _gaps(_sine(60), share=0.15)
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1])
    residuals = forecaster.predict_residuals(y)
    missing = y.isna().to_numpy()
    later = np.arange(len(y)) >= WINDOW
    assert residuals[~missing & later].notna().all()
    assert residuals[missing].isna().all()
    fh = -np.arange(len(y) - WINDOW)  # every point with a window before it
    in_sample = forecaster.predict(fh=fh)
    assert np.isfinite(in_sample.to_numpy()).all()


def test_intervals_of_a_masked_model_are_finite():
    y = _gaps(_sine(96, noise=0.3), share=0.2)
    forecaster = GRUForecaster(**PARAMS).fit(y, fh=[1, 2, 3])
    assert np.isnan(forecaster._engine.residuals).any()
    intervals = forecaster.predict_interval(coverage=[0.5, 0.9])
    assert np.isfinite(intervals.to_numpy()).all()
    low, high = intervals.iloc[:, 2], intervals.iloc[:, 3]  # 90 %
    assert (high > low).all()


def test_a_series_whose_last_window_is_missing_is_refused_at_fit_and_update():
    y = _sine(60)
    blank_end = y.where(np.arange(60) < 60 - WINDOW)
    with pytest.raises(ValueError, match=r"y has no observed value of 'y' in its "
                       r"last 12 time points \(window_length=12\)"):  # fmt: skip
        GRUForecaster(**PARAMS).fit(blank_end, fh=[1])
    forecaster = GRUForecaster(**PARAMS).fit(_gaps(y), fh=[1])
    before = forecaster.predict()
    later = _sine(60 + WINDOW).iloc[60:] * np.nan
    with pytest.raises(ValueError, match="no observed value of 'y' in its last 12"):
        forecaster.update(later, update_params=False)
    # the refused update left the forecaster as it was
    pd.testing.assert_series_equal(forecaster.predict(), before)


def test_a_panel_series_without_observations_is_named():
    index = pd.MultiIndex.from_product(
        [["a", "b"], pd.RangeIndex(40)], names=["id", "t"]
    )
    y = pd.DataFrame({"v": np.r_[np.arange(40.0), np.full(40, np.nan)]}, index=index)
    with pytest.raises(ValueError, match=r"y\['b'\] has no observed value in column"):
        GRUForecaster(**PARAMS).fit(y, fh=[1])


def test_a_complete_model_refuses_missing_values_in_update():
    forecaster = GRUForecaster(**PARAMS).fit(_sine(60), fh=[1])
    new = _sine(63).iloc[60:].copy()
    new.iloc[1] = np.nan
    with pytest.raises(ValueError, match="trained on series without any"):
        forecaster.update(new)


def test_onnx_export_refuses_a_network_with_mask_channels(tmp_path):
    pytest.importorskip("onnx")
    forecaster = GRUForecaster(**PARAMS).fit(_gaps(_sine(60)), fh=[1])
    with pytest.raises(ValueError, match="fitted on series with missing values"):
        forecaster.to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_values_beyond_float32_are_refused_beside_missing_ones():
    y = _gaps(_sine(60)) * 1e38
    with pytest.raises(ValueError, match="beyond the float32 range"):
        GRUForecaster(**PARAMS, scaler=None).fit(y, fh=[1])
