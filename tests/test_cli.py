"""The gatedforecast command: both commands end to end, and one clear line per bad file.

The end-to-end tests run ``python -m gatedforecast`` in a subprocess on small data
with tiny networks; the bad-file tests call ``main`` in-process (the same code, no
interpreter start-up) and one of them goes through a subprocess too.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gatedforecast.cli import main

TINY = ["--epochs", "2", "--hidden-sizes", "4", "--batch-size", "16", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def opts(text: str) -> list[str]:
    return shlex.split(text)


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "gatedforecast", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=300,
    )


def _monthly(n=60, start="2015-01-01", name="sales"):
    t = np.arange(n)
    values = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    dates = pd.date_range(start, periods=n, freq="MS")
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), name: values})


def _panel(lengths=(40, 50, 45)):
    frames = []
    for i, n in enumerate(lengths):
        t = np.arange(n)
        frames.append(
            pd.DataFrame(
                {
                    "store": f"s{i}",
                    "week": t,
                    "units": 10 * (i + 1) + np.sin(t / 3) * (i + 1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_compare_on_a_csv_writes_table_json_and_plot(tmp_path):
    csv = tmp_path / "sales.csv"
    _monthly().to_csv(csv, index=False)
    out = tmp_path / "out"
    options = opts("--horizon 4 --folds 2 --window-length 12")
    result = run_cli("compare", csv, *options, *TINY, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    # progress on stderr, one line per model, and the table on stdout
    assert "[1/4] GRU" in result.stderr
    assert "[4/4] seasonal naive" in result.stderr
    for name in ("GRU", "LSTM", "naive", "seasonal naive (sp=12)", "sMAPE", "rank"):
        assert name in result.stdout

    table = pd.read_csv(out / "compare.csv")
    columns = [
        "model",
        "smape",
        "smape_std",
        "mase",
        "mase_std",
        "fit_seconds",
        "n_parameters",
        "coverage",
        "rank",
        "within_noise",
    ]
    assert list(table.columns) == columns
    assert sorted(table["model"]) == sorted(
        ["GRU", "LSTM", "naive", "seasonal naive (sp=12)"]
    )
    assert table["rank"].tolist() == sorted(table["rank"])
    assert table["rank"].min() == 1
    assert (table["smape"] > 0).all()
    assert np.isfinite(table["mase"]).all()
    # every model here predicts intervals: their empirical coverage is reported
    assert table["coverage"].between(0, 1).all()
    params = table.set_index("model")["n_parameters"]
    assert params["GRU"] > 0
    assert params["LSTM"] > params["GRU"]
    assert params["naive"] == 0

    report = json.loads((out / "compare.json").read_text())
    assert report["data"]["frequency"] == "MS"
    assert report["data"]["n_observations"] == 60
    assert report["settings"]["season"] == 12
    assert report["settings"]["baseline"] == "seasonal"
    assert report["settings"]["splitter"] == "ExpandingWindowSplitter"
    # two folds of 4 steps at the very end of the series
    assert [f["train_size"] for f in report["folds"]] == [52, 56]
    assert report["folds"][-1]["cutoff"].startswith("2019-08")
    for model in report["results"]:
        assert len(model["mae_by_step"]) == 4
        assert len(model["smape_by_fold"]) == 2
        assert len(model["coverage_by_fold"]) == 2
    assert _png(out / "compare.png")


def test_compare_without_a_file_runs_on_airline(tmp_path):
    options = opts("--folds 1 --interval-method none --no-plot")
    result = run_cli("compare", *options, *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "gatedforecast-output"
    report = json.loads((out / "compare.json").read_text())
    assert report["data"]["source"].startswith("airline")
    assert report["settings"]["horizon"] == 12
    assert report["folds"] == [
        {"fold": 1, "cutoff": "1959-12", "train_size": 132, "test_rows": 12}
    ]
    assert not (out / "compare.png").exists()
    coverage = {r["model"]: r["coverage"] for r in report["results"]}
    # networks trained without held-out windows have no intervals; naive ones do
    assert coverage["GRU"] is None
    assert coverage["LSTM"] is None
    assert 0 <= coverage["naive"] <= 1


def test_compare_a_panel_from_parquet_puts_folds_at_each_series_end(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "stores.parquet"
    _panel().to_parquet(path)
    out = tmp_path / "out"
    options = opts(
        "--id-col store --time-col week --target units --horizon 3 --folds 2 "
        "--window-length 6"
    )
    result = run_cli("compare", "--input", path, *options, *TINY, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "compare.json").read_text())
    assert report["data"]["n_series"] == 3
    assert report["data"]["frequency"] is None
    assert report["settings"]["season"] == 1
    assert report["settings"]["splitter"] == "ExpandingGreedySplitter"
    # integer steps have no season: no seasonal naive
    assert [r["model"] for r in report["results"]].count("naive") == 1
    assert len(report["results"]) == 3
    assert _png(out / "compare.png")


def test_forecast_writes_the_next_steps(tmp_path):
    csv = tmp_path / "sales.csv"
    _monthly().to_csv(csv, index=False)
    out = tmp_path / "out"
    options = opts("--horizon 5 --window-length 12 --model lstm")
    result = run_cli("forecast", csv, *options, *TINY, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    forecast = pd.read_csv(out / "forecast.csv")
    assert list(forecast.columns) == ["date", "sales", "sales_lower", "sales_upper"]
    assert (forecast["sales_lower"] < forecast["sales"]).all()
    assert (forecast["sales"] < forecast["sales_upper"]).all()
    months = ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-05-01"]
    assert forecast["date"].tolist() == months
    assert np.isfinite(forecast["sales"]).all()
    assert _png(out / "forecast.png")


def test_forecast_a_panel_with_two_targets_without_intervals(tmp_path):
    data = _panel((30, 35))
    data["price"] = 2.0 + data["units"] / 100
    csv = tmp_path / "stores.csv"
    data.to_csv(csv, index=False)
    out = tmp_path / "out"
    options = opts(
        "--id-col store --time-col week --target units price --horizon 3 "
        "--window-length 6 --interval-method none"
    )
    result = run_cli("forecast", csv, *options, *TINY, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert "does not predict intervals" in result.stderr
    forecast = pd.read_csv(out / "forecast.csv")
    assert list(forecast.columns) == ["store", "week", "units", "price"]
    assert forecast["store"].tolist() == ["s0"] * 3 + ["s1"] * 3
    assert forecast["week"].tolist() == [30, 31, 32, 35, 36, 37]
    assert _png(out / "forecast.png")


# ---------------------------------------------------------------------- bad input
def _write(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _error(capsys, *argv):
    code = main([*map(str, argv), *TINY, "--no-plot"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err, "no error line"
    assert err[-1].startswith("error: ")
    assert "Traceback" not in "\n".join(err)
    return err[-1]


def test_missing_file(tmp_path, capsys):
    line = _error(capsys, "compare", tmp_path / "nope.csv")
    assert "nope.csv: no such file" in line


def test_missing_column(tmp_path, capsys):
    path = _write(tmp_path, _monthly())
    line = _error(capsys, "compare", path, "--target", "revenue")
    assert "no column 'revenue'" in line
    assert "'date', 'sales'" in line


def test_unparsable_dates(tmp_path, capsys):
    frame = _monthly()
    frame.loc[7, "date"] = "not a date"
    line = _error(capsys, "forecast", _write(tmp_path, frame))
    assert "'not a date' in data row 8" in line


def test_irregular_timestamps(tmp_path, capsys):
    frame = _monthly().drop(index=[10, 11])
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "irregular" in line
    assert "resample to a regular frequency" in line


def test_duplicate_timestamps(tmp_path, capsys):
    frame = _monthly()
    frame.loc[5, "date"] = frame.loc[4, "date"]
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "appears more than once in 'date'" in line


def test_too_few_rows_for_the_folds(tmp_path, capsys):
    path = _write(tmp_path, _monthly(n=40))
    line = _error(capsys, "compare", path, "--folds", "3", "--horizon", "12")
    assert "too few for 3 fold(s) of horizon 12" in line


def test_non_numeric_target(tmp_path, capsys):
    frame = _monthly()
    frame["sales"] = frame["sales"].astype(object)
    frame.loc[3, "sales"] = "n/a?"
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "target column 'sales' is not numeric: 'n/a?' in data row 4" in line


def test_missing_target_values(tmp_path, capsys):
    frame = _monthly()
    frame.loc[[3, 9], "sales"] = np.nan
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "2 missing value(s), first in data row 4" in line
    assert "or use forecast, which trains on series with gaps" in line


def test_forecast_trains_on_a_target_with_gaps(tmp_path):
    frame = _monthly()
    frame.loc[[3, 9, 30], "sales"] = np.nan
    out = tmp_path / "out"
    args = ["forecast", str(_write(tmp_path, frame)), "--horizon", "3", "--no-plot"]
    assert main([*args, "--output-dir", str(out), *TINY]) == 0
    table = pd.read_csv(out / "forecast.csv")
    assert len(table) == 3
    assert np.isfinite(table["sales"]).all()


def test_several_candidate_targets_need_a_choice(tmp_path, capsys):
    frame = _monthly()
    frame["price"] = 1.0
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "several columns could be the target" in line


def test_unreadable_parquet(tmp_path, capsys):
    path = tmp_path / "broken.parquet"
    path.write_text("this is not parquet")
    line = _error(capsys, "forecast", path)
    assert "broken.parquet" in line


def _one_line_and_nothing_written(tmp_path, capsys, frame, *options):
    """``forecast`` on ``frame``: exit 2, one error line, the file untouched and no
    forecast written; returns the line."""
    path = _write(tmp_path, frame)
    text = path.read_text()
    out = tmp_path / "out"
    tiny = ["--epochs", "1", "--hidden-sizes", "4", "--no-plot", "--threads", "1"]
    code = main(["forecast", str(path), *tiny, "--output-dir", str(out), *options])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    assert path.read_text() == text
    assert not (out / "forecast.csv").exists()
    return err[0]


def test_an_empty_file_is_one_error_line(tmp_path, capsys):
    line = _one_line_and_nothing_written(tmp_path, capsys, _monthly().iloc[:0])
    assert line.endswith("the file has a header but no rows")


def test_an_all_missing_target_is_one_error_line(tmp_path, capsys):
    frame = _monthly(n=40).assign(sales=np.nan)
    line = _one_line_and_nothing_written(tmp_path, capsys, frame)
    assert line.endswith("target column 'sales' has no values")


def test_a_series_too_short_to_forecast_names_the_options(tmp_path, capsys):
    line = _one_line_and_nothing_written(tmp_path, capsys, _monthly(n=8))
    assert "the series has 8 observations" in line
    assert "need at least 13. Use a shorter --horizon or --window-length." in line


def test_a_gpu_index_beyond_the_visible_ones_names_the_option(
    tmp_path, capsys, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    options = ("--device", "cuda:3")
    line = _one_line_and_nothing_written(tmp_path, capsys, _monthly(n=40), *options)
    assert line == (
        "error: --device cuda:3 was requested but only 1 CUDA device(s) are "
        "visible; use an index below 1 or --device cuda."
    )


def test_a_bad_file_exits_2_with_one_line_from_the_command(tmp_path):
    frame = _monthly()
    frame.loc[2, "date"] = "2015-13-45"
    result = run_cli("compare", _write(tmp_path, frame), *TINY)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "'2015-13-45' in data row 3" in lines[0]


# ---------------------------------------------------------------------- pieces
def test_season_follows_the_frequency():
    from gatedforecast.cli.data import season_for

    assert season_for("MS") == 12
    assert season_for("M") == 12
    assert season_for("QS-OCT") == 4
    assert season_for("W-SUN") == 52
    assert season_for("D") == 7
    assert season_for("h") == 24
    assert season_for("2D") == 1
    assert season_for("YS-JAN") == 1
    assert season_for(None) == 1


@pytest.mark.filterwarnings("ignore:.*remember_data:FutureWarning")
def test_forecast_table_adds_interval_columns_for_each_target():
    """The interval columns of forecast.csv, from any sktime forecaster's
    predict_interval (here the naive one)."""
    from sktime.forecasting.naive import NaiveForecaster

    from gatedforecast.cli.data import Dataset
    from gatedforecast.cli.forecast import forecast_table

    frame = _monthly(n=30)
    y = frame.set_index(pd.DatetimeIndex(frame["date"], freq="MS"))[["sales"]]
    y.index.name = "date"
    data = Dataset(y, "test", "date", ["sales"], lengths={None: len(y)})
    naive = NaiveForecaster().fit(y, fh=[1, 2, 3])
    table = forecast_table(
        data, naive.predict(), naive.predict_interval(coverage=0.8), 0.8
    )
    assert list(table.columns) == ["date", "sales", "sales_lower", "sales_upper"]
    assert (table["sales_lower"] < table["sales"]).all()
    assert (table["sales"] < table["sales_upper"]).all()


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "compare" in out
    assert "forecast" in out


def test_mc_dropout_needs_dropout(tmp_path, capsys):
    path = _write(tmp_path, _monthly())
    code = main(["forecast", str(path), "--interval-method", "mc_dropout", *TINY])
    err = capsys.readouterr().err.strip().splitlines()
    # the forecaster's own rule, before any fit, in the words of the options
    assert code == 2
    assert len(err) == 1
    assert "mc_dropout samples dropout masks" in err[0]
    assert "--dropout > 0 (for example --dropout 0.1)" in err[0]
    assert "dropout=" not in err[0]


def test_a_seasonal_baseline_needs_a_window_of_a_season(tmp_path, capsys):
    path = _write(tmp_path, _monthly())
    options = ["--baseline", "seasonal", "--season", "12", "--window-length", "6"]
    line = _error(capsys, "forecast", path, *options)
    assert line == (
        "error: --baseline seasonal looks 12 steps back, so --window-length must "
        "be at least --season 12; got 6."
    )
    line = _error(capsys, "forecast", path, "--baseline", "seasonal", "--season", "1")
    assert line.startswith("error: --baseline seasonal needs --season, the season")


def test_option_choices_are_the_library_constants():
    from gatedforecast import distributions, encoders, forecasting, scaling
    from gatedforecast.cli.options import library_choices, library_value

    choices = {
        name: tuple(map(library_value, values))
        for name, values in library_choices().items()
    }
    assert choices == {
        "baseline": ("auto", *scaling.BASELINES),
        "interval_method": forecasting.INTERVAL_METHODS,
        "distribution": (*distributions.DISTRIBUTIONS, None),
        "model": ("gru", "lstm"),
    }
    # --model names a recurrent cell of the library
    assert set(choices["model"]) <= set(encoders.RNN_LAYERS)


def test_a_boolean_target_is_not_numeric(tmp_path, capsys):
    frame = _monthly()
    frame["sales"] = frame.index % 2 == 0
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "not numeric: it holds True/False" in line


def test_a_bad_option_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "data.csv", "--horizon", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: argument --horizon: expected a number >= 1")
    assert ", got 0" in err[0]


def test_help_and_the_package_import_do_not_load_torch_or_sktime():
    code = (
        "import sys, gatedforecast\n"
        "from gatedforecast.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print(sorted({'torch', 'sktime'} & set(sys.modules)))\n"
        "print(gatedforecast.GRUForecaster.__module__, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["[]", "gatedforecast.forecasting True"]


def test_every_public_name_resolves():
    import gatedforecast

    for name in gatedforecast.__all__:
        assert getattr(gatedforecast, name) is not None
    assert set(gatedforecast.__all__) <= set(dir(gatedforecast))
    with pytest.raises(AttributeError, match="no attribute 'GRUForcaster'"):
        gatedforecast.GRUForcaster  # noqa: B018


# ---------------------------------------------------------------------- times and ids
def _forecast_in_process(tmp_path, frame, *args):
    """Run ``forecast`` in-process on ``frame``; the written forecast.csv as text."""
    path = _write(tmp_path, frame)
    out = tmp_path / "out"
    code = main(
        ["forecast", str(path), *args, *TINY, "--no-plot", "--output-dir", str(out)]
    )
    assert code == 0
    return pd.read_csv(out / "forecast.csv", dtype=str)


def test_ids_are_kept_as_written(tmp_path):
    """00123 stays 00123, and 7 and 007 are two series, not one."""
    values = np.arange(20.0)
    frame = pd.DataFrame(
        {
            "id": ["00123"] * 20 + ["7"] * 20 + ["007"] * 20,
            "t": list(range(20)) * 3,
            "v": np.concatenate([values, 2 * values, 3 * values]),
        }
    )
    table = _forecast_in_process(
        tmp_path, frame, "--id-col", "id", "--horizon", "2", "--window-length", "4"
    )
    assert table["id"].tolist() == ["00123", "00123", "7", "7", "007", "007"]
    assert table["t"].tolist() == ["20", "21"] * 3


def test_quarters_come_back_as_quarters(tmp_path):
    quarters = pd.period_range("1959Q1", periods=30, freq="Q").astype(str)
    frame = pd.DataFrame({"quarter": quarters, "gdp": 100 + np.arange(30.0)})
    table = _forecast_in_process(tmp_path, frame, "--horizon", "3")
    assert table["quarter"].tolist() == ["1966Q3", "1966Q4", "1967Q1"]


def test_utc_offsets_across_daylight_saving_time(tmp_path):
    """Berlin's clocks jump from 02:00 to 03:00 on 2021-03-28: the offsets change
    from +01:00 to +02:00, and the series is regular in UTC."""
    stamps = pd.date_range("2021-03-27", periods=48, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame(
        {"time": [t.isoformat() for t in stamps], "load": np.arange(48.0) % 24}
    )
    assert {"+01:00", "+02:00"} <= {t[-6:] for t in frame["time"]}
    table = _forecast_in_process(tmp_path, frame, "--horizon", "2")
    # several offsets: written back in UTC, one hour after the last time
    last = stamps[-1].tz_convert("UTC")
    expected = [last + pd.Timedelta(hours=h) for h in (1, 2)]
    assert pd.to_datetime(table["time"]).tolist() == expected
    assert table["time"].str.endswith("+00:00").all()


def test_one_utc_offset_is_written_back(tmp_path):
    stamps = pd.date_range("2021-01-01", periods=48, freq="h", tz="Asia/Kolkata")
    frame = pd.DataFrame(
        {"time": [t.isoformat() for t in stamps], "load": np.arange(48.0) % 24}
    )
    table = _forecast_in_process(tmp_path, frame, "--horizon", "2")
    assert table["time"].tolist() == [
        "2021-01-03 00:00:00+05:30",
        "2021-01-03 01:00:00+05:30",
    ]


def test_a_zoned_parquet_column_across_daylight_saving_time(tmp_path):
    pytest.importorskip("pyarrow")
    stamps = pd.date_range("2021-10-30", periods=48, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"time": stamps, "load": np.arange(48.0) % 24})
    path = tmp_path / "load.parquet"
    frame.to_parquet(path)
    out = tmp_path / "out"
    code = main(
        [
            "forecast",
            str(path),
            "--horizon",
            "2",
            *TINY,
            "--no-plot",
            "--output-dir",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "forecast.csv", dtype=str)
    # 2021-10-31 has 25 hours in Berlin; the forecasts are in the zone's winter time
    assert stamps[-1] == pd.Timestamp("2021-10-31 22:00", tz="Europe/Berlin")
    assert table["time"].tolist() == [
        "2021-10-31 23:00:00+01:00",
        "2021-11-01 00:00:00+01:00",
    ]


def test_times_with_and_without_an_offset_are_refused(tmp_path, capsys):
    frame = _monthly(n=30)
    frame.loc[3, "date"] = "2015-04-01T00:00:00+02:00"
    line = _error(capsys, "compare", _write(tmp_path, frame))
    assert "mixes times with and without a UTC offset" in line


# ---------------------------------------------------------------------- the default install
_WITHOUT_EXTRAS = """
import sys
from importlib.abc import MetaPathFinder

