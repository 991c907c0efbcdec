"""The network module: encoders and their registry, the forecasting head,
initialisation from a generator and dropout."""

import math

import pytest
import torch
from torch import nn

from gatedforecast.networks import (
    ENCODERS,
    AttentionRNN,
    Encoder,
    ForecastNetwork,
    register_encoder,
)
from gatedforecast.training import Batches, TrainingConfig, train_network

BUILT_IN = ["gru", "lstm", "gru+attention", "lstm+attention"]


def _net(cell="gru", seed=0, **options):
    settings = {"n_inputs": 3, "n_targets": 2, "horizon": 4, "hidden_sizes": (6, 5)}
    settings.update(options)
    network = ForecastNetwork(cell=cell, **settings)
    return network.initialize(torch.Generator().manual_seed(seed))


def _inputs(batch=7, window=9, n_inputs=3, seed=1):
    return torch.randn(
        batch, window, n_inputs, generator=torch.Generator().manual_seed(seed)
    )


def test_the_built_in_encoders_are_registered():
    assert list(ENCODERS)[:4] == BUILT_IN


@pytest.mark.parametrize("cell", BUILT_IN)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_encoder_maps_windows_to_one_forecast_per_step_and_target(
    cell, bidirectional
):
    network = _net(cell, bidirectional=bidirectional)
    directions = 2 if bidirectional else 1
    assert network.encoder.output_size == 5 * directions
    assert network.encoder.cell == cell
    summary = network.encoder(_inputs())
    assert summary.shape == (7, 5 * directions)
    out = network(_inputs())
    assert out.shape == (7, 4, 2)
    assert torch.isfinite(out).all()
    # any window length: the encoders summarise the whole window
    assert network(_inputs(window=2)).shape == (7, 4, 2)


@pytest.mark.parametrize("cell", BUILT_IN)
def test_the_quantile_head_gives_sorted_quantiles(cell):
    network = _net(cell, n_quantiles=3)
    out = network(_inputs())
    assert out.shape == (7, 4, 2, 3)
    assert (out.diff(dim=-1) >= 0).all()


@pytest.mark.parametrize("cell", ["gru", "lstm+attention"])
def test_future_covariates_are_read_by_the_head(cell):
    network = _net(cell, n_future=2)
    assert network.head.in_features == network.encoder.output_size + 4 * 2
    x = _inputs()
    future = torch.zeros(7, 4, 2)
    moved = future.clone()
    moved[:, 3, 1] = 1.0
    assert network(x, future).shape == (7, 4, 2)
    assert not torch.equal(network(x, future), network(x, moved))


@pytest.mark.parametrize("cell", BUILT_IN)
def test_initial_weights_come_from_the_generator_alone(cell):
    torch.manual_seed(11)
    before = torch.random.get_rng_state()
    first, again, other = _net(cell, seed=3), _net(cell, seed=3), _net(cell, seed=4)
    # neither construction nor initialisation touches the global random state
    assert torch.equal(torch.random.get_rng_state(), before)
    for key, value in first.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    assert not torch.equal(first.head.weight, other.head.weight)
    x = _inputs()
    assert torch.equal(first(x), again(x))
    # every weight is drawn uniformly within torch's default bound for its layer
    drawn = 0
    for module in first.modules():
        if isinstance(module, nn.RNNBase):
            bound = 1 / math.sqrt(module.hidden_size)
        elif isinstance(module, nn.Linear):
            bound = 1 / math.sqrt(module.in_features)
        else:
            continue
        for param in module.parameters(recurse=False):
            assert param.abs().max() <= bound
            assert param.abs().max() > bound / 4 or param.numel() < 4
            drawn += param.numel()
    assert drawn == sum(p.numel() for p in first.parameters())


@pytest.mark.parametrize("cell", ["gru", "gru+attention"])
def test_dropout_masks_only_when_asked(cell):
    network = _net(cell, dropout=0.4)
    x = _inputs()
    network.eval()
    plain = network(x)
    assert torch.equal(network(x), plain)

    def masked(**options):
        return network(x, generator=torch.Generator().manual_seed(5), **options)

    # forced on in evaluation mode, reproducible from the generator
    assert not torch.equal(masked(dropout=True), plain)
    assert torch.equal(masked(dropout=True), masked(dropout=True))
    network.train()
    assert torch.equal(masked(), masked(dropout=True))
    # forced off in training mode
    assert torch.equal(masked(dropout=False), plain)
    # no dropout asked: training mode changes nothing
    still = _net(cell, dropout=0.0).train()
    assert torch.equal(still(x, generator=torch.Generator()), still.eval()(x))


