"""The code in README.md, docs/index.md and docs/quickstart.md runs as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/index.md", "docs/quickstart.md"]


def _python_blocks(page: str) -> list[str]:
    text = (ROOT / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


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
