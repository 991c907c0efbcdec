"""Static covariates (``static_covariates``): columns of X with one value per
series, numbers or categories, read by the network once per window."""

from __future__ import annotations

import copy
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from gatedforecast import GRUForecaster, LSTMForecaster, load_model, save_model
from gatedforecast.export import forecast_path
from gatedforecast.static import embedding_size

TINY = {
    "window_length": 4,
    "hidden_sizes": 4,
    "max_epochs": 2,
    "ensemble_size": 1,
    "random_state": 0,
}
KINDS = ["low", "high", "mid"]


def _panel(n=30, same_y=False, seed=0):
    """Three series with a numeric static ``size``, a category ``kind`` and a
    dynamic ``x``; with ``same_y``, every series has the same values."""
    rng = np.random.default_rng(seed)
    names = ["a", "b", "c"]
    index = pd.MultiIndex.from_product(
        [names, pd.RangeIndex(n)], names=["series", "time"]
    )
    one = np.cumsum(rng.normal(size=n))
    values = np.tile(one, 3) if same_y else np.cumsum(rng.normal(size=3 * n))
    y = pd.DataFrame({"y": values + 10}, index=index)
    X = pd.DataFrame(
        {
            "size": np.repeat([1.0, 2.0, 4.0], n),
            "kind": pd.Categorical(np.repeat(KINDS, n), categories=KINDS),
            "x": rng.normal(size=3 * n),
        },
        index=index,
    )
    return y, X


def _future(X, start, n):
    """Rows ``start .. start + n - 1`` of every series of X."""
    position = X.groupby(level=0).cumcount()
    rows = X[position < start + n]
    position = rows.groupby(level=0).cumcount()
    return rows[position >= start]


def _until(frame, n):
    return frame[frame.groupby(level=0).cumcount() < n]


def test_the_network_reads_static_covariates_once_not_as_channels():
    y, X = _panel()
    forecaster = GRUForecaster(static_covariates=["size", "kind"], **TINY)
    forecaster.fit(y, X=X[["size", "kind"]], fh=[1, 2])
    network = forecaster.network_
    # the window holds y and the two static channels; the encoder reads y only
    assert network._arguments["n_inputs"] == 3
    assert network.encoder.layers[0].input_size == 1
    assert network.static.output_size == 1 + embedding_size(3)
    assert network.head.in_features == network.encoder.output_size + 3
    seen = []
    hook = network.encoder.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape)
    )
    windows = []
    original = network.static.forward
    network.static.forward = lambda s: windows.append(s.shape) or original(s)
    try:
        forecaster.predict()
    finally:
        hook.remove()
        del network.static.forward
    # one row of static values per window (3 series), a one-channel encoder input
    assert windows == [(3, 2)]
    assert seen == [(3, 4, 1)]


def test_numeric_statics_are_standardised_across_series_and_categories_coded():
    y, X = _panel()
    forecaster = GRUForecaster(static_covariates=["kind", "size"], **TINY)
    forecaster.fit(y, X=X[["size", "kind"]], fh=[1])
    static = forecaster._engine.setup.static
    # numeric columns first, then categories
    assert list(static.columns) == ["size", "kind"]
    np.testing.assert_allclose(static.loc, [7 / 3])
    np.testing.assert_allclose(static.scale, [np.std([1.0, 2.0, 4.0])])
    assert list(static.levels[0]) == KINDS
    engine = forecaster._engine
    channels = engine.setup.static_channels
    size = (np.array([1.0, 2.0, 4.0]) - 7 / 3) / np.std([1.0, 2.0, 4.0])
    expected = np.column_stack([size, [0.0, 1.0, 2.0]])
    # constant through each series' stored values, untouched by the scaler
    for i in range(3):
        np.testing.assert_allclose(engine.tails[i][:, channels], expected[[i] * 4])
    assert (engine.scaler.loc_[:, channels] == 0).all()
    assert (engine.scaler.scale_[:, channels] == 1).all()


