"""The GRU stack trains on a CPU through the hand-written GRU of batched_rnn:
the same outputs and gradients as nn.GRU, working buffers reused safely."""

import pytest
import torch
from torch.func import functional_call

import gatedforecast.batched_gru as batched_gru
import gatedforecast.encoders as encoders
from gatedforecast.batched_rnn import recurrent_layer
from gatedforecast.networks import ForecastNetwork
from gatedforecast.training import Batches, TrainingConfig, train_network


def _network(
    cell="gru", hidden=(6,), bidirectional=False, n_inputs=2, seed=0, dropout=0.0
):
    torch.manual_seed(seed)
    return ForecastNetwork(
        n_inputs, 1, 3, hidden, cell=cell, bidirectional=bidirectional, dropout=dropout
    )


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
    monkeypatch, cell, hidden, bidirectional, dropout
):
    calls = []
    real = encoders.recurrent_layer

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(encoders, "recurrent_layer", counted)
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


def test_last_state_alone_carries_the_gradient_of_nn_gru():
    torch.manual_seed(1)
    k, batch, steps, width, hidden = 2, 3, 6, 2, 4
    weights = [
        torch.randn(k, width, 3 * hidden, requires_grad=True),
        torch.randn(k, 3 * hidden, requires_grad=True),
        torch.randn(k, hidden, 3 * hidden, requires_grad=True),
        torch.randn(k, 3 * hidden, requires_grad=True),
    ]
    x = torch.randn(k, batch, steps, width, requires_grad=True)
    for reverse in (False, True):
        out, last = recurrent_layer(
            "gru", x, *weights, reverse=reverse, return_last=True
        )
        torch.testing.assert_close(last, out[:, :, 0 if reverse else -1])
        grads = torch.autograd.grad(last.pow(2).sum(), [x, *weights])
        gru = torch.nn.GRU(width, hidden, batch_first=True)
        finals = []
        for j in range(k):
            params = {
                "weight_ih_l0": weights[0][j].T,
                "bias_ih_l0": weights[1][j],
                "weight_hh_l0": weights[2][j].T,
                "bias_hh_l0": weights[3][j],
            }
            seq = x[j].flip(1) if reverse else x[j]
            finals.append(functional_call(gru, params, (seq,))[1][0])
        expected = torch.autograd.grad(torch.stack(finals).pow(2).sum(), [x, *weights])
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_graphs_alive_together_do_not_share_buffers():
    torch.manual_seed(2)
    weights = [
        torch.randn(1, 1, 12, requires_grad=True),
        torch.randn(1, 12, requires_grad=True),
        torch.randn(1, 4, 12, requires_grad=True),
        torch.randn(1, 12, requires_grad=True),
    ]
    x1, x2 = torch.randn(1, 3, 5, 1), torch.randn(1, 3, 5, 1)

    def grads_of(x, retain=False):
        out = recurrent_layer("gru", x, *weights)
        return out, torch.autograd.grad(out.sum(), weights, retain_graph=retain)

    _, alone1 = grads_of(x1)
    _, alone2 = grads_of(x2)
    # two graphs of the same shape alive at once, then backward in either order
    out1 = recurrent_layer("gru", x1, *weights)
    out2 = recurrent_layer("gru", x2, *weights)
    together2 = torch.autograd.grad(out2.sum(), weights)
    together1 = torch.autograd.grad(out1.sum(), weights, retain_graph=True)
    # a retained graph runs its backward again with the same result
    again1 = torch.autograd.grad(out1.sum(), weights)
    for a, b, c in zip(alone1, together1, again1):
        assert torch.equal(a, b)
        assert torch.equal(a, c)
    for a, b in zip(alone2, together2):
        assert torch.equal(a, b)


def test_outputs_are_new_tensors_not_the_working_buffer():
    weights = [torch.randn(1, 1, 12), torch.randn(1, 12)]
    weights += [torch.randn(1, 4, 12), torch.randn(1, 12)]
    x = torch.randn(1, 2, 5, 1)
    first = recurrent_layer("gru", x, *weights)
    kept = first.clone()
    recurrent_layer("gru", torch.randn(1, 2, 5, 1), *weights)
    assert torch.equal(first, kept)
    first.mul_(2.0)  # the backward pass does not read the returned tensor


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


