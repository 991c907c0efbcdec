"""benchmarks/suite_tables.py: the dev suite's table of every seed on airline and
M4 Weekly, built from run records."""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "suite_tables.py"
_spec = importlib.util.spec_from_file_location("suite_tables", PATH)
suite_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite_tables)


def _run(series, model, seed, smape, label="reference", mase=1.0, fit=2.0):
    return {
        "series": series,
        "model": model,
        "seed": seed,
        "label": label,
        "smape": smape,
        "mase": mase,
        "fit_seconds": fit,
    }


RECORDS = [
    _run("airline", "gru", 2, 5.0, "a", mase=0.5, fit=1.0),
    _run("airline", "gru", 0, 3.0, "a", mase=0.3, fit=3.0),
    _run("airline", "gru", 1, 4.0, "a", mase=0.4, fit=2.0),
    _run("airline", "lstm", 3, 6.0, "b", mase=0.6),
    {**_run("airline", "lstm", 4, 0.0, "b"), "failed": "ValueError: no fit"},
    _run("airline", "snaive", None, 10.0, mase=1.5, fit=0.0),
    _run("airline", "autoets", None, 4.5, mase=0.7, fit=20.0),
    _run("airline", "theta", None, 5.5, mase=0.8, fit=0.1),
    _run("m4_weekly", "gru", 0, 7.0, "a", mase=2.0, fit=800.0),
    _run("m4_weekly", "naive", None, 9.0, mase=2.7, fit=0.0),
    _run("shampoo", "gru", 0, 20.0, "a"),
]


def test_one_row_per_contestant_with_the_smape_of_each_seed():
    tables = suite_tables.seed_tables(RECORDS)
    assert list(tables) == ["airline", "m4_weekly"]  # shampoo has no seed table
    airline = tables["airline"]
    assert airline["seeds"] == [0, 1, 2, 3]  # the failed seed 4 is left out
    gru, lstm = airline["ours"]
    assert gru["contestant"] == "gru, a"
    assert [(s["seed"], s["smape"]) for s in gru["per_seed"]] == [
        (0, 3.0),
        (1, 4.0),
        (2, 5.0),
    ]
    assert gru["mean_smape"] == pytest.approx(4.0)
    assert gru["spread_smape"] == pytest.approx(2.0)
    assert gru["mean_mase"] == pytest.approx(0.4)
    assert gru["mean_fit_seconds"] == pytest.approx(2.0)
    # one seed has no spread
    assert lstm["contestant"] == "lstm, b"
    assert lstm["spread_smape"] is None
    assert [r["contestant"] for r in airline["references"]] == [
        "autoets",
        "theta",
        "snaive",
    ]
    assert airline["references"][0] == {
        "contestant": "autoets",
        "smape": 4.5,
        "mase": 0.7,
        "fit_seconds": 20.0,
    }
    assert [r["contestant"] for r in tables["m4_weekly"]["references"]] == ["naive"]


def test_the_markdown_section_has_a_column_per_seed_and_the_references_under_ours():
    lines = suite_tables.seed_markdown(suite_tables.seed_tables(RECORDS))
    assert "## Seeds: airline and M4 Weekly" in lines
    start = lines.index("### airline")
    assert lines[start + 2] == (
        "| contestant | seed 0 | seed 1 | seed 2 | seed 3 | mean sMAPE | spread | "
        "mean MASE | mean fit s |"
    )
    assert lines[start + 4 : start + 9] == [
        "| gru, a | 3.00 | 4.00 | 5.00 | — | 4.00 | 2.00 | 0.400 | 2.0 |",
        "| lstm, b | — | — | — | 6.00 | 6.00 | — | 0.600 | 2.0 |",
        "| autoets | | | | | 4.50 | | 0.700 | 20.0 |",
        "| theta | | | | | 5.50 | | 0.800 | 0.1 |",
        "| snaive | | | | | 10.00 | | 1.500 | 0.0 |",
    ]
    m4 = lines.index("### M4 Weekly")
    assert lines[m4 + 4 :] == [
        "| gru, a | 7.00 | 7.00 | — | 2.000 | 800.0 |",
        "| naive | | 9.00 | | 2.700 | 0.0 |",
    ]
    # no runs on airline or M4 Weekly: no section
    assert suite_tables.seed_markdown(suite_tables.seed_tables(RECORDS[-1:])) == []