def test_embedding_sizes():
    assert [embedding_size(n) for n in (1, 2, 3, 5, 15, 16, 100)] == [
        1,
        1,
        2,
        3,
        8,
        8,
        8,
    ]


def test_the_category_alone_tells_series_with_the_same_values_apart():
    y, X = _panel(same_y=True)
    forecaster = GRUForecaster(static_covariates=["kind"], **TINY)
    forecaster.fit(y, X=X[["kind"]], fh=[1])
    forecast = forecaster.predict()["y"].to_numpy()
    assert len(set(np.round(forecast, 10))) == 3
    plain = GRUForecaster(**TINY).fit(y, fh=[1]).predict()["y"].to_numpy()
    assert len(set(np.round(plain, 10))) == 1


def _drift_panel(n_per_kind=4, length=60, seed=0):
    """Lines with noise whose drift (-1, 0, +1) is set by the category."""
    rng = np.random.default_rng(seed)
    frames, kinds = {}, []
    for kind, drift in zip(KINDS, (-1.0, 1.0, 0.0)):
        for _ in range(n_per_kind):
            level = rng.normal(50, 5)
            values = level + drift * np.arange(length) + rng.normal(size=length)
            frames[f"s{len(frames)}"] = pd.DataFrame({"y": values})
            kinds.append(kind)
    y = pd.concat(frames, names=["series", "time"])
    kind = pd.Categorical(np.repeat(kinds, length), categories=KINDS)
    return y, pd.DataFrame({"kind": kind}, index=y.index)


def _drift_mae(with_kind):
    y, X = _drift_panel()
    forecaster = GRUForecaster(
        window_length=3,
        hidden_sizes=8,
        max_epochs=40,
        learning_rate=1e-2,
        ensemble_size=1,
        interval_method=None,
        random_state=0,
        static_covariates=["kind"] if with_kind else None,
    )
    forecaster.fit(_until(y, 50), X=_until(X, 50) if with_kind else None, fh=[8])
    forecast = forecaster.predict()["y"].to_numpy()
    actual = y["y"].to_numpy().reshape(-1, 60)[:, 57]
    return float(np.mean(np.abs(forecast - actual)))


def test_a_drift_set_by_the_category_is_learned():
    with_kind, without = _drift_mae(True), _drift_mae(False)
    assert with_kind < 0.6 * without, (with_kind, without)


@pytest.mark.parametrize(
    ("static", "columns", "error", "match"),
    [
        (["x"], ["x"], ValueError, r"static covariate 'x' varies within series "
         r"y\['a'\] \(values"),
        (["q"], ["size"], ValueError, r"static_covariates names \['q'\], which X "
         r"lacks"),
        (["size"], None, ValueError, r"static_covariates=\['size'\] names columns "
         r"of X, but fit got no X"),
        ("size", ["size"], TypeError, r"static_covariates must be None or a list"),
    ],
)  # fmt: skip
def test_bad_static_covariates_are_refused_in_fit(static, columns, error, match):
    y, X = _panel()
    X = None if columns is None else X[columns]
    before = None if X is None else X.copy()
    forecaster = GRUForecaster(static_covariates=static, **TINY)
    with pytest.raises(error, match=match):
        forecaster.fit(y, X=X)
    assert not forecaster.is_fitted
    if X is not None:
        pd.testing.assert_frame_equal(X, before)


def test_a_text_static_column_asks_for_the_category_dtype():
    y, X = _panel()
    X = X.assign(region=np.repeat(["n", "s", "n"], 30))
    forecaster = GRUForecaster(static_covariates=["region"], **TINY)
    with pytest.raises(TypeError, match=r"'region' holds text.*astype\('category'\)"):
        forecaster.fit(y, X=X[["region"]])
    with pytest.raises(TypeError, match=r"column 'region' holds text.*static_cov"):
        GRUForecaster(**TINY).fit(y, X=X[["x", "region"]])


