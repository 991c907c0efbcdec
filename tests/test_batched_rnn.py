"""recurrent_layer: per member the same outputs and gradients as nn.GRU / nn.LSTM."""

import pytest
import torch

from gatedforecast.batched_rnn import recurrent_layer

MODULES = {"gru": (torch.nn.GRU, 3), "lstm": (torch.nn.LSTM, 4)}
NAMES = ("weight_ih_l0", "bias_ih_l0", "weight_hh_l0", "bias_hh_l0")


def _weights(cell, k, inputs, hidden, dtype=torch.float32, seed=0):
    gates = MODULES[cell][1]
    gen = torch.Generator().manual_seed(seed)
    shapes = [
        (k, inputs, gates * hidden),
        (k, gates * hidden),
        (k, hidden, gates * hidden),
        (k, gates * hidden),
    ]
    return [
        (0.5 * torch.randn(s, generator=gen, dtype=dtype)).requires_grad_()
        for s in shapes
    ]


def _torch_member(cell, weights, j, reverse):
    """nn.GRU/nn.LSTM (bidirectional when reverse, to read its second direction)
    loaded with member j's weights."""
    module, _ = MODULES[cell]
    inputs, hidden = weights[0].shape[1], weights[2].shape[1]
    net = module(inputs, hidden, batch_first=True, bidirectional=reverse)
    suffix = "_reverse" if reverse else ""
    with torch.no_grad():
        for name, w in zip(NAMES, weights):
            getattr(net, name + suffix).copy_(w[j].T if w.dim() == 3 else w[j])
    return net