def test_attention_weights_are_a_distribution_over_the_window():
    network = _net("gru+attention", bidirectional=True)
    encoder = network.encoder
    assert isinstance(encoder, AttentionRNN)
    states, last = encoder._states(_inputs(), active=False, generator=None)
    summary, weights = encoder.attention(states, last)
    assert weights.shape == (7, 9)
    assert (weights >= 0).all()
    assert torch.allclose(weights.sum(dim=1), torch.ones(7))
    assert summary.shape == (7, encoder.output_size)
    assert summary.abs().max() < 1
    # the plain cell's layers, plus the query and the combination of the context
    keys = set(network.state_dict())
    plain_keys = set(_net("gru", bidirectional=True).state_dict())
    assert keys - plain_keys == {
        "encoder.query.weight",
        "encoder.combine.weight",
        "encoder.combine.bias",
    }


def test_an_unknown_encoder_is_refused_with_the_registered_names():
    with pytest.raises(
        ValueError, match=r"cell='rnn' is not a registered encoder"
    ) as e:
        ForecastNetwork(1, 1, 1, (4,), "rnn")
    message = str(e.value)
    for name in BUILT_IN:
        assert repr(name) in message
    assert "register_encoder" in message
    with pytest.raises(ValueError, match="is not a registered encoder"):
        ForecastNetwork(1, 1, 1, (4,), None)


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="'gru' is already registered"):
        register_encoder("gru", AttentionRNN)
    with pytest.raises(TypeError, match="non-empty string"):
        register_encoder("")
    with pytest.raises(TypeError, match="must be a class or a callable"):
        register_encoder("not_callable", 3)
    assert "not_callable" not in ENCODERS


class MeanEncoder(Encoder):
    """A toy encoder: a linear map of the window's mean, through tanh."""

    def __init__(self, input_size, hidden_sizes, dropout=0.0, bidirectional=False):
        super().__init__()
        self.linear = nn.Linear(input_size, hidden_sizes[-1])
        self.dropout = dropout
        self.output_size = hidden_sizes[-1]

    def forward(self, x, generator=None, dropout=None):
        return torch.tanh(self.linear(x.mean(dim=1)))


@pytest.fixture
def toy_encoder():
    register_encoder("toy_mean")(MeanEncoder)
    yield "toy_mean"
    del ENCODERS["toy_mean"]


def test_a_registered_encoder_works_end_to_end(toy_encoder):
    generator = torch.Generator().manual_seed(0)
    network = ForecastNetwork(2, 1, 3, (4,), toy_encoder, n_quantiles=2)
    network.initialize(generator)
    assert isinstance(network.encoder, MeanEncoder)
    assert network.encoder.cell == "toy_mean"
    before = {k: v.clone() for k, v in network.state_dict().items()}
    x = torch.randn(40, 6, 2, generator=generator)
    y = x[:, -3:, :1]
    from gatedforecast.training import PinballLoss

    result = train_network(
        network,
        Batches(lambda i: (x[i], y[i]), torch.arange(32), torch.arange(32, 40)),
        TrainingConfig(max_epochs=3, batch_size=8, loss=PinballLoss([0.2, 0.8])),
        generator,
    )
    assert result.n_epochs == 3
    assert result.history["val_loss"].notna().all()
    assert not torch.equal(
        before["encoder.linear.weight"], network.encoder.linear.weight
    )
    assert network(x).shape == (40, 3, 1, 2)


def test_an_encoder_with_parameters_initialize_does_not_know_must_draw_them(
    toy_encoder,
):
    class WithScale(MeanEncoder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.scale = nn.Parameter(torch.ones(1))

    register_encoder("toy_scaled", WithScale)
    try:
        network = ForecastNetwork(2, 1, 3, (4,), "toy_scaled")
        with pytest.raises(TypeError, match=r"does not know how to draw \['scale'\]"):
            network.initialize(torch.Generator())
    finally:
        del ENCODERS["toy_scaled"]


def test_a_factory_must_build_an_encoder():
    register_encoder("not_an_encoder", lambda *args, **kwargs: nn.Linear(1, 1))
    try:
        with pytest.raises(TypeError, match="not a gatedforecast.networks.Encoder"):
            ForecastNetwork(1, 1, 1, (4,), "not_an_encoder")
    finally:
        del ENCODERS["not_an_encoder"]