def test_a_column_named_as_static_and_past_only_is_refused():
    y, X = _panel()
    forecaster = GRUForecaster(
        static_covariates=["size"], past_covariates=["size"], **TINY
    )
    with pytest.raises(ValueError, match=r"\['size'\] named in both past_cov"):
        forecaster.fit(y, X=X[["size"]])


def test_a_level_the_pretrained_network_never_saw_is_refused():
    y, X = _panel()
    forecaster = GRUForecaster(static_covariates=["kind"], **TINY)
    forecaster.pretrain(y, X=X[["kind"]], fh=[1])
    new_y = y.loc[["a"]]
    levels = KINDS + ["other"]
    new_X = pd.DataFrame(
        {"kind": pd.Categorical(["other"] * 30, categories=levels)},
        index=new_y.index,
    )
    with pytest.raises(ValueError, match=r"'kind' of series y\['a'\] has the level "
                       r"'other', which the network was not trained on"):  # fmt: skip
        forecaster.fit(new_y, X=new_X, fh=[1])
    known = new_X.assign(kind=pd.Categorical(["mid"] * 30, categories=levels))
    forecaster.fit(new_y, X=known, fh=[1])
    assert np.isfinite(forecaster.predict().to_numpy()).all()
    # the pretrained network reads a category: fitting without it is refused
    forecaster.static_covariates = None
    with pytest.raises(ValueError, match=r"pretrained with numeric \[\], categor"):
        forecaster.fit(new_y, fh=[1])


def test_predict_and_update_take_the_static_values_from_fit():
    y, X = _panel(n=34)
    X = X[["size", "kind"]]
    forecaster = GRUForecaster(static_covariates=["size", "kind"], **TINY)
    forecaster.fit(_until(y, 30), X=_until(X, 30), fh=[1, 2])
    future = _future(X, 30, 2)
    expected = forecaster.predict()
    # static columns in predict's X, whatever their values, change nothing
    other = future.assign(size=99.0)
    pd.testing.assert_frame_equal(forecaster.predict(X=other), expected)
    pd.testing.assert_frame_equal(forecaster.predict(), expected)
    updated = copy.deepcopy(forecaster)
    updated.update(_future(y, 30, 2), X=_future(X, 30, 2), update_params=False)
    changed = copy.deepcopy(forecaster)
    changed.update(
        _future(y, 30, 2), X=_future(X, 30, 2).assign(size=-5.0), update_params=False
    )
    pd.testing.assert_frame_equal(changed.predict(), updated.predict())
    tails = updated._engine.tails[:, :, updated._engine.setup.static_channels]
    assert (tails == tails[:, :1]).all()


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
@pytest.mark.parametrize("cls", [GRUForecaster, LSTMForecaster])
def test_ensembles_intervals_and_in_sample_forecasts_with_statics(cls, strategy):
    y, X = _panel(n=33)
    params = {**TINY, "ensemble_size": "auto", "interval_method": "conformal"}
    forecaster = cls(static_covariates=["size", "kind"], strategy=strategy, **params)
    forecaster.fit(_until(y, 30), X=_until(X, 30), fh=[1, 2])
    # small data: five networks batched, each with its own embeddings and gate
    assert forecaster.ensemble_size_ == 5
    assert forecaster.network_.static.tables[0].shape == (5, 3, embedding_size(3))
    future = _future(X, 30, 3)
    forecast = forecaster.predict(fh=[1, 2, 3], X=future)
    assert forecast.shape == (9, 1)
    assert np.isfinite(forecast.to_numpy()).all()
    intervals = forecaster.predict_interval(fh=[1, 2], X=future)
    assert np.isfinite(intervals.to_numpy()).all()
    in_sample = forecaster.predict(fh=[-3, -2, -1, 0], X=future)
    assert np.isfinite(in_sample.to_numpy()).all()


