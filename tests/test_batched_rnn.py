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


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_outputs_and_gradients_equal_torch_per_member(cell, reverse):
    k, batch, steps, inputs, hidden = 3, 4, 7, 2, 5
    weights = _weights(cell, k, inputs, hidden)
    x = torch.randn(k, batch, steps, inputs, requires_grad=True)
    out = recurrent_layer(cell, x, *weights, reverse=reverse)
    assert out.shape == (k, batch, steps, hidden)
    # a loss that reads every step, not only the last
    mix = torch.randn(k, batch, steps, hidden)
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
