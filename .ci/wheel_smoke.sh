#!/usr/bin/env bash
# The package as a user installs it: build the sdist and, from it, the wheel; check
# that the wheel holds every file of the package and its command; install the wheel
# without extras into a fresh virtual environment (the CPU build of torch first, as
# the install page says); then, from a folder outside the checkout, run the command
# and the Python API. A package file, an entry point or a dependency that is
# missing from the wheel's metadata fails this script.
#
# BUILD_PYTHON: a Python with the `build` package (default: the project's .venv,
# whose dev extra installs it). PYTHON: the interpreter for the fresh environment.
# pip uses its cache as usual, so a second run downloads nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BUILD_PYTHON=${BUILD_PYTHON:-$root/.venv/bin/python}
PYTHON=${PYTHON:-$BUILD_PYTHON}
TORCH_PIN=${TORCH_PIN:-torch==2.13.0}

# each part with the seconds since the start
note() { echo "--> [$SECONDS s] $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gatedforecast-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

note "build the sdist, then the wheel from the sdist"
"$BUILD_PYTHON" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || {
    cat "$work/build.log"
    exit 1
}
wheel=$(ls "$work"/dist/gatedforecast-*.whl)
sdist=$(ls "$work"/dist/gatedforecast-*.tar.gz)
echo "    $(basename "$wheel"), $(basename "$sdist")"

note "the wheel and the sdist hold every file of the package"
git ls-files gatedforecast >"$work/package-files.txt"
"$BUILD_PYTHON" - "$wheel" "$sdist" "$work/package-files.txt" <<'EOF'
import sys
import tarfile
import zipfile

wheel, sdist, listing = sys.argv[1:]
tracked = {line.strip() for line in open(listing) if line.strip()}
# files the package ships; compiled caches are never tracked
with zipfile.ZipFile(wheel) as archive:
    in_wheel = set(archive.namelist())
    meta = [name for name in in_wheel if name.endswith(".dist-info/entry_points.txt")]
    entry_points = archive.read(meta[0]).decode() if meta else ""
with tarfile.open(sdist) as archive:
    in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
problems = []
for name, contents in (("wheel", in_wheel), ("sdist", in_sdist)):
    missing = sorted(tracked - contents)
    if missing:
        problems.append(f"the {name} lacks {', '.join(missing)}")
extra = sorted(
    name
    for name in in_wheel
    if name.startswith("gatedforecast/") and name not in tracked
)
if extra:
    problems.append(f"the wheel holds files the checkout does not track: {extra}")
if "gatedforecast = gatedforecast.cli:main" not in entry_points:
    problems.append(f"the wheel declares no gatedforecast command: {entry_points!r}")
for name in ("tests/", "LICENSE", "README.md", "pyproject.toml"):
    if not any(entry.startswith(name) for entry in in_sdist):
        problems.append(f"the sdist lacks {name}")
if problems:
    sys.exit("\n".join(problems))
print(f"    {len(tracked)} package files in both, entry point declared")
EOF

note "a fresh virtual environment: $TORCH_PIN, then the wheel without extras"
"$PYTHON" -m venv "$work/venv"
venv_python=$work/venv/bin/python
"$venv_python" -m pip install --quiet --no-compile "$TORCH_PIN"
note "the wheel and its dependencies"
"$venv_python" -m pip install --quiet --no-compile "$wheel"
"$venv_python" -m pip check

# nothing from the checkout: no PYTHONPATH, run from a folder outside it
mkdir "$work/user"
cd "$work/user"
unset PYTHONPATH
export PATH="$work/venv/bin:$PATH"

note "every module imports with the declared dependencies only"
python - "$work/venv" <<'EOF'
import importlib
import pkgutil
import sys
from pathlib import Path

import gatedforecast

venv = Path(sys.argv[1]).resolve()
location = Path(gatedforecast.__file__).resolve()
if venv not in location.parents:
    sys.exit(f"gatedforecast was imported from {location}, not from the wheel")
# __main__ runs the command when imported; `gatedforecast --version` covers it
names = [
    info.name
    for info in pkgutil.walk_packages(gatedforecast.__path__, "gatedforecast.")
    if info.name != "gatedforecast.__main__"
]
for name in names:
    importlib.import_module(name)
print(f"    {len(names)} modules from {location.parent}")
EOF

note "gatedforecast --version"
gatedforecast --version

note "gatedforecast compare --folds 2 --epochs 2 (the bundled airline data)"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} gatedforecast compare --folds 2 --epochs 2
for name in compare.csv compare.json; do
    test -s "gatedforecast-output/$name" || {
        echo "compare wrote no gatedforecast-output/$name" >&2
        exit 1
    }
done

note "the Python API: fit, predict, an interval, save and load"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} python - <<'EOF'
import numpy as np
from sktime.datasets import load_airline

import gatedforecast
from gatedforecast import GRUForecaster, LSTMRegressor, load_model, make_windows, save_model

y = load_airline()
forecaster = GRUForecaster(hidden_sizes=8, max_epochs=2, random_state=0)
forecaster.fit(y[:-12], fh=range(1, 13))
y_pred = forecaster.predict()
assert y_pred.index.equals(y[-12:].index), y_pred.index
assert np.isfinite(y_pred.to_numpy()).all(), y_pred
interval = forecaster.predict_interval(coverage=0.9)
assert interval.shape == (12, 2), interval.shape
save_model(forecaster, "gru.gfm")
assert load_model("gru.gfm").predict().equals(y_pred)

X, target = make_windows(y.to_numpy(), window_length=12, horizon=1)
model = LSTMRegressor(hidden_sizes=8, max_epochs=2, random_state=0).fit(X, target)
assert model.predict(X[-3:]).shape == (3,)
print(f"    gatedforecast {gatedforecast.__version__}: fit, predict, interval, save, load")
EOF
note "the wheel installs and runs on its own"