def test_an_ensemble_member_is_the_single_network_it_started_as():
    from gatedforecast.network_members import copy_member
    from gatedforecast.networks import ForecastNetwork

    arguments = {"n_static": 1, "static_levels": (3,), "static_at": 1}
    single = ForecastNetwork(3, 1, 2, (4,), **arguments)
    single.initialize(torch.Generator().manual_seed(0))
    ensemble = ForecastNetwork(3, 1, 2, (4,), n_members=2, **arguments)
    ensemble.initialize(torch.Generator().manual_seed(0))
    # member 0 draws its weights as the single network does
    torch.testing.assert_close(ensemble.static.tables[0][0], single.static.tables[0])
    with torch.no_grad():
        single.static.gate.normal_(generator=torch.Generator().manual_seed(1))
    copy_member(ensemble, 0, single)
    x = torch.randn(5, 4, 3, generator=torch.Generator().manual_seed(2))
    x[..., 2] = torch.tensor([0.0, 1.0, 2.0, 1.0, 0.0])[:, None]
    members = ensemble(x, members=True, dropout=False)
    torch.testing.assert_close(members[0], single(x, dropout=False))
    assert not torch.allclose(members[0], members[1])


def test_a_single_series_with_a_constant_column():
    y, X = _panel()
    y, X = y.loc["a"], X.loc["a"][["size", "kind"]]
    forecaster = GRUForecaster(static_covariates=["size", "kind"], **TINY)
    forecaster.fit(y, X=X, fh=[1, 2])
    # one series: centred to zero, not divided by a zero spread
    np.testing.assert_allclose(forecaster._engine.setup.static.scale, [1.0])
    assert np.isfinite(forecaster.predict().to_numpy()).all()


def test_static_covariates_survive_a_model_file(tmp_path):
    y, X = _panel(n=32)
    forecaster = GRUForecaster(
        static_covariates=["size", "kind"], **{**TINY, "ensemble_size": 2}
    )
    forecaster.fit(_until(y, 30), X=_until(X, 30), fh=[1, 2])
    loaded = load_model(save_model(forecaster, tmp_path / "static.gfm"))
    assert loaded.static_covariates == ["size", "kind"]
    assert list(loaded._engine.setup.static.levels[0]) == KINDS
    future = _future(X, 30, 2)
    pd.testing.assert_frame_equal(
        loaded.predict(X=future), forecaster.predict(X=future)
    )


def test_a_model_file_without_statics_is_written_as_before(tmp_path):
    y, X = _panel()
    forecaster = GRUForecaster(**TINY).fit(y, X=X[["x"]], fh=[1])
    path = save_model(forecaster, tmp_path / "plain.gfm")
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("model.json"))
    assert "static" not in document["state"]["setup"]
    text = json.dumps(document["state"]["network"])
    assert "static" not in text
    assert forecaster.network_.static is None
    assert not any("static" in k for k in forecaster.network_.state_dict())


def test_onnx_export_refuses_static_covariates():
    y, X = _panel()
    forecaster = GRUForecaster(static_covariates=["kind"], **TINY)
    forecaster.fit(y, X=X[["kind"]], fh=[1])
    with pytest.raises(ValueError, match=r"static covariates \['kind'\].*Fit without"):
        forecast_path(forecaster, horizon=1)


def test_evaluate_grid_search_and_a_pipeline_with_static_covariates():
    from sklearn.preprocessing import StandardScaler
    from sktime.forecasting.compose import ForecastingPipeline
    from sktime.forecasting.model_evaluation import evaluate
    from sktime.forecasting.model_selection import ForecastingGridSearchCV
    from sktime.split import ExpandingWindowSplitter
    from sktime.transformations.series.adapt import TabularToSeriesAdaptor

    y, X = _panel(n=40)
    X = X[["size", "x"]]
    cv = ExpandingWindowSplitter(initial_window=30, step_length=4, fh=[1, 2])
    forecaster = GRUForecaster(static_covariates=["size"], **TINY)
    results = evaluate(forecaster, cv, y, X=X)
    assert len(results) == 3
    assert np.isfinite(results.iloc[:, 0]).all()
    search = ForecastingGridSearchCV(
        GRUForecaster(**TINY),
        cv=cv,
        param_grid={"static_covariates": [None, ["size"]]},
        backend=None,
        error_score="raise",
    )
    search.fit(_until(y, 36), X=_until(X, 36), fh=[1, 2])
    assert search.best_params_["static_covariates"] in (None, ["size"])
    assert search.predict(X=_future(X, 36, 2)).shape == (6, 1)
    # a pipeline scaling X column by column keeps the static column constant
    pipeline = ForecastingPipeline(
        [
            ("scale", TabularToSeriesAdaptor(StandardScaler())),
            ("forecast", GRUForecaster(static_covariates=["size"], **TINY)),
        ]
    )
    pipeline.fit(_until(y, 36), X=_until(X, 36), fh=[1, 2])
    forecast = pipeline.predict(X=_future(X, 36, 2))
    assert np.isfinite(forecast.to_numpy()).all()