@pytest.mark.parametrize("read", ["every step", "last state"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_outputs_and_gradients_equal_torch_per_member(cell, reverse, read):
    k, batch, steps, inputs, hidden = 3, 4, 7, 2, 5
    weights = _weights(cell, k, inputs, hidden)
    x = torch.randn(k, batch, steps, inputs, requires_grad=True)
    out, last = recurrent_layer(cell, x, *weights, reverse=reverse, return_last=True)
    assert out.shape == (k, batch, steps, hidden)
    last_step = 0 if reverse else -1
    torch.testing.assert_close(last, out[:, :, last_step], atol=0, rtol=0)
    # a loss that reads every step, or (as the top of a stack) the last state
    # alone, returned on its own so that no other step's gradient is built
    mix = torch.randn(k, batch, steps, hidden)
    if read == "last state":
        mix[:, :, torch.arange(steps) != torch.arange(steps)[last_step]] = 0.0
        (last * mix[:, :, last_step]).sum().backward()
    else:
        (out * mix).sum().backward()
    for j in range(k):
        net = _torch_member(cell, weights, j, reverse)
        xj = x[j].detach().clone().requires_grad_()
        expected = net(xj)[0]
        expected = expected[..., hidden:] if reverse else expected
        torch.testing.assert_close(out[j], expected, atol=1e-5, rtol=0)
        (expected * mix[j]).sum().backward()
        torch.testing.assert_close(x.grad[j], xj.grad, atol=1e-4, rtol=0)
        suffix = "_reverse" if reverse else ""
        for name, w in zip(NAMES, weights):
            grad = getattr(net, name + suffix).grad
            grad = grad.T if w.dim() == 3 else grad
            torch.testing.assert_close(w.grad[j], grad, atol=1e-4, rtol=0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradcheck_float64(cell, reverse):
    k, batch, steps, inputs, hidden = 2, 2, 4, 2, 3
    weights = _weights(cell, k, inputs, hidden, dtype=torch.float64)
    x = torch.randn(k, batch, steps, inputs, dtype=torch.float64, requires_grad=True)

    def layer(x, *weights):
        return recurrent_layer(cell, x, *weights, reverse=reverse)

    assert torch.autograd.gradcheck(layer, (x, *weights))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_shared_expanded_input_equals_copied_input(cell):
    k, batch, steps, inputs, hidden = 3, 4, 6, 1, 5
    weights = _weights(cell, k, inputs, hidden)
    x1 = torch.randn(batch, steps, inputs, requires_grad=True)
    shared = recurrent_layer(cell, x1.expand(k, -1, -1, -1), *weights)
    (shared[:, :, -1] ** 2).sum().backward()
    grads = [w.grad.clone() for w in weights]
    x1_grad = x1.grad.clone()
    for w in weights:
        w.grad = None
    copied_x = x1.detach().repeat(k, 1, 1, 1).requires_grad_()
    copied = recurrent_layer(cell, copied_x, *weights)
    (copied[:, :, -1] ** 2).sum().backward()
    torch.testing.assert_close(shared, copied, atol=1e-6, rtol=0)
    torch.testing.assert_close(x1_grad, copied_x.grad.sum(0), atol=1e-5, rtol=0)
    for got, w in zip(grads, weights):
        torch.testing.assert_close(got, w.grad, atol=1e-5, rtol=0)


def test_stacked_layers_read_the_returned_states():
    k, batch, steps, hidden = 2, 3, 5, 4
    first = _weights("gru", k, 1, hidden, seed=1)
    second = _weights("lstm", k, hidden, hidden, seed=2)
    x = torch.randn(k, batch, steps, 1)
    top = recurrent_layer("lstm", recurrent_layer("gru", x, *first), *second)
    top[:, :, -1].sum().backward()
    for j in range(k):
        gru = _torch_member("gru", first, j, False)
        lstm = _torch_member("lstm", second, j, False)
        torch.testing.assert_close(top[j], lstm(gru(x[j])[0])[0], atol=1e-5, rtol=0)
    assert all(w.grad is not None for w in first + second)


def test_no_grad_forward_matches():
    weights = _weights("gru", 2, 1, 3)
    x = torch.randn(2, 3, 4, 1)
    with torch.no_grad():
        plain = recurrent_layer("gru", x, *weights)
    torch.testing.assert_close(plain, recurrent_layer("gru", x, *weights).detach())


def test_bad_cell_name_raises():
    weights = _weights("gru", 2, 1, 3)
    with pytest.raises(ValueError, match="cell must be 'gru' or 'lstm'"):
        recurrent_layer("rnn", torch.randn(2, 3, 4, 1), *weights)


def test_mismatched_weight_shape_raises():
    weights = _weights("gru", 2, 1, 3)
    with pytest.raises(ValueError, match="w_ih must have shape .2, 1, 12."):
        recurrent_layer("lstm", torch.randn(2, 3, 4, 1), *weights)


def test_empty_window_raises():
    weights = _weights("gru", 2, 1, 3)
    with pytest.raises(ValueError, match="at least one entry"):
        recurrent_layer("gru", torch.randn(2, 3, 0, 1), *weights)


def test_output_changed_in_place_is_refused():
    # the states are the backward's saved buffer: an in-place change must not
    # silently give wrong gradients
    weights = _weights("lstm", 2, 1, 3)
    out = recurrent_layer("lstm", torch.randn(2, 3, 4, 1), *weights)
    with pytest.raises(RuntimeError, match="inplace"):
        out.mul_(2.0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("reverse", [False, True])
def test_a_trace_records_the_same_layer_in_plain_operations(cell, reverse):
    """Under torch.jit.trace (what ONNX export runs) the layer is written as
    plain operations, with the values of the fast path."""
    torch.manual_seed(0)
    gates = 3 if cell == "gru" else 4
    k, batch, steps, inputs, hidden = 3, 2, 6, 2, 4

    class Layer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = torch.nn.ParameterList(
                torch.randn(*shape)
                for shape in (
                    (k, inputs, gates * hidden),
                    (k, gates * hidden),
                    (k, hidden, gates * hidden),
                    (k, gates * hidden),
                )
            )

        def forward(self, x):
            return recurrent_layer(cell, x, *self.weights, reverse=reverse)

    layer = Layer()
    with torch.no_grad():
        traced = torch.jit.trace(layer, torch.randn(k, batch, steps, inputs))
        other = torch.randn(k, batch, steps, inputs)
        torch.testing.assert_close(traced(other), layer(other), rtol=1e-5, atol=1e-5)


def _grads(cell, x, weights, **options):
    out = recurrent_layer(cell, x, *weights, **options)
    return out, torch.autograd.grad(out.sum(), weights)


def test_graphs_alive_together_do_not_share_buffers():
    """The GRU keeps its buffers between training calls: two graphs of one
    shape alive at once get buffers of their own, in either order of backward."""
    weights = _weights("gru", 1, 1, 4)
    x1, x2 = torch.randn(1, 3, 5, 1), torch.randn(1, 3, 5, 1)
    _, alone1 = _grads("gru", x1, weights)
    _, alone2 = _grads("gru", x2, weights)
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


def test_the_gru_returns_new_tensors_not_its_kept_buffers():
    weights = _weights("gru", 1, 1, 4)
    # only a detached copy is kept: the first graph is freed, and its buffers
    # serve the next call of this shape
    first = _grads("gru", torch.randn(1, 2, 5, 1), weights)[0].detach()
    kept = first.clone()
    _grads("gru", torch.randn(1, 2, 5, 1), weights)
    assert torch.equal(first, kept)


def test_gru_weights_changed_in_place_before_backward_are_refused():
    # as for nn.GRU: the backward pass would otherwise use the new weights
    weights = _weights("gru", 1, 2, 4)
    out = recurrent_layer("gru", torch.randn(1, 3, 5, 2), *weights)
    with torch.no_grad():
        weights[0].mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_a_gru_pass_without_gradients_keeps_no_buffers(monkeypatch):
    import gatedforecast.batched_gru as batched_gru

    def refused(key, like):
        raise AssertionError("pooled")

    monkeypatch.setattr(batched_gru._POOL, "take", refused)
    weights = [w.detach() for w in _weights("gru", 2, 1, 4)]
    x = torch.randn(2, 3, 5, 1)
    plain = recurrent_layer("gru", x, *weights)  # nothing requires a gradient
    with torch.no_grad():
        also = recurrent_layer("gru", x, *[w.requires_grad_() for w in weights])
    assert torch.equal(plain, also)


def test_a_memory_order_other_than_batch_or_time_is_refused():
    weights = _weights("gru", 1, 1, 4)
    with pytest.raises(ValueError, match="memory must be 'batch' or 'time'"):
        recurrent_layer("gru", torch.randn(1, 2, 3, 1), *weights, memory="rows")
