"""The GRU stack trains on a CPU through the GRU layer of batched_rnn: the same
outputs and gradients as nn.GRU, nn.GRU where it still runs, and the layer's
kept buffers bounded and released (the layer itself: test_batched_rnn.py)."""

import pytest
import torch

import gatedforecast.batched_gru as batched_gru
import gatedforecast.encoders as encoders
from gatedforecast.networks import ForecastNetwork
from gatedforecast.training import Batches, TrainingConfig, train_network


def _network(
    cell="gru", hidden=(6,), bidirectional=False, n_inputs=2, seed=0, dropout=0.0
):
    torch.manual_seed(seed)
    return ForecastNetwork(
        n_inputs, 1, 3, hidden, cell=cell, bidirectional=bidirectional, dropout=dropout
    )


@pytest.fixture
def layer_calls(monkeypatch):
    """The cells the encoders pass to recurrent_layer, call by call."""
    calls = []
    real = encoders.recurrent_layer

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(encoders, "recurrent_layer", counted)
    return calls


def _loss_and_grads(network, x, y):
    network.zero_grad()
    # dropout masks from a fresh generator: the same masks only if the outputs
    # they multiply lie in memory in the same order
    out = network(x, generator=torch.Generator().manual_seed(5))
    loss = (out.reshape(y.shape) - y).pow(2).mean()
    loss.backward()
    return out.detach(), {n: p.grad.clone() for n, p in network.named_parameters()}


@pytest.mark.parametrize(
    ("cell", "hidden", "bidirectional", "dropout"),
    [
        ("gru", (6,), False, 0.0),
        ("gru", (6, 5), False, 0.3),
        ("gru", (4, 3), True, 0.3),
        ("gru+attention", (5, 4), False, 0.2),
    ],
)
def test_training_forward_and_gradients_equal_nn_gru(
    monkeypatch, layer_calls, cell, hidden, bidirectional, dropout
):
    calls = layer_calls
    network = _network(cell, hidden, bidirectional, dropout=dropout)
    network.train()
    x, y = torch.randn(7, 9, 2), torch.randn(7, 3, 1)
    fast_out, fast_grads = _loss_and_grads(network, x, y)
    directions = 2 if bidirectional else 1
    assert calls == ["gru"] * (len(hidden) * directions)

    monkeypatch.setattr(encoders, "_trains_fast_gru", lambda layer, x: False)
    calls.clear()
    plain_out, plain_grads = _loss_and_grads(network, x, y)
    assert calls == []
    torch.testing.assert_close(fast_out, plain_out, atol=1e-5, rtol=0)
    assert fast_grads.keys() == plain_grads.keys()
    for name, grad in fast_grads.items():
        torch.testing.assert_close(grad, plain_grads[name], atol=1e-5, rtol=1e-4)


def test_predictions_and_the_lstm_keep_the_torch_modules(monkeypatch):
    def refused(*args, **kwargs):
        raise AssertionError("recurrent_layer called")

    monkeypatch.setattr(encoders, "recurrent_layer", refused)
    x = torch.randn(4, 6, 2)
    gru = _network("gru")
    with torch.no_grad():
        out = gru(x)
    layer = gru.encoder.layers[0]
    with torch.no_grad():
        expected = gru.head(torch.cat(tuple(layer(x)[1]), -1))
    assert torch.equal(out.reshape(expected.shape), expected)
    lstm = _network("lstm")
    lstm(x).sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())


def test_the_pool_keeps_at_most_its_byte_budget():
    pool = batched_gru._WorkPool(max_bytes=0)
    like = torch.zeros(1)
    key = (1, 2, 3, 1, 4, False, like.dtype, like.device)
    work = pool.take(key, like)
    pool.give(key, work)
    assert not pool.free
    roomy = batched_gru._WorkPool()
    roomy.give(key, work)
    assert roomy.take(key, like) is work
    assert roomy.take(key, like) is not work


def test_training_leaves_no_working_buffers_behind():
    generator = torch.Generator().manual_seed(0)
    network = ForecastNetwork(1, 1, 1, (4,), "gru").initialize(generator)
    inputs = torch.randn(40, 6, 1, generator=generator)
    targets = inputs[:, -1:, :] * 0.5
    batches = Batches(
        make=lambda items: (inputs[items], targets[items]),
        train=torch.arange(32),
        validation=torch.arange(32, 40),
    )
    seen = []
    real_take = batched_gru._POOL.take

    def take(key, like):
        seen.append(key)
        return real_take(key, like)

    batched_gru._POOL.take = take
    try:
        train_network(
            network, batches, TrainingConfig(batch_size=16, max_epochs=2), generator
        )
    finally:
        del batched_gru._POOL.take
    assert seen  # the training steps ran through the pool
    assert not batched_gru._POOL.free


def test_chunks_of_bptt_chunk_keep_the_torch_modules(layer_calls):
    """Chunks run nn.GRU (the GRU layer's buffers, two chunks' worth alive in the
    recomputation, would break the flat memory per window); whole windows of
    the same encoder run the GRU layer, with the same gradients."""
    from gatedforecast.chunked_bptt import bptt_chunks
    from gatedforecast.networks import StackedRNN

    calls = layer_calls
    encoder = StackedRNN(2, (5, 4), cell="gru", dropout=0.2).double()
    encoder.initialize(torch.Generator().manual_seed(1))
    x = torch.randn(3, 20, 2, dtype=torch.float64)

    def grads(chunk):
        encoder.zero_grad()
        with bptt_chunks(encoder, chunk):
            out = encoder(x, generator=torch.Generator().manual_seed(2), dropout=True)
            out.pow(2).sum().backward()
        return out.detach(), [p.grad.clone() for p in encoder.parameters()]

    chunked_out, chunked = grads(6)
    assert calls == []
    whole_out, whole = grads(None)
    assert calls == ["gru", "gru"]
    torch.testing.assert_close(chunked_out, whole_out, atol=1e-12, rtol=0)
    for a, b in zip(chunked, whole):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
