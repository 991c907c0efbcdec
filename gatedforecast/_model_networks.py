"""Networks in a model file: the description that rebuilds a
:class:`~gatedforecast.networks.ForecastNetwork`, checked before anything is built
from it, and against the stored weights' shapes."""

from __future__ import annotations

import torch

from ._model_archive import MODEL_JSON, WEIGHTS, ModelFileError
from .networks import CELLS, ForecastNetwork
from .static import static_sizes_valid


# ---------------------------------------------------------------------- networks
def network_spec(network) -> dict:
    """Constructor arguments of a :class:`ForecastNetwork`, read from the network."""
    encoder = network.encoder
    arguments = network._arguments
    spec = {
        "n_inputs": arguments["n_inputs"],
        "n_targets": network.n_targets,
        "horizon": network.horizon,
        "hidden_sizes": list(arguments["hidden_sizes"]),
        "cell": encoder.cell,
        "dropout": encoder.dropout,
        "bidirectional": arguments["bidirectional"],
        "n_future": network.n_future,
    }
    if getattr(network, "n_quantiles", 0):
        spec["n_quantiles"] = network.n_quantiles
    if network.n_members > 1:
        spec["n_members"] = network.n_members
    # written only when there is one, so files of networks without it keep
    # their description
    if getattr(network, "covariate_effect", 0):
        spec["covariate_effect"] = network.covariate_effect
    if getattr(network, "static", None) is not None:
        spec["n_static"] = network.static.n_numeric
        spec["static_levels"] = list(network.static.levels)
        spec["static_at"] = network.static_at
    return spec


def build_network(spec: dict) -> ForecastNetwork:
    spec = dict(spec)
    spec["hidden_sizes"] = tuple(spec["hidden_sizes"])
    if "static_levels" in spec:
        spec["static_levels"] = tuple(spec["static_levels"])
    return ForecastNetwork(**spec)


def plain_attributes(module: torch.nn.Module) -> dict:
    """The non-tensor attributes of every submodule, to compare two networks."""
    out = {}
    for name, sub in module.named_modules():
        for key, value in vars(sub).items():
            if not key.startswith("_") and key != "training":
                out[f"{name}.{key}"] = value
    return out


def check_spec(spec) -> dict:
    """The description of a network read from a file, refused unless every value
    has the type and range :class:`ForecastNetwork` takes."""
    if not isinstance(spec, dict):
        raise ModelFileError(f"a network's description is not a mapping: {spec!r:.80}")
    required = {
        "n_inputs",
        "n_targets",
        "horizon",
        "hidden_sizes",
        "cell",
        "dropout",
        "bidirectional",
        "n_future",
    }
    optional = {"n_quantiles", "n_members", "covariate_effect"}
    optional |= {"n_static", "static_levels", "static_at"}
    unknown = sorted(set(spec) - required - optional)
    missing = sorted(required - set(spec))
    if unknown or missing:
        raise ModelFileError(
            f"a network's description has unknown keys {unknown} or lacks {missing}"
        )
    counts = {k: spec[k] for k in ("n_inputs", "n_targets", "horizon", "n_future")}
    counts["n_quantiles"] = spec.get("n_quantiles", 0)
    counts["n_members"] = spec.get("n_members", 1)
    counts["covariate_effect"] = spec.get("covariate_effect", 0)
    counts["static_at"] = spec.get("static_at", 0)
    if not static_sizes_valid(spec.get("n_static", 0), spec.get("static_levels", [])):
        raise ModelFileError(
            f"the static input {spec.get('n_static')!r:.40}, "
            f"{spec.get('static_levels')!r:.80} is not a count and a list of counts"
        )
    sizes = spec["hidden_sizes"]
    if not isinstance(sizes, list) or not sizes:
        raise ModelFileError(f"hidden_sizes {sizes!r:.80} is not a list of sizes")
    for name, value in [*counts.items(), *(("hidden_sizes", v) for v in sizes)]:
        least = 1
        if name in ("n_future", "n_quantiles", "covariate_effect", "static_at"):
            least = 0
        if type(value) is not int or value < least:
            raise ModelFileError(f"{name} {value!r:.80} is not an integer >= {least}")
    dropout = spec["dropout"]
    if type(dropout) not in (int, float) or not 0 <= dropout < 1:
        raise ModelFileError(f"dropout {dropout!r:.80} is not in [0, 1)")
    if spec["cell"] not in CELLS or type(spec["bidirectional"]) is not bool:
        raise ModelFileError(
            f"cell {spec['cell']!r:.40} or bidirectional "
            f"{spec['bidirectional']!r:.40} is not a known setting"
        )
    return spec


def check_weights_fit(spec: dict, weights: dict) -> None:
    """Refuse weights whose names or shapes are not those of the network that
    ``spec`` describes, comparing with a skeleton on torch's ``meta`` device
    (which allocates no memory), so that nothing is built from a description the
    stored weights do not back."""
    # every layer has at least two tensors: this bounds the skeleton's work
    if len(spec["hidden_sizes"]) > len(weights):
        raise ModelFileError(
            f"the network's description names {len(spec['hidden_sizes'])} layers "
            f"but {WEIGHTS} holds only {len(weights)} tensors for it"
        )
    with torch.device("meta"):
        skeleton = build_network(spec)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in weights.items()}
    if stored != expected:
        differ = sorted(
            k
            for k in expected.keys() | stored.keys()
            if expected.get(k) != stored.get(k)
        )
        raise ModelFileError(
            f"the weights in {WEIGHTS} do not match the network described in "
            f"{MODEL_JSON} (they differ at {differ[:3]})"
        )