# ---------------------------------------------------------------------- CLI
def _store_csv(tmp_path, region=("north", "south"), extra=3):
    """Two stores' weekly sales with a static ``region`` (text) and ``size`` and
    a known-ahead ``price``; the data file and the --future file."""
    rng = np.random.default_rng(0)
    data, future = [], []
    for i, (store, where) in enumerate(zip(("s0", "s1"), region)):
        n = 40 + 10 * i
        dates = pd.date_range("2020-01-06", periods=n + extra, freq="W-MON")
        price = rng.normal(size=n + extra)
        frame = pd.DataFrame(
            {
                "store": store,
                "date": dates.strftime("%Y-%m-%d"),
                "sales": 10 + 3 * price + i,
                "price": price,
                "region": where,
                "size": 100.0 * (i + 1),
            }
        )
        data.append(frame.iloc[:n])
        future.append(frame.iloc[n:][["store", "date", "price"]])
    pd.concat(data).to_csv(tmp_path / "d.csv", index=False)
    pd.concat(future).to_csv(tmp_path / "f.csv", index=False)
    return tmp_path / "d.csv", tmp_path / "f.csv"


CLI_TINY = ["--epochs", "2", "--hidden-sizes", "4", "--device", "cpu"]


def _cli_error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_the_cli_forecasts_with_static_covariates(tmp_path):
    from gatedforecast.cli import main
    from gatedforecast.cli.data import load_dataset

    data, future = _store_csv(tmp_path)
    dataset = load_dataset(
        str(data), "date", ["sales"], "store", ["price"], static_covariates=["region"]
    )
    assert isinstance(dataset.X["region"].dtype, pd.CategoricalDtype)
    assert dataset.future_covariates == ["price"]
    args = ["forecast", str(data), "--id-col", "store", "--target", "sales"]
    args += ["--covariates", "price", "--static-covariates", "region", "size"]
    args += ["--future", str(future), "--horizon", "3"]
    args += ["--no-plot", "--output-dir", str(tmp_path / "out"), *CLI_TINY]
    assert main(args) == 0
    forecast = pd.read_csv(tmp_path / "out" / "forecast.csv")
    assert len(forecast) == 6
    assert np.isfinite(forecast["sales"]).all()


@pytest.mark.parametrize(
    ("options", "region", "message"),
    [
        (["--static-covariates", "region"], ("north", "north"), None),
        (["--static-covariates", "zone"], ("north", "south"), "no column 'zone' "
         "(from --covariates, --past-covariates or --static-covariates)"),
        (["--static-covariates", "price"], ("north", "south"), "static covariate "
         "'price' varies within series 's0'"),
        (["--covariates", "size", "--static-covariates", "size"], ("n", "s"),
         "column 'size' is given with --covariates and with --static-covariates"),
    ],
)  # fmt: skip
def test_cli_static_covariate_errors(tmp_path, capsys, options, region, message):
    from gatedforecast.cli import main

    data, _ = _store_csv(tmp_path, region=region)
    frame = pd.read_csv(data)
    if message is None:
        # a value that changes within a series of the file
        frame.loc[3, "region"] = "south"
        frame.to_csv(data, index=False)
        message = "static covariate 'region' varies within series 's0' ('north', "
    args = ["compare", str(data), "--id-col", "store", "--target", "sales"]
    args += [*options, "--output-dir", str(tmp_path / "o"), *CLI_TINY]
    assert main(args) == 2
    error = _cli_error(capsys)
    assert message in error
    assert error.count("\n") == 0


