"""Safe model files: save_model / load_model round trips, and tampered files refused."""

from __future__ import annotations

import copy
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST

import gatedforecast
from gatedforecast import (
    GRUForecaster,
    GRURegressor,
    LSTMForecaster,
    LSTMRegressor,
    ModelFileError,
    load_model,
)
from gatedforecast._model_state import (
    FORECASTER,
    REGRESSOR,
    ListOf,
    Maybe,
    Optional,
)
from gatedforecast.persistence import (
    ARRAYS,
    FORMAT_VERSION,
    MEMBERS,
    MODEL_JSON,
    WEIGHTS,
)

SMALL = {**FAST, "window_length": 6, "random_state": 0}
REG = {"hidden_sizes": 4, "max_epochs": 2, "batch_size": 16, "device": "cpu"}
ALPHA = [0.05, 0.25, 0.5, 0.9]


def _monthly(n=48, start="2000-01", level=10.0, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(scale=0.3, size=n)
    index = pd.period_range(start, periods=n, freq="M")
    return pd.Series(level + np.sin(2 * np.pi * t / 12) + noise, index=index, name="y")


def _panel(lengths=(40, 46, 43), hierarchical=False, datetime=False):
    frames = []
    for i, n in enumerate(lengths):
        if datetime:
            time = pd.date_range("2001-01-01", periods=n, freq="D")
        else:
            time = pd.RangeIndex(100 - n, 100)
        values = 5 * (i + 1) + np.sin(np.arange(n) / 2)
        if hierarchical:
            index = pd.MultiIndex.from_arrays(
                [[f"r{i % 2}"] * n, [f"s{i}"] * n, time], names=["r", "s", "t"]
            )
        else:
            index = pd.MultiIndex.from_arrays([[i] * n, time], names=["id", "t"])
        frames.append(pd.DataFrame({"v": values}, index=index))
    return pd.concat(frames)


def _with_x(n=50):
    index = pd.date_range("2020-01-06", periods=n, freq="W-MON", tz="Europe/Berlin")
    X = pd.DataFrame(
        {"price": np.linspace(1, 2, n), "promo": (np.arange(n) % 4 == 0) * 1.0},
        index=index,
    )
    y = pd.DataFrame({"sales": 3 * X["price"] + np.sin(np.arange(n))}, index=index)
    return y, X


# ---------------------------------------------------------------- round trips
def _single():
    f = GRUForecaster(**SMALL).fit(_monthly(), fh=[1, 2, 3])
    return f, {}


def _lstm_multivariate():
    y = _monthly().to_frame()
    y["log"] = np.log(y["y"])
    f = LSTMForecaster(**SMALL).fit(y, fh=[1, 2])
    return f, {}


def _panel_ragged_datetime():
    f = GRUForecaster(**SMALL).fit(_panel(datetime=True), fh=[1, 3])
    return f, {}


def _hierarchical():
    f = LSTMForecaster(**SMALL).fit(_panel(hierarchical=True), fh=[1, 2])
    return f, {}


def _exogenous():
    y, X = _with_x()
    f = GRUForecaster(**SMALL).fit(y.iloc[:44], X=X.iloc[:44], fh=[1, 2])
    return f, {"X": X.iloc[44:]}


def _after_update():
    y = _monthly(60)
    f = GRUForecaster(**SMALL, update_epochs=1).fit(y.iloc[:50], fh=[1, 2])
    f.update(y.iloc[50:], update_params=True)
    return f, {}


def _quantile_head():
    f = GRUForecaster(**SMALL, interval_method="quantile").fit(_monthly(), fh=[1, 2])
    return f, {}


def _mc_dropout():
    params = {**SMALL, "interval_method": "mc_dropout", "dropout": 0.2, "n_samples": 8}
    f = LSTMForecaster(**params).fit(_monthly(), fh=[1, 2])
    return f, {}


def _attention():
    params = {**SMALL, "attention": True}
    f = LSTMForecaster(**params).fit(_monthly(), fh=[1, 2])
    return f, {}


def _pretrained():
    f = GRUForecaster(**SMALL).pretrain(_panel())
    f.fit(_panel((90,)).droplevel(0), fh=[1, 2])
    return f, {}


FORECASTERS = {
    "single": _single,
    "lstm-multivariate": _lstm_multivariate,
    "panel-ragged-datetime": _panel_ragged_datetime,
    "hierarchical": _hierarchical,
    "exogenous": _exogenous,
    "after-update": _after_update,
    "quantile-head": _quantile_head,
    "mc-dropout": _mc_dropout,
    "attention": _attention,
    "pretrained": _pretrained,
}


def _assert_same_forecasts(original, loaded, X=None):
    pd.testing.assert_frame_equal(
        pd.DataFrame(loaded.predict(X=X)), pd.DataFrame(original.predict(X=X))
    )
    pd.testing.assert_frame_equal(
        loaded.predict_interval(X=X, coverage=[0.5, 0.9]),
        original.predict_interval(X=X, coverage=[0.5, 0.9]),
    )
    pd.testing.assert_frame_equal(
        loaded.predict_quantiles(X=X, alpha=ALPHA),
        original.predict_quantiles(X=X, alpha=ALPHA),
    )


@pytest.mark.parametrize("case", list(FORECASTERS))
def test_forecaster_round_trip_predicts_identically(case, tmp_path):
    original, kwargs = FORECASTERS[case]()
    before = copy.deepcopy(original.network_.state_dict())
    path = original.save_model(tmp_path / "model.gfm")
    loaded = load_model(path)
    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    assert loaded.network_.encoder.cell == original.network_.encoder.cell
    assert loaded.is_fitted
    _assert_same_forecasts(original, loaded, **kwargs)
    # other horizons than fit's work the same, and saving changed nothing
    pd.testing.assert_frame_equal(
        pd.DataFrame(loaded.predict(fh=[1], **kwargs)),
        pd.DataFrame(original.predict(fh=[1], **kwargs)),
    )
    for name, value in original.network_.state_dict().items():
        assert torch.equal(value, before[name])
    assert all(p.device.type == "cpu" for p in loaded.network_.parameters())
    pd.testing.assert_frame_equal(loaded.history_, original.history_)


def test_a_loaded_forecaster_updates_and_trains_on_like_the_original(tmp_path):
    y = _monthly(60)
    original = GRUForecaster(**SMALL, update_epochs=2).fit(y.iloc[:50], fh=[1, 2])
    loaded = load_model(original.save_model(tmp_path / "m.gfm"))
    for forecaster in (original, loaded):
        forecaster.update(y.iloc[50:], update_params=True)
    pd.testing.assert_series_equal(loaded.predict(), original.predict())
    assert loaded.n_epochs_ == original.n_epochs_ == 5


def test_a_loaded_pretrained_forecaster_fits_new_series_like_the_original(tmp_path):
    original = GRUForecaster(**SMALL, fine_tune_epochs=1).pretrain(_panel())
    loaded = load_model(
        copy.deepcopy(original)
        .fit(_panel((30,)).droplevel(0), fh=[1])
        .save_model(tmp_path / "m.gfm")
    )
    new = _panel((35,)).droplevel(0) * 2
    expected = original.fit(new, fh=[1, 2]).predict()
    pd.testing.assert_frame_equal(loaded.fit(new, fh=[1, 2]).predict(), expected)


@pytest.mark.parametrize("cls", [GRURegressor, LSTMRegressor])
@pytest.mark.parametrize("form", ["1d-y", "2d-y", "3d-X", "frame-X", "attention"])
def test_regressor_round_trip_predicts_identically(cls, form, tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 8)), rng.normal(size=60)
    if form == "2d-y":
        y = rng.normal(size=(60, 3))
    elif form == "3d-X":
        X = X.reshape(60, 4, 2)
    elif form == "frame-X":
        X = pd.DataFrame(X, columns=[f"lag{i}" for i in range(8)])
    attention = form == "attention"
    original = cls(**REG, random_state=0, attention=attention).fit(X, y)
    loaded = load_model(original.save_model(tmp_path / "r.gfm"))
    assert type(loaded) is cls
    assert loaded.get_params() == original.get_params()
    assert loaded.network_.encoder.cell.endswith("+attention") == attention
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    assert loaded.predict(X).shape == original.predict(X).shape
    if form == "frame-X":
        np.testing.assert_array_equal(
            loaded.feature_names_in_, original.feature_names_in_
        )
        with pytest.raises(ValueError, match="feature names"):
            loaded.predict(X.rename(columns={"lag0": "other"}))


