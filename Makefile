# Set-up and everyday commands. Every target builds the local virtual environment
# first: the CPU build of torch (so no multi-GB CUDA build is downloaded), then the
# project with its development extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0

.PHONY: venv demo test lint wheel-check notebooks notebooks-update docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/python examples/airline_demo.py

test: venv
	$(BIN)/python -m pytest -n 2 tests

lint: venv
	$(BIN)/ruff check .

# The package as a user installs it: the sdist and the wheel built from it, the
# wheel installed without extras (CPU torch first) into a fresh virtual environment,
# then the command and the Python API run from a folder outside the checkout.
wheel-check: venv
	BUILD_PYTHON=$(BIN)/python TORCH_PIN=$(TORCH_PIN) bash .ci/wheel_smoke.sh

# The example notebooks, run top to bottom as tests: at most two minutes each, two
# at a time, one torch thread per kernel so that the two do not oversubscribe the
# cores. They are stored with their outputs, which the docs show as they are.
NBMAKE := OMP_NUM_THREADS=1 $(BIN)/python -m pytest --nbmake --nbmake-timeout=120 \
	-n 2 -p no:cacheprovider --durations=0 examples/

notebooks: venv
	$(NBMAKE) --timeout=120

# Run the notebooks and store their new outputs in place (then review and commit).
notebooks-update: venv
	$(NBMAKE) --overwrite

# The documentation site, warnings as errors. User-guide pages with code cells run
# during the build; the notebooks are shown with their stored outputs.
docs: venv
	OMP_NUM_THREADS=1 $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	rm -rf docs/_build docs/examples docs/_generated docs/api/generated docs/jupyter_execute