def test_update_revising_earlier_values_keeps_the_static_channels():
    y, X = _panel(n=32)
    forecaster = GRUForecaster(static_covariates=["kind"], **TINY)
    forecaster.fit(_until(y, 30), X=_until(X, 30), fh=[1])
    stored = forecaster._engine.series[0].copy()
    # the last two points again (revised), and one new point, with X for all
    revised = _future(y, 28, 3) + 1.0
    forecaster.update(revised, X=_future(X, 28, 3), update_params=False)
    series = forecaster._engine.series[0]
    setup = forecaster._engine.setup
    assert series.shape == (31, stored.shape[1])
    np.testing.assert_array_equal(
        series[:, setup.static_channels], stored[:1, setup.static_channels][[0] * 31]
    )
    assert not np.allclose(series[28:30, 0], stored[28:30, 0])


def test_local_models_of_a_panel_take_static_covariates_too():
    y, X = _panel()
    forecaster = GRUForecaster(
        static_covariates=["size", "kind"], global_model=False, **TINY
    )
    forecaster.fit(y, X=X[["size", "kind"]], fh=[1, 2])
    forecast = forecaster.predict()
    assert forecast.shape == (6, 1)
    assert np.isfinite(forecast.to_numpy()).all()


def test_the_cli_asks_no_future_rows_of_a_panels_past_only_columns(tmp_path):
    from gatedforecast.cli import main
    from gatedforecast.cli.data import load_dataset

    data, _ = _store_csv(tmp_path)
    dataset = load_dataset(str(data), "date", ["sales"], "store", None, ["price"])
    assert dataset.past_covariates == ["price"]
    assert dataset.future_covariates == []
    args = ["forecast", str(data), "--id-col", "store", "--target", "sales"]
    args += ["--past-covariates", "price", "--static-covariates", "region"]
    args += ["--horizon", "2", "--no-plot", "--output-dir", str(tmp_path / "out")]
    assert main([*args, *CLI_TINY]) == 0
    assert len(pd.read_csv(tmp_path / "out" / "forecast.csv")) == 4


def test_a_count_head_with_static_covariates_saves_and_forecasts_counts(tmp_path):
    rng = np.random.default_rng(0)
    y, X = _panel(n=40)
    y = pd.DataFrame(
        {"y": rng.poisson(np.repeat([2.0, 8.0, 20.0], 40)).astype(float)},
        index=y.index,
    )
    forecaster = GRUForecaster(
        static_covariates=["size", "kind"], distribution="negative_binomial", **TINY
    )
    forecaster.fit(_until(y, 38), X=_until(X[["size", "kind"]], 38), fh=[1, 2])
    future = _future(X[["size", "kind"]], 38, 2)
    interval = forecaster.predict_interval(X=future, coverage=0.8).to_numpy()
    assert (interval >= 0).all()
    np.testing.assert_array_equal(interval, np.round(interval))
    # the series scaler leaves the targets as counts and the static channels as
    # encoded, whichever of the two asks for it
    scaler = forecaster._engine.scaler
    np.testing.assert_array_equal(scaler.loc_, 0.0)
    np.testing.assert_array_equal(scaler.scale_, 1.0)
    loaded = load_model(save_model(forecaster, tmp_path / "counts.gfm"))
    assert loaded._engine.setup.distribution == "negative_binomial"
    assert list(loaded._engine.setup.static.columns) == ["size", "kind"]
    pd.testing.assert_frame_equal(
        loaded.predict_interval(X=future, coverage=0.8),
        forecaster.predict_interval(X=future, coverage=0.8),
    )