class Missing(MetaPathFinder):
    # matplotlib, rich and pyarrow are extras: the default install has none of them
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("matplotlib", "rich", "pyarrow"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
from gatedforecast.cli import main
code = main(sys.argv[1:])
assert not {"matplotlib", "rich", "pyarrow"} & {m.split(".")[0] for m in sys.modules}
sys.exit(code)
"""


def _run_without_extras(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS, *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=300,
    )


def test_compare_without_matplotlib_rich_or_pyarrow_succeeds(tmp_path):
    """The default install (no extras): the table, the csv and the json, one note
    on how to get the plot, exit code 0."""
    csv = _write(tmp_path, _monthly(n=40))
    out = tmp_path / "out"
    options = opts("--horizon 4 --folds 2 --window-length 12 --interval-method none")
    result = _run_without_extras("compare", csv, *options, *TINY, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    notes = [line for line in result.stderr.splitlines() if "matplotlib" in line]
    assert len(notes) == 1
    assert notes[0].startswith("note: compare.png not drawn")
    assert 'pip install "gatedforecast[plot]"' in notes[0]
    assert "GRU" in result.stdout
    assert "sMAPE" in result.stdout
    assert (out / "compare.csv").exists()
    assert (out / "compare.json").exists()
    assert not (out / "compare.png").exists()
    assert "compare.png" not in result.stderr.splitlines()[-1]  # the "wrote" line


@pytest.mark.slow
def test_forecast_without_matplotlib_succeeds_and_parquet_asks_for_pyarrow(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _monthly(n=40)
    out = tmp_path / "out"
    options = [*opts("--horizon 3 --interval-method none"), *TINY, "--output-dir", out]
    result = _run_without_extras("forecast", _write(tmp_path, frame), *options)
    assert result.returncode == 0, result.stderr
    assert "note: forecast.png not drawn" in result.stderr
    assert len(pd.read_csv(out / "forecast.csv")) == 3

    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    result = _run_without_extras("forecast", path, *options)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: reading Parquet needs pyarrow; install it with `pip install "
        "pyarrow` or `pip install 'gatedforecast[cli]'`"
    ]


# ---------------------------------------------------------------------- short data
def test_compare_on_data_too_short_to_calibrate_the_first_fold(tmp_path, capsys):
    """60 months, horizon 12, 3 folds: the first fold trains on 24 months, too few
    to hold out a window for the conformal intervals; point forecasts still count."""
    out = tmp_path / "out"
    path = _write(tmp_path, _monthly(n=60))
    code = main(["compare", str(path), "--horizon", "12", *TINY, "--no-plot",
                 "--output-dir", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2
    assert notes[0].startswith(
        "note: GRU has no prediction intervals on fold(s) 1 of 3"
    )
    assert notes[1].startswith("note: LSTM has no prediction intervals")
    report = json.loads((out / "compare.json").read_text())
    results = {r["model"]: r for r in report["results"]}
    for name in ("GRU", "LSTM"):
        assert results[name]["coverage"] is None
        assert results[name]["coverage_by_fold"][0] is None
        assert all(0 <= c <= 1 for c in results[name]["coverage_by_fold"][1:])
        assert len(results[name]["smape_by_fold"]) == 3
    assert 0 <= results["naive"]["coverage"] <= 1


@pytest.mark.parametrize("horizon", [14, 27])
def test_forecast_on_data_too_short_to_calibrate_gives_point_forecasts(
    tmp_path, capsys, horizon
):
    out = tmp_path / "out"
    path = _write(tmp_path, _monthly(n=40))
    code = main(["forecast", str(path), "--horizon", str(horizon), *TINY,
                 "--no-plot", "--output-dir", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "note: GRUForecaster has no prediction intervals here" in err
    assert "point forecasts only" in err
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns) == ["date", "sales"]
    assert len(table) == horizon
    assert np.isfinite(table["sales"]).all()


# ---------------------------------------------------------------------- values out of range
@pytest.mark.parametrize("command", ["compare", "forecast"])
def test_values_near_the_float_limit_give_finite_results_on_their_scale(
    tmp_path, capsys, command
):
    frame = _monthly(n=40)
    frame["sales"] = frame["sales"] * 1e298
    out = tmp_path / "out"
    extra = ["--folds", "2"] if command == "compare" else []
    code = main([command, str(_write(tmp_path, frame)), "--horizon", "4", *extra,
                 "--output-dir", str(out), *TINY, "--no-plot"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    table = pd.read_csv(out / f"{command}.csv")
    if command == "compare":
        scores = table.filter(regex="^(smape|mase)").to_numpy(dtype=float)
        assert scores.size > 0
        assert np.isfinite(scores).all()
    else:
        # the forecasts lie on the data's scale, not at zero or at the float limit
        assert (table["sales"].abs() > 1e299).all()
        assert (table["sales"].abs() < 1e301).all()


def test_a_value_error_from_the_library_is_one_error_line(
    tmp_path, capsys, monkeypatch
):
    import gatedforecast.cli.forecast as forecast

    def refuse(*args, **kwargs):
        raise ValueError("The values overflow.\nRescale them.")

    monkeypatch.setattr(forecast, "run_forecast", refuse)
    path = _write(tmp_path, _monthly(n=40))
    line = _error(capsys, "forecast", path, "--output-dir", tmp_path / "out")
    assert line == "error: The values overflow. Rescale them."


# ---------------------------------------------------------------------- output form
def test_an_unavailable_device_names_the_option(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = _write(tmp_path, _monthly(n=40))
    out = str(tmp_path / "out")
    code = main(["forecast", str(path), "--device", "cuda", "--output-dir", out])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("error: --device cuda was requested but CUDA is not")
    assert err[0].endswith("use --device cpu or --device auto.")
    assert 'device="' not in err[0]


@pytest.mark.parametrize(
    ("scale", "decimals"), [(1.0, 4), (1e-3, 7), (1e5, 0)]
)  # fmt: skip
def test_forecast_csv_has_digits_at_the_data_scale(tmp_path, scale, decimals):
    """Seven significant digits of the data's largest value, not fifteen."""
    frame = _monthly(n=40)
    frame["sales"] = frame["sales"] * scale  # largest value about 150 * scale
    table = _forecast_in_process(tmp_path, frame, "--horizon", "3")
    assert len(table) == 3
    for column in ("sales", "sales_lower", "sales_upper"):
        places = table[column].str.partition(".")[2].str.len()
        assert (places == decimals).all(), table[column].tolist()


# ---------------------------------------------------------------------- progress
def _compare_in_process(tmp_path, capsys, *args):
    path = _write(tmp_path, _monthly(n=40))
    options = opts("--horizon 4 --folds 2 --window-length 12 --interval-method none")
    code = main(["compare", str(path), *options, *TINY, "--no-plot",
                 "--output-dir", str(tmp_path / "out"), *args])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.err.splitlines()


def test_compare_reports_each_fold_of_each_model_with_an_estimate(tmp_path, capsys):
    err = _compare_in_process(tmp_path, capsys)
    models = ["GRU", "LSTM", "naive", "seasonal naive (sp=12)"]
    folds = [line.strip() for line in err if " fold " in line and "left)" in line]
    assert [line.split(" fold ")[0] for line in folds] == [
        m for m in models for _ in "12"
    ]
    assert [line.split(" fold ")[1][:3] for line in folds] == ["1/2", "2/2"] * 4
    for line in folds:
        assert " elapsed, about " in line
    # each model's fold lines come before its "done" line
    last_gru_fold = next(i for i, x in enumerate(err) if x.startswith("  GRU fold 2/2"))
    gru_done = next(i for i, x in enumerate(err) if x.startswith("[1/4] GRU: done"))
    assert last_gru_fold < gru_done
    assert folds[-1].endswith("about 0 s left)")


def test_quiet_keeps_only_notes_warnings_and_errors(tmp_path, capsys):
    err = _compare_in_process(tmp_path, capsys, "--quiet")
    assert all(line.startswith(("note:", "warning:")) for line in err), err
    assert (tmp_path / "out" / "compare.csv").exists()


def test_forecast_reports_the_epochs_of_both_trainings(tmp_path, capsys):
    """The default conformal fit on 60 months holds out many windows, so it trains
    twice: the report counts both."""
    path = _write(tmp_path, _monthly(n=60))
    out = str(tmp_path / "out")
    code = main(["forecast", str(path), "--horizon", "4", "--epochs", "3",
                 "--hidden-sizes", "4", "--device", "cpu", "--no-plot",
                 "--output-dir", out])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    fitted = next(line for line in err.splitlines() if line.startswith("fitted in"))
    assert ": 6 epochs in two trainings (3 with the last windows held out" in fitted
    assert "then 3 on all windows" in fitted


# ---------------------------------------------------------------------- the table
def _quarterly(n=32):
    t = np.arange(n)
    quarters = pd.period_range("2000Q1", periods=n, freq="Q").astype(str)
    return pd.DataFrame(
        {"quarter": quarters, "gdp": 50 + t + 5 * np.sin(t * np.pi / 2)}
    )


def test_the_table_shows_the_fold_spread_and_ranks_by_mase(tmp_path, capsys):
    out = tmp_path / "out"
    err = _compare_in_process(tmp_path, capsys, "--output-dir", str(out))
    assert err
    table = pd.read_csv(out / "compare.csv")
    assert list(table.columns) == [
        "model", "smape", "smape_std", "mase", "mase_std", "fit_seconds",
        "n_parameters", "coverage", "rank", "within_noise",
    ]  # fmt: skip
    report = json.loads((out / "compare.json").read_text())
    for row in report["results"]:
        assert row["smape_std"] == pytest.approx(
            np.std(row["smape_by_fold"], ddof=1), abs=1e-4
        )
        assert row["mase_std"] == pytest.approx(
            np.std(row["mase_by_fold"], ddof=1), abs=1e-4
        )
    # ranked by MASE
    assert table["mase"].is_monotonic_increasing
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert report["metrics"]["rank"] == "by MASE, 1 is best"
    # within noise: the mean fold-by-fold difference to the best is at most its spread
    folds = {r["model"]: np.array(r["mase_by_fold"]) for r in report["results"]}
    best = folds[table["model"][0]]
    for row in table.itertuples():
        difference = folds[row.model] - best
        expected = row.rank == 1 or difference.mean() <= np.std(difference, ddof=1)
        assert row.within_noise == expected


def test_printed_table_has_mean_and_spread():
    import io

    from gatedforecast.cli.report import (
        Comparison,
        ModelResult,
        print_table,
        rank_models,
    )

    def result(name, by_fold):
        return ModelResult(name, name, float(np.mean(by_fold)), float(np.mean(by_fold)),
                           0.1, 0, smape_by_fold=by_fold, mase_by_fold=by_fold)  # fmt: skip

    results = [result("a", [1.0, 1.2, 1.4]), result("b", [1.1, 1.1, 1.6]),
               result("c", [3.0, 3.1, 3.2])]  # fmt: skip
    rank_models(results)
    assert [r.rank for r in results] == [1, 2, 3]
    assert [r.within_noise for r in results] == [True, True, False]

    table = Comparison(None, {}, [], results, None, None).table()
    stream = io.StringIO()
    print_table(table, "title", 0.9, stream)
    text = stream.getvalue()
    assert "1.200 ± 0.200" in text  # MASE of a: mean ± standard deviation
    assert "best" in text
    assert "within noise" in text


def test_baselines_add_ets_and_theta(tmp_path, capsys):
    pytest.importorskip("statsmodels")
    path = _write(tmp_path, _quarterly())
    out = tmp_path / "out"
    # season 1 keeps AutoETS's search short
    options = "--horizon 4 --folds 1 --season 1 --baselines --interval-method none"
    code = main(["compare", str(path), *opts(options), *TINY, "--no-plot",
                 "--output-dir", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    report = json.loads((out / "compare.json").read_text())
    results = {r["model"]: r for r in report["results"]}
    assert set(results) == {"GRU", "LSTM", "naive", "ETS", "Theta"}
    assert "AutoETS" in results["ETS"]["estimator"]
    assert "ThetaForecaster" in results["Theta"]["estimator"]
    for name in ("ETS", "Theta"):
        assert np.isfinite(results[name]["smape"])


def test_baselines_without_statsmodels_is_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels", None)
    path = _write(tmp_path, _quarterly())
    line = _error(
        capsys, "compare", path, "--baselines", "--output-dir", tmp_path / "o"
    )
    assert "--baselines needs statsmodels" in line
    assert "pip install statsmodels" in line


# ---------------------------------------------------------------------- plots
@pytest.fixture
def figures(monkeypatch):
    """The figures the plots draw, kept open."""
    plt = pytest.importorskip("matplotlib.pyplot")
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    return kept


def _comparison():
    from gatedforecast.cli.data import Dataset
    from gatedforecast.cli.report import Comparison, ModelResult

    index = pd.period_range("2000-01", periods=24, freq="M")
    y = pd.DataFrame({"sales": 100 + np.arange(24.0)}, index=index)
    y.index.name = "month"
    train, test = y.iloc[:20], y.iloc[20:]
    data = Dataset(y, "f.csv", "month", ["sales"], lengths={None: 24}, freq="M")

    def result(name, offset, rank, band=None):
        pred = test + offset
        interval = None
        if band is not None:
            columns = pd.MultiIndex.from_tuples(
                [("sales", 0.9, "lower"), ("sales", 0.9, "upper")]
            )
            interval = pd.DataFrame(
                np.c_[pred["sales"] - band, pred["sales"] + band],
                index=test.index,
                columns=columns,
            )
        return ModelResult(name, name, 50.0, 1.0, 0.0, 0, rank=rank,
                           scaled_error_by_step=[float(offset)] * 4,
                           last_pred=pred, last_interval=interval)  # fmt: skip

    results = [
        result("GRU", 2.0, 2),
        result("LSTM", 1.0, 1),
        result("naive", 3.0, 3, 1e4),
    ]
    settings = {"horizon": 4, "coverage": 0.9}
    return Comparison(data, settings, [{}, {}], results, train, test)


def test_compare_png_shows_the_fold_and_keeps_colours_and_range(tmp_path, figures):
    from gatedforecast.cli.report import plot_comparison
    from gatedforecast.metrics import smape

    comparison = _comparison()
    plot_comparison(comparison, tmp_path / "compare.png")
    assert _png(tmp_path / "compare.png")
    top, bottom = figures[0].axes
    labels = {line.get_label(): line for line in top.get_lines()}
    actual = comparison.last_test["sales"].to_numpy()
    # the legend has this fold's sMAPE, not the mean over folds (50.0)
    gru = f"GRU: sMAPE {smape(actual, actual + 2.0):.2f}"
    assert gru in labels
    # colours by model, not rank: GRU is first in the comparison, ranked second
    assert labels[gru].get_color() == "C0"
    assert {line.get_label(): line.get_color() for line in bottom.get_lines()} == {
        "LSTM": "C1", "GRU": "C0", "naive": "C2"
    }  # fmt: skip
    # the naive band of ±10,000 does not set the range: the data and forecasts do
    low, high = top.get_ylim()
    assert 90 < low < 100
    assert 120 < high < 130
    # a scaled error by step, with labelled axes
    assert bottom.get_lines()[0].get_ydata().tolist() == [1.0] * 4
    assert "MASE scale" in bottom.get_ylabel()
    assert top.get_xlabel() == "month"
    assert top.get_ylabel() == "sales"


def test_the_scaled_error_weighs_series_of_different_scales_alike():
    from gatedforecast.cli.compare import score_fold

    def frame(values, key):
        index = pd.MultiIndex.from_product([[key], range(len(values))])
        return pd.DataFrame({"v": values}, index=index)

    small, large = np.arange(10.0), 1000 * np.arange(10.0)
    train = pd.concat([frame(small[:8], "a"), frame(large[:8], "b")])
    test = pd.concat([frame(small[8:], "a"), frame(large[8:], "b")])
    test.index = pd.MultiIndex.from_tuples([("a", 8), ("a", 9), ("b", 8), ("b", 9)])
    pred = test.copy()
    pred.loc["a", "v"] = small[8:] + 1  # one step of its scale
    pred.loc["b", "v"] = large[8:] + 1000
    _, _, mae, scaled = score_fold(train, test, pred, 1, 2)
    assert mae.tolist() == [500.5, 500.5]
    assert scaled.tolist() == [1.0, 1.0]


def test_forecast_png_is_titled_by_the_target(tmp_path, figures):
    from gatedforecast.cli.data import Dataset
    from gatedforecast.cli.forecast import plot_forecast

    index = pd.period_range("2000-01", periods=24, freq="M")
    y = pd.DataFrame({"sales": np.arange(24.0)}, index=index)
    data = Dataset(
        y, "/data/raw/sales_2024.csv", "month", ["sales"], lengths={None: 24}
    )
    pred = pd.DataFrame({"sales": [24.0, 25.0]}, index=index[-2:] + 2)
    plot_forecast(data, (pred, None, 0.9), tmp_path / "forecast.png")
    ax = figures[0].axes[0]
    assert ax.get_title() == "sales"
    assert ax.get_xlabel() == "month"


def test_plot_history_keeps_its_labels_in_the_saved_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    from gatedforecast.plotting import plot_history

    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [3.0, 2.0, 1.0],
                            "val_loss": [np.nan] * 3})  # fmt: skip
    ax = plot_history(history, title="GRUForecaster")
    assert isinstance(ax.figure.get_layout_engine(), ConstrainedLayoutEngine)
    ax.figure.savefig(tmp_path / "history.png")
    ax.figure.canvas.draw()
    inside = ax.figure.bbox
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        box = label.get_window_extent()
        assert inside.x0 <= box.x0
        assert box.x1 <= inside.x1
        assert inside.y0 <= box.y0
        assert box.y1 <= inside.y1


def test_ensemble_size_option_reaches_the_forecasters():
    from gatedforecast.cli import build_parser
    from gatedforecast.cli.options import network_params

    parser = build_parser()
    default = parser.parse_args(["forecast", "data.csv"])
    assert network_params(default, 12)["ensemble_size"] == "auto"
    chosen = parser.parse_args(["forecast", "data.csv", "--ensemble-size", "3"])
    assert network_params(chosen, 12)["ensemble_size"] == 3


def test_a_bad_ensemble_size_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "data.csv", "--ensemble-size", "many"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        "error: argument --ensemble-size: expected auto or a whole number >= 1, "
        "got 'many'"
    )
