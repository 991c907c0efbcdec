"""sktime's own conformance suite, every check, for both forecasters."""

import pytest
from sktime.utils.estimator_checks import check_estimator, parametrize_with_checks

from gatedforecast import GRUForecaster, LSTMForecaster

pytestmark = pytest.mark.slow


@parametrize_with_checks([GRUForecaster, LSTMForecaster])
def test_sktime_conformance(obj, test_name):
    check_estimator(obj, tests_to_run=test_name, raise_exceptions=True)
