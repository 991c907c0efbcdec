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
