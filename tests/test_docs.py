"""The code in README.md, docs/index.md and docs/quickstart.md runs as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/index.md", "docs/quickstart.md"]


def _python_blocks(page: str) -> list[str]:
    text = (ROOT / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, capsys):
    blocks = _python_blocks(page)
    assert blocks, f"{page} has no python example"
    for number, code in enumerate(blocks, start=1):
        # each block on its own, as a reader copies it: its own imports and names
        exec(compile(code, f"{page}, block {number}", "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip()


def _public_objects() -> dict:
    import gatedforecast
    from gatedforecast import networks, scaling

    names = [n for n in gatedforecast.__all__ if n != "__version__"]
    objects = {n: getattr(gatedforecast, n) for n in names}
    objects["SeriesScaler"] = scaling.SeriesScaler
    objects["ForecastNetwork"] = networks.ForecastNetwork
    return {n: o for n, o in objects.items() if "Examples" in (o.__doc__ or "")}


@pytest.mark.parametrize("name", sorted(_public_objects()))
def test_docstring_examples_run_as_written(name, tmp_path, monkeypatch):
    import doctest

    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    (test,) = finder.find(_public_objects()[name], name, globs={})
    assert test.examples
    runner.run(test)
    assert runner.failures == 0


# ------------------------------------------------------- parameters vs signatures
def _estimators() -> dict:
    from gatedforecast import GRUForecaster, GRURegressor, LSTMForecaster, LSTMRegressor

    return {
        GRUForecaster: "forecaster",
        LSTMForecaster: "forecaster",
        GRURegressor: "regressor",
        LSTMRegressor: "regressor",
    }


def _signature(cls) -> dict:
    import inspect

    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: p.default for p in parameters}


def _documented(cls) -> list:
    import warnings

    from numpydoc.docscrape import NumpyDocString

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unknown section or a bad layout fails
        return NumpyDocString(cls.__doc__)["Parameters"]


@pytest.mark.parametrize("cls", list(_estimators()), ids=lambda c: c.__name__)
def test_documented_parameters_match_the_signature(cls):
    import ast

    signature = _signature(cls)
    documented = _documented(cls)
    assert [p.name for p in documented] == list(signature)
    for param in documented:
        assert param.desc, f"{param.name} has no description"
        default = re.fullmatch(r".*, default=(.+)", param.type)
        assert default, f"{param.name} documents no default: {param.type!r}"
        assert ast.literal_eval(default[1]) == signature[param.name], param.name


@pytest.mark.parametrize("cls", list(_estimators()), ids=lambda c: c.__name__)
def test_the_parameter_table_matches_the_signature(cls):
    from gatedforecast._params import parameters

    signature = _signature(cls)
    family = _estimators()[cls]
    table = parameters(family)
    assert [p.name for p in table] == list(signature)
    for param in table:
        assert param.default_for(family) == signature[param.name], param.name
        # every default passes its own check, and a choice's default is a choice
        param.check(param.default_for(family))
        if param.kind == "choice":
            assert param.default_for(family) in param.choices()


def test_every_table_entry_belongs_to_some_signature():
    from gatedforecast._docs import PARAMETER_TEXT
    from gatedforecast._params import PARAMETERS, RULES

    names = set().union(*(_signature(cls) for cls in _estimators()))
    assert {p.name for p in PARAMETERS} == names
    assert set(PARAMETER_TEXT) == names
    for rule in RULES:
        assert set(rule.names) <= names


@pytest.mark.parametrize("cls", list(_estimators()), ids=lambda c: c.__name__)
def test_docstrings_are_their_own_and_hold_no_benchmark_numbers(cls):
    doc = cls.__doc__
    cell = "LSTM" if cls.__name__.startswith("LSTM") else "GRU"
    assert doc.startswith(f"{cell} ")
    assert f">>> model = {cls.__name__}(" in doc or f"= {cls.__name__}(" in doc
    assert not re.search(r"(sMAPE|MASE) \d", doc), "benchmark numbers belong in docs/"
    assert ":doc:`/benchmarks`" in doc or "Regressor" in cls.__name__


def test_the_benchmarks_page_holds_the_numbers_behind_the_defaults():
    page = (ROOT / "docs/benchmarks.md").read_text()
    assert "## How the defaults were chosen" in page
    for number in ("6.689", "6.899", "7.46 to 3.45", "8.228"):
        assert number in page