def test_a_loaded_regressor_warm_starts_like_the_original(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 5)), rng.normal(size=40)
    original = GRURegressor(**REG, random_state=0, warm_start=True).fit(X, y)
    loaded = load_model(original.save_model(tmp_path / "r.gfm"))
    for regressor in (original, loaded):
        regressor.fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    assert loaded.n_epochs_ == 4


# ---------------------------------------------------------------- the file
def _saved(tmp_path):
    forecaster = GRUForecaster(**SMALL).fit(_monthly(), fh=[1, 2])
    return forecaster, forecaster.save_model(tmp_path / "model.gfm")


def test_the_file_holds_json_arrays_and_weights_only(tmp_path):
    forecaster, path = _saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(MEMBERS)
        document = json.loads(archive.read(MODEL_JSON))
        arrays = np.load(io.BytesIO(archive.read(ARRAYS)), allow_pickle=False)
        weights = torch.load(
            io.BytesIO(archive.read(WEIGHTS)), weights_only=True, map_location="cpu"
        )
    assert document["format_version"] == 2
    assert document["class"] == "GRUForecaster"
    assert document["params"]["window_length"] == 6
    assert document["params"]["hidden_sizes"] == 8
    assert set(document["versions"]) >= {"gatedforecast", "sktime", "torch"}
    assert document["versions"]["gatedforecast"] == gatedforecast.__version__
    state = document["state"]
    # index values and frequencies are explicit JSON, not pickles
    assert state["sktime"]["cutoff"]["kind"] == "period"
    assert state["sktime"]["cutoff"]["freq"] == "M"
    assert state["series"]["last"] == [
        {"__gf__": "period", "ordinal": forecaster.cutoff[0].ordinal, "freq": "M"}
    ]
    assert state["setup"]["window_length"] == 6
    assert state["scaler"]["method"] == "standard"
    assert all(a.dtype != object for a in arrays.values())
    (network,) = weights.values()
    assert set(network) == set(forecaster.network_.state_dict())


