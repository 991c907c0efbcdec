"""The package's modules import one another without a cycle, and model files load
through the registry, without the persistence modules importing the estimators."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatedforecast import GRUForecaster, LSTMRegressor
from gatedforecast._registry import lookup, register_model, registered

PACKAGE = Path(__file__).resolve().parent.parent / "gatedforecast"
REFERENCE = Path(__file__).resolve().parent / "reference_models"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, modules: set) -> set:
    """The package modules that ``path`` imports, at module level or inside
    functions (a lazy import is still a dependency), leaving out imports for type
    checkers only."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def visit(node):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # "from . import windows" imports the module gatedforecast.windows
            # (its package is already loaded: the importing module is in it)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def _cycle(graph: dict) -> list | None:
    """A cycle of the import graph, as a list of modules, or None."""
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            return on_path[on_path.index(module) :] + [module]
        if module in done:
            return None
        on_path.append(module)
        for imported in sorted(graph[module]):
            found = visit(imported)
            if found:
                return found
        on_path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module)
        if found:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_the_package_imports_itself_through_others():
    graph = _graph()
    # the lazy import that once closed a cycle is still seen
    assert "gatedforecast.persistence" in graph["gatedforecast._fitted"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_persistence_imports_no_estimator_module():
    graph = _graph()
    reached, todo = set(), ["gatedforecast.persistence"]
    while todo:
        module = todo.pop()
        for imported in graph[module] - reached:
            reached.add(imported)
            todo.append(imported)
    assert not reached & {
        "gatedforecast.forecasting",
        "gatedforecast.regression",
        "gatedforecast._fitted",
    }


@pytest.mark.slow
def test_a_model_file_loads_in_a_fresh_interpreter_through_the_registry():
    code = (
        "import sys\n"
        "from gatedforecast.persistence import load_model\n"
        "assert 'gatedforecast.forecasting' not in sys.modules\n"
        f"model = load_model({str(REFERENCE / 'gru_forecaster.gfm')!r})\n"
        "print(type(model).__name__, len(model.predict()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["GRUForecaster", "4"]


def test_the_public_estimators_are_registered_and_nothing_else_loads():
    assert set(registered()) == {
        "GRUForecaster",
        "LSTMForecaster",
        "GRURegressor",
        "LSTMRegressor",
    }
    assert lookup("GRUForecaster") is GRUForecaster
    assert lookup("LSTMRegressor") is LSTMRegressor
    for name in ("ModelFileError", "load_model", "__version__", "os.system", 3):
        assert lookup(name) is None


def test_register_model_refuses_a_class_it_could_not_save_or_a_second_name():
    class Plain:
        pass

    with pytest.raises(TypeError, match="no _fitted_state method"):
        register_model(Plain)

    class GRUForecaster(Plain):  # another class under a registered name
        _state_schema = "forecaster"

        def _fitted_state(self):
            return {}

        def _restore_fitted_state(self, state):
            pass

    with pytest.raises(ValueError, match="another class named GRUForecaster"):
        register_model(GRUForecaster)
    assert lookup("GRUForecaster") is not GRUForecaster
