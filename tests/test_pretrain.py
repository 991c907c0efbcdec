"""Pretrain a global network on a panel, then apply it to single series."""

import copy
import time

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST

from gatedforecast import GRUForecaster


def _series(seed, n=60, start=0):
    t = np.arange(start, start + n)
    rng = np.random.default_rng(seed)
    values = 10 + seed + np.sin(2 * np.pi * t / 12) + 0.1 * rng.normal(size=n)
    return pd.Series(values, index=pd.RangeIndex(start, start + n), name="y")


def _panel(n_series=4):
    return pd.concat(
        {f"s{i}": _series(i).to_frame() for i in range(n_series)}, names=["id", "time"]
    )


def _weights(network):
    return {k: v.clone() for k, v in network.state_dict().items()}


def test_fit_after_pretrain_applies_the_pretrained_network_without_training():
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.pretrain(_panel(), fh=[1, 2, 3])
    assert forecaster.state == "pretrained"
    assert "pretrained_network_" in forecaster.get_pretrained_params()
    pretrained = _weights(forecaster.pretrained_network_)
    started = time.perf_counter()
    forecaster.fit(_series(9), fh=[1, 2, 3])
    assert time.perf_counter() - started < 2.0
    assert forecaster.n_epochs_ == 0
    for name, value in forecaster.network_.state_dict().items():
        assert torch.equal(value, pretrained[name])
    y_pred = forecaster.predict()
    assert list(y_pred.index) == [60, 61, 62]
    # scaled with the new series' own statistics: its level, not the panel's
    assert abs(y_pred.mean() - _series(9).mean()) < 3


def test_fine_tuning_series_a_does_not_leak_into_series_b():
    forecaster = GRUForecaster(
        **FAST, window_length=12, fine_tune_epochs=2, random_state=0
    )
    forecaster.pretrain(_panel(), fh=[1, 2])
    pretrained = _weights(forecaster.pretrained_network_)
    fresh = copy.deepcopy(forecaster)

    forecaster.fit(_series(7), fh=[1, 2])
    assert forecaster.n_epochs_ == 2
    forecaster.fit(_series(8), fh=[1, 2])
    fresh.fit(_series(8), fh=[1, 2])
    pd.testing.assert_series_equal(forecaster.predict(), fresh.predict())
    for name, value in forecaster.pretrained_network_.state_dict().items():
        assert torch.equal(value, pretrained[name])


def test_horizon_beyond_the_pretrained_head_is_rolled_out():
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.pretrain(_panel(), fh=[1, 2])
    forecaster.fit(_series(5))
    assert forecaster.horizon_ == 2
    y_pred = forecaster.predict(fh=range(1, 8))
    assert len(y_pred) == 7
    assert np.isfinite(y_pred.to_numpy()).all()


def test_pretrain_twice_continues_the_history():
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.pretrain(_panel(2), fh=[1])
    forecaster.pretrain(_panel(4), fh=[1])
    assert forecaster.pretrained_history_["epoch"].tolist() == [1, 2, 3, 4, 5, 6]


def test_data_the_pretrained_network_cannot_read_is_refused():
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.pretrain(_panel(), fh=[1])
    two_columns = pd.DataFrame({"y": _series(1), "z": _series(2)})
    with pytest.raises(ValueError, match=r"pretrained on 1 y column\(s\) \['y'\]"):
        forecaster.fit(two_columns, fh=[1])
    with pytest.raises(ValueError, match="has 8 observations.*windows of 12"):
        forecaster.fit(_series(1, n=8), fh=[1])


def test_another_encoder_than_the_pretrained_one_is_refused():
    forecaster = GRUForecaster(**FAST, window_length=12, random_state=0)
    forecaster.pretrain(_panel(2), fh=[1])
    pretrained = _weights(forecaster.pretrained_network_)
    # set_params would reset the forecaster, pretrained network included; an
    # attribute set directly keeps it
    forecaster.attention = True
    message = (
        r"pretrained with the encoder 'gru', but attention=True asks for "
        r"'gru\+attention'"
    )
    with pytest.raises(ValueError, match=message):
        forecaster.fit(_series(1), fh=[1])
    with pytest.raises(ValueError, match=message):
        forecaster.pretrain(_panel(2), fh=[1])
    for name, value in forecaster.pretrained_network_.state_dict().items():
        assert torch.equal(value, pretrained[name])
    forecaster.attention = False
    assert forecaster.fit(_series(1), fh=[1]).predict().notna().all()