def _declared_keys(schema, value, where="state"):
    """Assert that the JSON ``value`` has exactly the keys of ``schema``'s records."""
    if isinstance(schema, Maybe):
        if value is not None:
            _declared_keys(schema.kind, value, where)
    elif isinstance(schema, ListOf):
        for item in value:
            _declared_keys(schema.kind, item, where)
    elif isinstance(schema, dict):
        required = {k for k, kind in schema.items() if not isinstance(kind, Optional)}
        assert required <= set(value) <= set(schema), where
        for key, kind in schema.items():
            if isinstance(kind, Optional):
                if key in value:
                    _declared_keys(kind.kind, value[key], f"{where}.{key}")
                continue
            _declared_keys(kind, value[key], f"{where}.{key}")


@pytest.mark.parametrize(
    ("make", "schema"),
    [
        (_pretrained, FORECASTER),
        (_exogenous, FORECASTER),
        (
            lambda: (GRURegressor(**REG).fit(np.ones((20, 4)), np.arange(20.0)), {}),
            REGRESSOR,
        ),
    ],
    ids=["pretrained-forecaster", "exogenous-forecaster", "regressor"],
)
def test_a_saved_file_holds_exactly_the_declared_state(make, schema, tmp_path):
    estimator, _ = make()
    path = estimator.save_model(tmp_path / "m.gfm")
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(MODEL_JSON))
    assert document["format_version"] == FORMAT_VERSION == 2
    assert list(document["state"]) == list(schema)
    _declared_keys(schema, document["state"])
    if make is _pretrained:
        assert document["state"]["pretrained"]["setup"]["window_length"] == 6