def test_weights_changed_in_place_before_backward_are_refused():
    # as for nn.GRU: the backward pass would otherwise use the new weights
    weights = [torch.randn(1, 2, 12, requires_grad=True), torch.randn(1, 12)]
    weights += [torch.randn(1, 4, 12), torch.randn(1, 12)]
    x = torch.randn(1, 3, 5, 2, requires_grad=True)
    out = recurrent_layer("gru", x, *weights)
    with torch.no_grad():
        weights[0].mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_a_forward_pass_without_gradients_keeps_no_buffers(monkeypatch):
    def refused(key, like):
        raise AssertionError("pooled")

    monkeypatch.setattr(batched_gru._POOL, "take", refused)
    weights = [torch.randn(2, 1, 12), torch.randn(2, 12)]
    weights += [torch.randn(2, 4, 12), torch.randn(2, 12)]
    x = torch.randn(2, 3, 5, 1)
    plain = recurrent_layer("gru", x, *weights)  # nothing requires a gradient
    with torch.no_grad():
        also = recurrent_layer("gru", x, *[w.requires_grad_() for w in weights])
    assert torch.equal(plain, also)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("reverse", [False, True])
def test_an_initial_state_is_read_and_takes_its_gradient_as_in_nn_gru(k, reverse):
    torch.manual_seed(3)
    batch, steps, width, hidden = 3, 5, 2, 4
    weights = [
        torch.randn(k, width, 3 * hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(k, 3 * hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(k, hidden, 3 * hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(k, 3 * hidden, dtype=torch.float64, requires_grad=True),
    ]
    x = torch.randn(k, batch, steps, width, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(k, batch, hidden, dtype=torch.float64, requires_grad=True)
    leaves = [x, h0, *weights]
    out, last = recurrent_layer(
        "gru", x, *weights, reverse=reverse, return_last=True, h0=h0
    )
    got = torch.autograd.grad(out.sum() + last.pow(2).sum(), leaves)
    gru = torch.nn.GRU(width, hidden, batch_first=True, dtype=torch.float64)
    outs, finals = [], []
    for j in range(k):
        params = {
            "weight_ih_l0": weights[0][j].T,
            "bias_ih_l0": weights[1][j],
            "weight_hh_l0": weights[2][j].T,
            "bias_hh_l0": weights[3][j],
        }
        seq = x[j].flip(1) if reverse else x[j]
        o, h_n = functional_call(gru, params, (seq, h0[j].unsqueeze(0)))
        outs.append(o.flip(1) if reverse else o)
        finals.append(h_n[0])
    want_out, want_last = torch.stack(outs), torch.stack(finals)
    torch.testing.assert_close(out, want_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(last, want_last, atol=1e-12, rtol=0)
    want = torch.autograd.grad(want_out.sum() + want_last.pow(2).sum(), leaves)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    # the next call without h0 starts from zeros again (the buffers are reused)
    again = recurrent_layer("gru", x, *weights, reverse=reverse)
    zero = recurrent_layer("gru", x, *weights, reverse=reverse, h0=torch.zeros_like(h0))
    torch.testing.assert_close(again, zero, atol=0, rtol=0)


def test_a_wrong_initial_state_is_refused():
    weights = [torch.randn(1, 1, 12), torch.randn(1, 12)]
    weights += [torch.randn(1, 4, 12), torch.randn(1, 12)]
    x = torch.randn(1, 2, 5, 1)
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 4\)"):
        recurrent_layer("gru", x, *weights, h0=torch.zeros(2, 4))
    lstm = [torch.randn(1, 1, 16), torch.randn(1, 16)]
    lstm += [torch.randn(1, 4, 16), torch.randn(1, 16)]
    with pytest.raises(ValueError, match="the LSTM layer starts from zeros"):
        recurrent_layer("lstm", x, *lstm, h0=torch.zeros(1, 2, 4))


def test_chunks_of_bptt_chunk_keep_the_torch_modules(monkeypatch):
    """Chunks run nn.GRU (the GRU layer's buffers, two chunks' worth alive in the
    recomputation, would break the flat memory per window); whole windows of
    the same encoder run the GRU layer, with the same gradients."""
    from gatedforecast.chunked_bptt import bptt_chunks
    from gatedforecast.networks import StackedRNN

    calls = []
    real = encoders.recurrent_layer

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(encoders, "recurrent_layer", counted)
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
