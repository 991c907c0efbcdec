"""Model files written by earlier versions still load and predict the same values.

The files under ``tests/reference_models/`` were saved once, before the model file
format was made explicit; each ``.npz`` beside a ``.gfm`` holds what that model
predicted when it was saved. They are never refreshed: a change that makes one of
them fail breaks the files users already have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gatedforecast import load_model

HERE = Path(__file__).resolve().parent / "reference_models"
CASES = sorted(path.stem for path in HERE.glob("*.gfm"))
FORECASTERS = [case for case in CASES if case.endswith("_forecaster")]
COVERAGE = [0.5, 0.9]
# the weights and arithmetic are float32: allow the last bits another CPU's
# kernels may round differently, nothing more
RTOL = 1e-6


def _expected(case: str) -> dict:
    with np.load(HERE / f"{case}.npz", allow_pickle=False) as stored:
        return dict(stored)


def test_every_estimator_kind_has_a_reference_file():
    assert set(CASES) == {
        "gru_forecaster",
        "lstm_forecaster",
        "panel_forecaster",
        "quantile_forecaster",
        "exogenous_forecaster",
        "gru_regressor",
        "lstm_regressor",
    }


@pytest.mark.parametrize("case", FORECASTERS)
def test_reference_forecaster_predicts_what_it_predicted_when_saved(case):
    expected = _expected(case)
    forecaster = load_model(HERE / f"{case}.gfm")
    if case == "exogenous_forecaster":
        from reference_models.make_reference_models import with_x

        y_pred = forecaster.predict(X=with_x()[2])
    else:
        y_pred = forecaster.predict()
    np.testing.assert_allclose(y_pred.to_numpy(), expected["predict"], rtol=RTOL)
    assert list(y_pred.index.map(str)) == list(expected["index"])
    if "interval" in expected:
        coverage = 0.8 if case == "panel_forecaster" else COVERAGE
        interval = forecaster.predict_interval(coverage=coverage)
        np.testing.assert_allclose(interval.to_numpy(), expected["interval"], rtol=RTOL)


@pytest.mark.parametrize("case", ["gru_regressor", "lstm_regressor"])
def test_reference_regressor_predicts_what_it_predicted_when_saved(case):
    from reference_models.make_reference_models import regressor_inputs

    regressor = load_model(HERE / f"{case}.gfm")
    X = regressor_inputs()
    if case == "lstm_regressor":
        X = X.reshape(len(X), -1)
    np.testing.assert_allclose(
        regressor.predict(X), _expected(case)["predict"], rtol=RTOL
    )


@pytest.mark.parametrize("case", CASES)
def test_a_parameter_added_since_a_file_was_saved_takes_its_default(case):
    import json
    import zipfile

    with zipfile.ZipFile(HERE / f"{case}.gfm") as archive:
        stored = json.loads(archive.read("model.json"))["params"]
    # attention came after these files: they load as the plain cell they hold
    assert "attention" not in stored
    estimator = load_model(HERE / f"{case}.gfm")
    assert estimator.get_params()["attention"] is False
    assert "+" not in estimator.network_.encoder.cell