def _with_state(estimator, **changes):
    """Make ``estimator._fitted_state`` return its state with ``changes``."""
    declared = type(estimator)._fitted_state

    def changed(self):
        state = declared(self)
        for key, value in changes.items():
            if value is None:
                state.pop(key)
            else:
                state[key] = value
        return state

    estimator._fitted_state = changed.__get__(estimator)
    return estimator


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"extra": 1}, r"unknown keys \['extra'\] or lacks \[\]"),
        ({"tails": None}, r"unknown keys \[\] or lacks \['tails'\]"),
        ({"tails": "x"}, r"state\['tails'\] is not a numeric array: got a str"),
        ({"history": [1]}, r"state\['history'\] is not a DataFrame"),
    ],
    ids=["unknown key", "missing key", "a string for an array", "a list"],
)
def test_save_refuses_a_state_other_than_the_declared_one(changes, match, tmp_path):
    forecaster = _with_state(_saved(tmp_path)[0], **changes)
    with pytest.raises(ModelFileError, match=match):
        forecaster.save_model(tmp_path / "other.gfm")
    assert not (tmp_path / "other.gfm").exists()


def test_saving_replaces_a_file_and_a_refused_save_writes_nothing(tmp_path):
    forecaster, path = _saved(tmp_path)
    first = path.read_bytes()
    custom = GRUForecaster(**{**SMALL, "loss": torch.nn.L1Loss}).fit(_monthly(), fh=[1])
    with pytest.raises(ModelFileError, match="loss=.*L1Loss.*not a name"):
        custom.save_model(path)
    assert path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gfm"]
    forecaster.save_model(path)
    assert load_model(path).predict().equals(forecaster.predict())


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: GRUForecaster(**{**SMALL, "loss": torch.nn.HuberLoss}),
            r"loss=.*not a name.*pickle or sktime's save",
        ),
        (
            lambda: LSTMForecaster(
                **{**SMALL, "optimizer": lambda p, lr: torch.optim.SGD(p, lr=lr)}
            ),
            r"optimizer=.*not a name.*such as 'adam'.*pickle or sktime's save",
        ),
        (
            lambda: GRURegressor(**{**REG, "loss": lambda a, b: ((a - b) ** 2).mean()}),
            "loss=.*not a name",
        ),
    ],
)
def test_custom_optimizer_or_loss_is_refused_with_the_reason(make, match, tmp_path):
    estimator = make()
    if isinstance(estimator, GRURegressor):
        estimator.fit(np.ones((20, 4)) * np.arange(20)[:, None], np.arange(20.0))
    else:
        estimator.fit(_monthly(), fh=[1])
    with pytest.raises(ModelFileError, match=match):
        estimator.save_model(tmp_path / "x.gfm")
    assert not (tmp_path / "x.gfm").exists()


