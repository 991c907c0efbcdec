"""The command line's covariates: ``--covariates`` columns known ahead, with their
values for the forecast steps from ``--future``, in ``forecast`` and ``compare``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gatedforecast.cli import main
from gatedforecast.cli.data import load_dataset
from gatedforecast.cli.future import forecast_times

TINY = ["--epochs", "3", "--hidden-sizes", "4", "--batch-size", "16", "--device", "cpu"]


def _driven(n=80, extra=4, seed=0):
    """Weekly sales that are 3 x price: the data (n rows) and the next ``extra``
    rows (the future), with the sales those rows would have."""
    rng = np.random.default_rng(seed)
    price = rng.normal(size=n + extra)
    dates = pd.date_range("2020-01-06", periods=n + extra, freq="W-MON")
    sales = 10 + 3 * price
    frame = pd.DataFrame(
        {"date": dates.strftime("%Y-%m-%d"), "sales": sales, "price": price}
    )
    return frame.iloc[:n], frame.iloc[n:].drop(columns="sales")


def _driven_panel(lengths=(50, 60), extra=3):
    data, future = [], []
    for i, n in enumerate(lengths):
        part, ahead = _driven(n, extra, seed=i)
        data.append(part.assign(store=f"s{i}"))
        future.append(ahead.assign(store=f"s{i}"))
    return pd.concat(data, ignore_index=True), pd.concat(future, ignore_index=True)


def _error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_dataset_holds_covariates_beside_the_target(tmp_path):
    data, _ = _driven()
    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    dataset = load_dataset(str(path), covariates=["price"])
    # the covariate is not taken for the target, and X is indexed like y
    assert dataset.targets == ["sales"]
    assert list(dataset.X.columns) == ["price"]
    assert dataset.X.index.equals(dataset.y.index)
    np.testing.assert_allclose(dataset.X["price"].to_numpy(), data["price"], rtol=1e-12)


def test_forecast_reads_the_future_covariates(tmp_path, capsys):
    data, future = _driven()
    data.to_csv(tmp_path / "d.csv", index=False)
    future.to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "out"
    args = ["forecast", str(tmp_path / "d.csv"), "--target", "sales"]
    args += ["--covariates", "price", "--future", str(tmp_path / "f.csv")]
    args += ["--horizon", "4", "--no-plot", "--output-dir", str(out), *TINY]
    assert main(args) == 0
    table = pd.read_csv(out / "forecast.csv")
    assert list(table["date"]) == list(future["date"])
    assert np.isfinite(table["sales"]).all()


def test_forecast_uses_the_covariates_values(tmp_path):
    """Two futures that differ only in the covariate give different forecasts,
    ordered as the covariate is: the network reads the future values."""
    data, future = _driven(n=120)
    data.to_csv(tmp_path / "d.csv", index=False)
    tables = []
    for shift in (-2.0, 2.0):
        ahead = future.assign(price=future["price"] + shift)
        ahead.to_csv(tmp_path / "f.csv", index=False)
        out = tmp_path / f"out{shift}"
        args = ["forecast", str(tmp_path / "d.csv"), "--target", "sales"]
        args += ["--covariates", "price", "--future", str(tmp_path / "f.csv")]
        args += ["--horizon", "4", "--no-plot", "--output-dir", str(out)]
        args += ["--epochs", "40", "--hidden-sizes", "8", "--ensemble-size", "1"]
        assert main(args) == 0
        tables.append(pd.read_csv(out / "forecast.csv")["sales"].to_numpy())
    low, high = tables
    # y = 10 + 3 x: a shift of 4 in x moves the forecast by about 12
    assert (high - low).mean() > 6


def test_forecast_on_a_panel_with_covariates(tmp_path):
    data, future = _driven_panel()
    data.to_csv(tmp_path / "d.csv", index=False)
    # the future file's rows in any order, with rows beyond the horizon ignored
    future.iloc[::-1].to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "out"
    args = ["forecast", str(tmp_path / "d.csv"), "--id-col", "store"]
    args += ["--target", "sales", "--covariates", "price"]
    args += ["--future", str(tmp_path / "f.csv"), "--horizon", "2", "--no-plot"]
    args += ["--output-dir", str(out), *TINY]
    assert main(args) == 0
    table = pd.read_csv(out / "forecast.csv")
    assert len(table) == 4
    expected = future.groupby("store").head(2)
    assert list(table["date"]) == list(expected["date"])


def test_compare_with_covariates(tmp_path):
    data, _ = _driven(n=60)
    data.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "out"
    args = ["compare", str(tmp_path / "d.csv"), "--target", "sales"]
    args += ["--covariates", "price", "--horizon", "4", "--folds", "1"]
    args += ["--no-plot", "--output-dir", str(out), *TINY]
    assert main(args) == 0
    table = pd.read_csv(out / "compare.csv")
    assert np.isfinite(table["smape"]).all()


@pytest.mark.parametrize(
    ("change", "future_change", "message"),
    [
        (
            ["--covariates", "prize"],
            None,
            "no column 'prize' (from --covariates, --past-covariates or "
            "--static-covariates)",
        ),
        (["--covariates", "sales"], None, "as a covariate and as the"),
        ([], "drop", "no column 'price'; the --future file needs"),
        ([], "short", "at time 2021-08-09 (forecast step 4 of 4)"),
        ([], "text", "covariate column 'price' is not numeric: 'cheap'"),
        ([], "nan", "covariate column 'price' has 1 missing value"),
        ([], "none", "give them in a file with --future"),
    ],
)
def test_covariate_errors_name_the_problem(
    tmp_path, capsys, change, future_change, message
):
    data, future = _driven()
    data.to_csv(tmp_path / "d.csv", index=False)
    if future_change == "drop":
        future = future.drop(columns="price")
    elif future_change == "short":
        future = future.iloc[:3]
    elif future_change == "text":
        future = future.astype({"price": object})
        future.iloc[1, 1] = "cheap"
    elif future_change == "nan":
        future.iloc[0, 1] = np.nan
    future.to_csv(tmp_path / "f.csv", index=False)
    args = ["forecast", str(tmp_path / "d.csv"), "--target", "sales"]
    args += change or ["--covariates", "price"]
    if future_change != "none":
        args += ["--future", str(tmp_path / "f.csv")]
    args += ["--horizon", "4", "--no-plot", "--output-dir", str(tmp_path / "o")]
    assert main([*args, *TINY]) == 2
    assert message in _error(capsys)


def test_future_without_covariates_is_refused(tmp_path, capsys):
    data, future = _driven()
    data.drop(columns="price").to_csv(tmp_path / "d.csv", index=False)
    future.to_csv(tmp_path / "f.csv", index=False)
    args = ["forecast", str(tmp_path / "d.csv"), "--future", str(tmp_path / "f.csv")]
    args += ["--horizon", "2", "--output-dir", str(tmp_path / "o"), *TINY]
    assert main(args) == 2
    assert "no --covariates (known ahead) were named" in _error(capsys)


def _lagged(n=120, seed=0):
    """Daily visits that follow yesterday's sensor reading: the reading is
    known only up to the end of the data."""
    rng = np.random.default_rng(seed)
    sensor = rng.normal(size=n)
    visits = 20 + 3 * np.concatenate([[0.0], sensor[:-1]])
    dates = pd.date_range("2021-03-01", periods=n, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"day": dates, "visits": visits, "sensor": sensor})


def test_past_covariates_need_no_future_file(tmp_path):
    """No --future: the forecast reads the past-only column up to the end of the
    data, so the last reading moves tomorrow's forecast the way it moves the
    visits."""
    forecasts = []
    for last in (-2.0, 2.0):
        data = _lagged()
        data.loc[data.index[-1], "sensor"] = last
        data.to_csv(tmp_path / "d.csv", index=False)
        out = tmp_path / f"out{last}"
        args = ["forecast", str(tmp_path / "d.csv"), "--target", "visits"]
        args += ["--past-covariates", "sensor", "--horizon", "1", "--no-plot"]
        args += ["--output-dir", str(out), "--epochs", "60", "--hidden-sizes", "8"]
        args += ["--ensemble-size", "1", "--interval-method", "none"]
        assert main(args) == 0
        forecasts.append(pd.read_csv(out / "forecast.csv")["visits"].iloc[0])
    low, high = forecasts
    # visits are 20 + 3 x yesterday's reading: 12 apart for readings 4 apart
    assert high - low > 3


def test_known_ahead_and_past_covariates_together(tmp_path):
    data, future = _driven(n=60)
    data = data.assign(lagged=np.arange(60.0) % 7)
    data.to_csv(tmp_path / "d.csv", index=False)
    # the future file holds only the covariate known ahead
    future.to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "out"
    args = ["forecast", str(tmp_path / "d.csv"), "--target", "sales"]
    args += ["--covariates", "price", "--past-covariates", "lagged"]
    args += ["--future", str(tmp_path / "f.csv"), "--horizon", "4", "--no-plot"]
    args += ["--output-dir", str(out), *TINY]
    assert main(args) == 0
    assert len(pd.read_csv(out / "forecast.csv")) == 4
    out = tmp_path / "cmp"
    args = ["compare", str(tmp_path / "d.csv"), "--target", "sales"]
    args += ["--covariates", "price", "--past-covariates", "lagged"]
    args += ["--horizon", "4", "--folds", "1", "--no-plot"]
    args += ["--output-dir", str(out), *TINY]
    assert main(args) == 0


def test_a_covariate_named_as_both_kinds_is_refused(tmp_path, capsys):
    data, _ = _driven()
    data.to_csv(tmp_path / "d.csv", index=False)
    args = ["forecast", str(tmp_path / "d.csv"), "--target", "sales"]
    args += ["--covariates", "price", "--past-covariates", "price"]
    args += ["--output-dir", str(tmp_path / "o"), *TINY]
    assert main(args) == 2
    assert "with --covariates and with --past-covariates" in _error(capsys)


def test_covariates_need_a_file(capsys):
    assert main(["compare", "--covariates", "price", *TINY]) == 2
    assert "--static-covariates need a FILE" in _error(capsys)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (pd.period_range("2020-01", periods=3, freq="M"), ["2020-04", "2020-05"]),
        (pd.Index([5, 6, 7]), [8, 9]),
    ],
)
def test_forecast_times_follow_the_series(index, expected):
    times = forecast_times(index, 2)
    assert [str(t) for t in times] == [str(e) for e in expected]


def _promoted(n=90, extra=4, seed=0):
    """Daily sales lifted by 3 on promotion days, with the promotion as text."""
    rng = np.random.default_rng(seed)
    promo = rng.choice(["none", "promo"], n + extra)
    dates = pd.date_range("2021-01-01", periods=n + extra, freq="D")
    sales = 10 + 3 * (promo == "promo") + rng.normal(0, 0.1, n + extra)
    frame = pd.DataFrame(
        {"date": dates.strftime("%Y-%m-%d"), "sales": sales, "promo": promo}
    )
    return frame.iloc[:n], frame.iloc[n:].drop(columns="sales")


def test_a_text_covariate_is_read_as_categories(tmp_path, capsys):
    data, future = _promoted()
    data.to_csv(tmp_path / "d.csv", index=False)
    future.to_csv(tmp_path / "f.csv", index=False)
    dataset = load_dataset(str(tmp_path / "d.csv"), covariates=["promo"])
    assert isinstance(dataset.X["promo"].dtype, pd.CategoricalDtype)
    out = tmp_path / "out"
    args = ["forecast", str(tmp_path / "d.csv"), "--target", "sales"]
    args += ["--covariates", "promo", "--future", str(tmp_path / "f.csv")]
    args += ["--horizon", "4", "--no-plot", "--output-dir", str(out), *TINY]
    assert main(args) == 0
    assert np.isfinite(pd.read_csv(out / "forecast.csv")["sales"]).all()
    # a level the data never had
    future.assign(promo="flash").to_csv(tmp_path / "f.csv", index=False)
    assert main(args) == 2
    assert "has the level(s) ['flash'], which the network was not" in _error(capsys)
    # an empty level in the data
    data.assign(promo=data["promo"].where(data.index != 5)).to_csv(
        tmp_path / "d.csv", index=False
    )
    assert main(args) == 2
    assert (
        "covariate column 'promo' holds text (read as categories) and is empty in "
        "data row 6" in _error(capsys)
    )
