"""Training through long windows chunk by chunk (``bptt_chunk``): exact gradients,
the same forecasts, memory that does not grow with the window, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gatedforecast import GRUForecaster, GRURegressor, LSTMForecaster
from gatedforecast.chunked_bptt import bptt_chunks
from gatedforecast.networks import AttentionRNN, StackedRNN


def _gradients(encoder, x, chunk, dropout):
    generator = torch.Generator().manual_seed(3)
    encoder.zero_grad()
    with bptt_chunks(encoder, chunk):
        out = encoder(x, generator=generator, dropout=dropout)
        out.pow(2).sum().backward()
    grads = [p.grad.clone() for p in encoder.parameters()]
    return out.detach(), grads, generator.get_state()


@pytest.mark.parametrize(
    ("encoder_class", "cell", "dropout"),
    [
        (StackedRNN, "gru", 0.0),
        (StackedRNN, "lstm", 0.3),
        (AttentionRNN, "gru", 0.2),
        (AttentionRNN, "lstm", 0.0),
    ],
)
def test_chunked_gradients_equal_whole_windows(encoder_class, cell, dropout):
    torch.manual_seed(0)
    encoder = encoder_class(3, (8, 6), cell=cell, dropout=dropout).double()
    encoder.initialize(torch.Generator().manual_seed(1))
    x = torch.randn(5, 40, 3, dtype=torch.float64)
    whole = _gradients(encoder, x, None, dropout > 0)
    chunked = _gradients(encoder, x, 7, dropout > 0)
    torch.testing.assert_close(chunked[0], whole[0], rtol=0, atol=1e-12)
    for got, expected in zip(chunked[1], whole[1]):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    # the recomputation draws its dropout masks again and leaves the generator
    # where the whole-window pass leaves it
    assert torch.equal(chunked[2], whole[2])


def test_bptt_chunks_sets_the_chunk_within_the_block_only():
    encoder = StackedRNN(2, (4,), cell="gru")
    assert encoder.bptt_chunk is None
    with bptt_chunks(encoder, 5):
        assert encoder.bptt_chunk == 5
    assert encoder.bptt_chunk is None
    assert "bptt_chunk" not in vars(encoder)


def test_a_network_without_a_chunkable_encoder_is_refused():
    """Nothing to chunk is an error, not whole windows in silence."""
    with (
        pytest.raises(ValueError, match="holds none"),
        bptt_chunks(torch.nn.Linear(2, 2), 5),
    ):
        pass


def _saved_bytes(encoder, steps, chunk):
    """Bytes the forward pass of a batch of windows keeps for the backward pass."""
    x = torch.randn(16, steps, 2)
    total = [0]

    def pack(tensor):
        total[0] += tensor.numel() * tensor.element_size()
        return tensor

    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    with bptt_chunks(encoder, chunk), hooks:
        encoder(x).sum()
    return total[0]


def test_memory_kept_for_backward_does_not_grow_with_the_window():
    encoder = StackedRNN(2, (16, 16), cell="gru")
    short = _saved_bytes(encoder, 50, None)
    # a whole window of 1,600 steps keeps about 32 times a 50-step window's
    assert _saved_bytes(encoder, 1600, None) > 20 * short
    # chunks of 25 keep only the states between chunks: less than a whole
    # window of 50 steps keeps
    assert _saved_bytes(encoder, 1600, 25) < short


@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_forecasts_equal_whole_window_training(cls):
    t = np.arange(400)
    y = pd.Series(np.sin(t / 5) + 0.1 * np.random.default_rng(0).normal(size=400))
    params = dict(window_length=60, max_epochs=3, hidden_sizes=(8, 4), dropout=0.1)
    params.update(random_state=0, ensemble_size=1)
    whole = cls(**params).fit(y, fh=[1, 2, 3]).predict()
    chunked = cls(**params, bptt_chunk=16).fit(y, fh=[1, 2, 3]).predict()
    np.testing.assert_allclose(chunked.to_numpy(), whole.to_numpy(), atol=1e-5)


def test_auto_ensemble_trains_one_network_with_chunks():
    y = pd.Series(np.sin(np.arange(80) / 3))
    params = dict(window_length=20, max_epochs=2, hidden_sizes=4, random_state=0)
    assert GRUForecaster(**params).fit(y, fh=[1]).ensemble_size_ == 5
    chunked = GRUForecaster(**params, bptt_chunk=8).fit(y, fh=[1])
    assert chunked.ensemble_size_ == 1


def test_regressor_trains_chunk_by_chunk():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 30))
    y = X[:, -1] * 2.0
    params = dict(hidden_sizes=4, max_epochs=3, random_state=0, ensemble_size=1)
    whole = GRURegressor(**params).fit(X, y).predict(X)
    chunked = GRURegressor(**params, bptt_chunk=7).fit(X, y).predict(X)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bptt_chunk": 8, "bidirectional": True}, "use bidirectional=False"),
        ({"bptt_chunk": 8, "ensemble_size": 3}, "Use ensemble_size=1"),
        ({"bptt_chunk": 0}, "bptt_chunk"),
        ({"bptt_chunk": 2.5}, "bptt_chunk"),
    ],
)
def test_bad_settings_are_refused(params, message):
    y = pd.Series(np.arange(40.0))
    with pytest.raises((ValueError, TypeError), match=message):
        GRUForecaster(window_length=8, max_epochs=1, **params).fit(y, fh=[1])


def test_a_chunked_forecaster_saves_and_loads(tmp_path):
    """Training in chunks leaves the network as a model file describes it."""
    from gatedforecast import load_model, save_model

    y = pd.Series(np.sin(np.arange(120) / 4))
    forecaster = GRUForecaster(window_length=30, max_epochs=2, hidden_sizes=4)
    forecaster.set_params(bptt_chunk=8, random_state=0).fit(y, fh=[1, 2])
    save_model(forecaster, tmp_path / "m.gfm")
    loaded = load_model(tmp_path / "m.gfm")
    assert loaded.bptt_chunk == 8
    np.testing.assert_array_equal(loaded.predict(), forecaster.predict())