def test_unfitted_vectorised_and_foreign_estimators_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="not fitted yet"):
        GRUForecaster().save_model(tmp_path / "a")
    with pytest.raises(ModelFileError, match="not fitted yet"):
        GRURegressor().save_model(tmp_path / "a")
    per_series = GRUForecaster(**SMALL, global_model=False).fit(_panel(), fh=[1])
    with pytest.raises(ModelFileError, match="global_model=False.*pickle"):
        per_series.save_model(tmp_path / "a")

    class Mine(GRUForecaster):
        pass

    mine = Mine(**SMALL).fit(_monthly(), fh=[1])
    with pytest.raises(ModelFileError, match="save_model saves GRUForecaster"):
        mine.save_model(tmp_path / "a")
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------- tampered files
def _rewrite(path, replace=None, add=None, drop=()):
    """Rewrite the zip at ``path`` with members replaced, added or dropped."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members.update(replace or {})
    members.update(add or {})
    for name in drop:
        members.pop(name)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _edit_json(path, edit):
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(MODEL_JSON))
    edit(document)
    _rewrite(path, replace={MODEL_JSON: json.dumps(document)})


class _Payload:
    """Would create a marker file when unpickled, if anything unpickled it."""

    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickle_payload(tmp_path) -> bytes:
    payload = _Payload()
    payload.marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"w0": payload}, buffer)
    return buffer.getvalue()


def _object_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([{"x": 1}], dtype=object))
    return buffer.getvalue()


TAMPERS = {
    "class not on the allow-list": (
        lambda p, t: _edit_json(p, lambda d: d.update({"class": "subprocess.Popen"})),
        r"class 'subprocess.Popen'.*not one of",
    ),
    "a value type of format version 1 only": (
        lambda p, t: _edit_json(
            p,
            lambda d: d["state"]["scaler"].update(
                {"method": {"__gf__": "object", "class": "SeriesScaler", "state": {}}}
            ),
        ),
        "unknown value type 'object'",
    ),
    "unknown value type": (
        lambda p, t: _edit_json(
            p, lambda d: d["state"].update({"x": {"__gf__": "pickle", "data": ""}})
        ),
        "unknown value type 'pickle'",
    ),
    "dunder state key": (
        lambda p, t: _edit_json(p, lambda d: d["state"].update({"__class__": 1})),
        r"unknown keys \['__class__'\]",
    ),
    "a state key missing": (
        lambda p, t: _edit_json(p, lambda d: d["state"].pop("best_epoch")),
        r"lacks \['best_epoch'\]",
    ),
    "a value of another kind": (
        lambda p, t: _edit_json(p, lambda d: d["state"]["series"].update({"keys": 7})),
        r"state\['series'\]\['keys'\] is not a list",
    ),
    "unknown parameter": (
        lambda p, t: _edit_json(p, lambda d: d["params"].update({"evil": 1})),
        r"unknown parameters \['evil'\]",
    ),
    "newer format": (
        lambda p, t: _edit_json(p, lambda d: d.update({"format_version": 99})),
        "format version 99",
    ),
    "a pickle added": (
        lambda p, t: _rewrite(p, add={"model.pkl": b"\x80\x04N."}),
        r"unexpected member\(s\) \['model.pkl'\].*refused without reading it",
    ),
    "a member missing": (
        lambda p, t: _rewrite(p, drop=[WEIGHTS]),
        r"lacks \['weights.pt'\]",
    ),
    "pickled objects in the arrays": (
        lambda p, t: _rewrite(p, replace={ARRAYS: _object_npz()}),
        "arrays.npz holds something other than plain numeric arrays",
    ),
    "a pickle payload as weights": (
        lambda p, t: _rewrite(p, replace={WEIGHTS: _pickle_payload(t)}),
        "weights.pt holds something other than tensors",
    ),
    "damaged json": (
        lambda p, t: _rewrite(p, replace={MODEL_JSON: b"{not json"}),
        "model.json is not JSON",
    ),
    "not a zip file": (
        lambda p, t: p.write_bytes(b"\x80\x04\x95 pickle, not a zip"),
        "is not a gatedforecast model file",
    ),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_a_tampered_file_is_refused_without_running_code(tamper, tmp_path):
    _, path = _saved(tmp_path)
    change, match = TAMPERS[tamper]
    change(path, tmp_path)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)
    assert not (tmp_path / "pwned").exists()


def test_another_version_loads_with_a_warning(tmp_path):
    forecaster, path = _saved(tmp_path)
    _edit_json(path, lambda d: d["versions"].update({"sktime": "0.1"}))
    with pytest.warns(UserWarning, match=r"sktime 0.1 \(here "):
        loaded = load_model(path)
    pd.testing.assert_series_equal(loaded.predict(), forecaster.predict())


# ---------------------------------------------------------------- format version 1
REFERENCE = Path(__file__).resolve().parent / "reference_models"


@pytest.mark.parametrize("case", ["panel_forecaster", "gru_regressor"])
def test_a_version_1_file_is_converted_to_the_declared_state(case, tmp_path):
    path = REFERENCE / f"{case}.gfm"
    with zipfile.ZipFile(path) as archive:
        old = json.loads(archive.read(MODEL_JSON))
    # version 1 held every attribute of the estimator, sktime's internals included
    assert old["format_version"] == 1
    assert {"_scaler", "network_", "history_"} <= set(old["state"])
    loaded = load_model(path)
    again = load_model(loaded.save_model(tmp_path / "v2.gfm"))
    with zipfile.ZipFile(tmp_path / "v2.gfm") as archive:
        new = json.loads(archive.read(MODEL_JSON))
    assert new["format_version"] == 2
    # the parameters it was saved with, the defaults of those added since, and
    # the single network a file written before ensembles holds
    added = {"attention": False, "ensemble_size": 1, "bptt_chunk": None}
    added["distributed"] = "auto"
    added.update(mixed_precision=None, torch_compile=False)
    if case.endswith("forecaster"):
        added["past_covariates"] = None
        added["static_covariates"] = None
        added["distribution"] = None
    assert new["params"] == {**old["params"], **added}
    if case.endswith("regressor"):
        _declared_keys(REGRESSOR, new["state"])
        assert (
            new["state"]["sequence_shape"] == old["state"]["_sequence_shape"]["items"]
        )
        from reference_models.make_reference_models import regressor_inputs

        X = regressor_inputs()
        np.testing.assert_array_equal(again.predict(X), loaded.predict(X))
        return
    _declared_keys(FORECASTER, new["state"])
    assert new["state"]["series"]["last"] == old["state"]["_last_index"]
    assert new["state"]["series"]["keys"] == old["state"]["_keys"]
    assert new["state"]["sktime"]["cutoff"] == old["state"]["_cutoff"]
    assert new["state"]["sktime"]["fh"] == old["state"]["_fh"]
    assert new["state"]["setup"]["transform"] == old["state"]["_transform"]["fields"]
    pd.testing.assert_frame_equal(again.predict(), loaded.predict())
    pd.testing.assert_frame_equal(
        again.predict_interval(coverage=0.8), loaded.predict_interval(coverage=0.8)
    )
    pd.testing.assert_frame_equal(again.history_, loaded.history_)


def _v1_copy(tmp_path):
    path = tmp_path / "v1.gfm"
    shutil.copy(REFERENCE / "gru_forecaster.gfm", path)
    return path


def _v1_scaler_mapping(document):
    document["state"]["_setup"] = document["state"]["_setup"]["fields"]


V1_TAMPERS = {
    "nested object class not on the allow-list": (
        lambda d: d["state"]["_scaler"].update({"class": "Popen"}),
        r"class 'Popen' is not on the allow-list",
    ),
    "dunder attribute": (
        lambda d: d["state"].update({"__class__": 1}),
        "invalid attribute '__class__'",
    ),
    "an attribute hiding a method": (
        lambda d: d["state"].update({"predict": 1}),
        "invalid attribute 'predict'",
    ),
    "an attribute missing": (
        lambda d: d["state"].pop("best_epoch_"),
        "format version 1 lacks 'best_epoch_'",
    ),
    "a mapping for the window settings": (
        _v1_scaler_mapping,
        "expected a _Setup",
    ),
    "a string for the index names": (
        lambda d: d["state"].update({"_index_names": "x"}),
        r"converted from format version 1\['series'\]\['index_names'\] is not a list",
    ),
}


@pytest.mark.parametrize("tamper", list(V1_TAMPERS))
def test_a_tampered_version_1_file_is_refused(tamper, tmp_path):
    path = _v1_copy(tmp_path)
    load_model(path)
    edit, match = V1_TAMPERS[tamper]
    _edit_json(path, edit)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)
