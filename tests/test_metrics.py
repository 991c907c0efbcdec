"""gatedforecast.metrics: the M4 scores that the CLI and the benchmarks report."""

import doctest

import numpy as np
import pytest

from gatedforecast import metrics


def test_docstring_examples_run_as_written():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = doctest.DocTestFinder().find(metrics)
    assert sum(len(t.examples) for t in tests) >= 10
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


def test_scores_by_hand():
    actual, forecast = np.array([100.0, 200.0]), np.array([110.0, 180.0])
    history = np.array([90.0, 100.0, 120.0, 110.0])  # steps 10, 20, 10: scale 40/3
    assert metrics.smape(actual, forecast) == pytest.approx(100 * (10 / 210 + 20 / 380))
    assert metrics.mase(actual, forecast, history) == pytest.approx(15 / (40 / 3))
    assert metrics.mase_scale(history, season=2) == pytest.approx(20.0)
    # 95 % intervals [95, 99] and [190, 230]: widths 4 and 40; the first misses
    # by 1 above (2 / 0.05 * 1 = 40)
    lower, upper = np.array([95.0, 190.0]), np.array([99.0, 230.0])
    width = np.array([4.0, 40.0])
    penalty = np.array([2 / 0.05 * 1.0, 0.0])
    assert metrics.msis(actual, lower, upper, history) == pytest.approx(
        np.mean(width + penalty) / (40 / 3)
    )
    assert metrics.interval_coverage(actual, lower, upper) == 0.5


def test_several_series_average_the_per_series_scores():
    rng = np.random.default_rng(0)
    histories = [rng.normal(10, 2, size=n) for n in (20, 35, 50)]
    actual = rng.normal(10, 2, size=(3, 6))
    forecast = actual + rng.normal(0, 1, size=(3, 6))
    lower, upper = forecast - 1, forecast + 1
    for score, args in [
        (metrics.smape, (actual, forecast)),
        (metrics.mase, (actual, forecast, histories)),
        (metrics.msis, (actual, lower, upper, histories)),
    ]:
        per_series = [score(*(a[i] for a in args)) for i in range(3)]
        assert score(*args) == pytest.approx(np.mean(per_series), rel=1e-12)


def test_undefined_cases_are_zero_or_nan_not_inf():
    # both 0: no error at that step
    assert metrics.smape([0.0, 2.0], [0.0, 2.0]) == 0.0
    # a training part without change, or too short for the season: no scale
    assert np.isnan(metrics.mase([1.0], [2.0], [5.0, 5.0, 5.0]))
    assert np.isnan(metrics.mase([1.0], [2.0], [1.0, 2.0], season=2))
    assert np.isnan(metrics.msis([1.0], [0.0], [2.0], [5.0, 5.0]))


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="insample holds 1 training series"):
        metrics.mase(np.ones((2, 3)), np.ones((2, 3)), [np.arange(5.0)])
    with pytest.raises(ValueError, match="1-D array.*2-D array"):
        metrics.smape(np.ones((2, 2, 2)), np.ones((2, 2, 2)))
