"""The code in README.md and docs/index.md runs as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/index.md"]


def _python_blocks(page: str) -> str:
    text = (ROOT / page).read_text()
    return "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, capsys):
    code = _python_blocks(page)
    assert code, f"{page} has no python example"
    exec(compile(code, page, "exec"), {"__name__": "__docs__"})
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
