"""Bad input to the estimators ends in a clear error and leaves the data as it was.

The bad parameters are generated from the parameter table (gatedforecast._params):
for each parameter of each estimator, values outside its range, of a wrong type or
not among its choices, and for each rule between parameters, a setting that breaks
it.
"""

import copy
import functools
import re

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from gatedforecast import GRUForecaster, GRURegressor, LSTMForecaster, LSTMRegressor
from gatedforecast._params import (
    FORECASTER,
    REGRESSOR,
    RULES,
    check_value,
    choices,
    parameters,
    rules,
)


def _series(n=60):
    index = pd.period_range("2000-01", periods=n, freq="M")
    return pd.Series(np.linspace(1.0, 2.0, n), index=index, name="y")


def _fit_expecting(error, match, y, **params):
    original = y.copy(deep=True)
    forecaster = GRUForecaster(**{**FAST, **params})
    with pytest.raises(error, match=match):
        forecaster.fit(y, fh=[1, 2])
    pd.testing.assert_series_equal(y, original) if isinstance(
        y, pd.Series
    ) else pd.testing.assert_frame_equal(y, original)
    assert not forecaster.is_fitted


def test_series_shorter_than_the_window_states_the_minimum_length():
    _fit_expecting(
        ValueError,
        r"y has 10 observations.*at least 14 \(window_length \+ 2\)",
        _series(10),
        window_length=12,
    )


def test_recursive_needs_only_window_length_plus_one():
    y = _series(13)
    GRUForecaster(**FAST, window_length=12, strategy="recursive").fit(y, fh=[1, 2])
    _fit_expecting(
        ValueError,
        r"at least 13 \(window_length \+ 1\)",
        _series(12),
        window_length=12,
        strategy="recursive",
    )


@pytest.mark.parametrize(("value", "match"), [(np.inf, "infinite")])
def test_inf_inside_the_series(value, match):
    # NaN (a missing value) is accepted: tests/test_missing_values.py
    y = _series()
    y.iloc[30] = value
    frame = y.to_frame()
    original = frame.copy()
    with pytest.raises(ValueError, match=match):
        GRUForecaster(**FAST, window_length=12).fit(frame, fh=[1])
    pd.testing.assert_frame_equal(frame, original)


@pytest.mark.parametrize(
    ("column", "match"),
    [
        # strings: sktime refuses them before the forecaster sees them
        (["a"] * 60, "do not support categorical features"),
        ([True, False] * 30, r"'label': bool.*pd.to_numeric"),
    ],
)
def test_non_numeric_columns_are_refused_clearly(column, match):
    y = _series().to_frame()
    y["label"] = column
    original = y.copy()
    with pytest.raises(TypeError, match=match):
        GRUForecaster(**FAST, window_length=12).fit(y, fh=[1])
    pd.testing.assert_frame_equal(y, original)


# ------------------------------------------------- bad parameters, from the table
def _regressor_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 6)), rng.normal(size=40)


@functools.cache
def _fitted_regressor():
    return GRURegressor(**FAST, random_state=0).fit(*_regressor_data())


def _refuses(family, params, error, match):
    """``fit`` with ``params`` raises ``error`` matching ``match``, leaves the data
    as it was and the estimator unfitted; a fitted regressor refitted with
    ``params`` keeps its previous fit."""
    if family == FORECASTER:
        _fit_expecting(error, match, _series(), **params)
        return
    X, y = _regressor_data()
    X_before, y_before = X.copy(), y.copy()
    regressor = GRURegressor(**{**FAST, **params})
    with pytest.raises(error, match=match):
        regressor.fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    assert not hasattr(regressor, "network_")
    fitted = copy.deepcopy(_fitted_regressor())
    expected = fitted.predict(X)
    with pytest.raises(error, match=match):
        fitted.set_params(**params).fit(X, y)
    fitted.set_params(**_fitted_regressor().get_params())
    np.testing.assert_array_equal(fitted.predict(X), expected)


def _mentions(*parts: str) -> str:
    """A pattern that finds each of ``parts`` (literally), in any order."""
    return "".join(f"(?=.*{re.escape(part)})" for part in parts)


def _bad_values(param):
    """Values the declaration of ``param`` refuses, each with the error and a
    pattern of the message: the parameter's name and what it accepts (the fix)."""
    name = param.name
    if param.kind == "int":
        accepted = _mentions(
            *(['"auto"'] if param.auto else []), *(["None"] if param.none else [])
        )
        head = rf"^{name} must be an int >= {param.low}"
        yield param.low - 1, ValueError, rf"{head}, got {param.low - 1}\.$"
        yield 2.5, TypeError, rf"{accepted}{head}\b.*got 2\.5"
        yield True, TypeError, rf"{head}\b.*got True"
        yield "2", TypeError, rf"{accepted}{head}\b.*got '2'"
        if param.auto:
            yield "often", TypeError, rf"{accepted}{head}\b.*got 'often'"
    elif param.kind == "float":
        high = "inf" if param.high is None else f"{param.high:g}"
        bounds = re.escape(f"{param.closed[0]}{param.low:g}, {high}{param.closed[1]}")
        below = param.low - 1 if param.closed[0] == "[" else param.low
        yield below, ValueError, rf"^{name} must be in {bounds}, got"
        if param.high is not None:
            yield param.high + (param.closed[1] == "]"), ValueError, bounds
        else:
            yield float("inf"), ValueError, rf"^{name} must be in {bounds}, got inf"
        yield float("nan"), ValueError, rf"^{name} must be in {bounds}, got nan"
        yield "x", TypeError, rf"^{name} must be a number, got 'x'"
    elif param.kind == "bool":
        for value in (1, "yes", None):
            yield value, TypeError, rf"^{name} must be True or False, got {value!r}"
    elif param.kind in ("choice", "component"):
        listed = re.escape(", ".join(repr(c) for c in choices(name)))
        yield (
            "bogus",
            ValueError,
            rf"^{name}='bogus' is not valid; choose one of {listed}\.$",
        )
        if param.kind == "choice":
            yield 3, ValueError, rf"^{name}=3 is not valid; choose one of {listed}"
        else:
            base = re.escape(param.base[0][1])
            yield 3, TypeError, rf"^{name} must be one of {listed}, a {base} subclass"
    elif param.kind == "sizes":
        yield (0,), ValueError, rf"^{name} must hold positive ints.*\(128, 64\)"
        yield 0, ValueError, rf"^{name} must hold positive ints.*got 0\."
        yield (8, 2.5), ValueError, rf"^{name} must hold positive ints"
        yield (), TypeError, rf"^{name} must be a positive int or a non-empty tuple"
        yield "big", TypeError, rf"^{name} must be a positive int"
    elif param.kind == "size":
        yield 1.5, ValueError, rf"^{name} must be in \(0, 1\), got 1.5"
        yield 0, ValueError, rf"^{name} must be an int >= 1, got 0"
        yield "last", TypeError, rf"^{name} must be None, a float in \(0, 1\).*int >= 1"
    elif param.kind == "levels":
        yield (0.1, 0.9), ValueError, rf"^{name} must include 0\.5"
        yield (0.2, 0.5), ValueError, rf"^{name} must include a level below 0\.5 and"
        yield (0.5, 0.7), ValueError, rf"^{name} must include a level below 0\.5 and"
        yield (0.5, 1.5), ValueError, rf"^{name} must be distinct levels in \(0, 1\)"
        yield (0.1, 0.5, 0.1), ValueError, rf"^{name} must be distinct levels"
        yield ("a", 0.5), TypeError, rf"^{name} must be numbers in \(0, 1\); 'a'"
        yield 0.5, TypeError, rf"^{name} must be a tuple of levels in \(0, 1\)"
    elif param.kind == "labels":
        yield "x", TypeError, rf"^{name} must be None or a list of column labels"
        yield [], ValueError, rf"^{name} must name at least one column of X, or be"
        yield ["x", "x"], ValueError, rf"^{name} must name each column of X once"
        yield [["x"]], TypeError, rf"^{name} must hold column labels of X"
    elif param.kind == "device":
        listed = re.escape('"auto", "cpu", "cuda", "cuda:N" or "mps"')
        yield "tpu", ValueError, rf"^Unknown {name} 'tpu'; valid choices are {listed}"
        yield 0, TypeError, rf"^{name} must be a string \({listed}\) or a torch.device"
    elif param.kind == "seed":
        yield -1, ValueError, rf"^{name} must be a non-negative int, got -1"
        for value in ("seed", 1.5):
            yield value, TypeError, rf"^{name} must be None, an int, or a numpy Random"
    elif param.kind == "distributed":
        for value in ("yes", 1, None):
            yield value, TypeError, rf'^{name} must be "auto", True or False, got'
    else:
        raise AssertionError(f"no bad values for the kind {param.kind!r} of {name}")


#: what a parameter needs beside it for its own check to be reached
CONTEXT = {"quantiles": {"interval_method": "quantile"}}


def _parameter_cases():
    for family in (FORECASTER, REGRESSOR):
        for param in parameters(family):
            for value, error, match in _bad_values(param):
                params = {**CONTEXT.get(param.name, {}), param.name: value}
                case = (family, params, error, match)
                yield pytest.param(*case, id=f"{family}-{param.name}={value!r}")


@pytest.mark.parametrize(
    ("family", "params", "error", "match"), list(_parameter_cases())
)
def test_each_bad_parameter_is_refused_naming_it_and_what_it_accepts(
    family, params, error, match
):
    _refuses(family, params, error, match)


def test_every_parameter_of_every_estimator_has_bad_values():
    for family in (FORECASTER, REGRESSOR):
        for param in parameters(family):
            assert list(_bad_values(param)), param.name


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: "+".join(rule.names))
def test_each_rule_between_parameters_is_refused_naming_both(rule):
    families = [f for f in (FORECASTER, REGRESSOR) if rule in rules(f)]
    assert families
    for name in rule.names:
        assert name in rule.message
    for family in families:
        message = rule.describe(rule.example)
        _refuses(family, dict(rule.example), ValueError, re.escape(message))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"strategy": "dirct"}, r"strategy='dirct'.*'direct', 'recursive'"),
        ({"scaler": "minmax"}, r"scaler='minmax'.*'window', 'standard', 'robust'"),
        ({"baseline": "mean"}, r"'auto', 'last', 'seasonal', None"),
        ({"loss": "rmse"}, r"loss='rmse'.*'mse', 'mae', 'huber'"),
        ({"lr_schedule": "step"}, r"'plateau', 'cosine', 'onecycle', None"),
    ],
)
def test_choices_are_listed_from_the_registries(params, match):
    _fit_expecting(ValueError, match, _series(), **params)


def test_a_newly_registered_choice_is_accepted_listed_and_documented(monkeypatch):
    from gatedforecast import _docs, scaling, training

    monkeypatch.setattr(scaling, "BASELINES", (*scaling.BASELINES, "drift"))
    monkeypatch.setattr(training, "LR_SCHEDULES", ("step", *training.LR_SCHEDULES))
    assert choices("baseline") == ("auto", "last", "seasonal", "drift", None)
    assert choices("lr_schedule")[0] == "step"
    assert check_value("baseline", "drift") == "drift"
    assert check_value("lr_schedule", "step") == "step"
    section = _docs.parameters_section(FORECASTER)
    assert 'baseline : {"auto", "last", "seasonal", "drift", None}' in section
    assert 'lr_schedule : {"step", "plateau"' in section


def test_choices_for_the_command_line():
    assert choices("strategy") == ("direct", "recursive")
    assert choices("interval_method")[-1] is None
    assert "mc_dropout" in choices("interval_method")
    assert choices("window_length") is None
    with pytest.raises(ValueError, match="'windows' is not a parameter"):
        choices("windows")


#: a device this machine lacks (made so by ``patch``): what the error must say
UNAVAILABLE = [
    ("cuda:0", {"is_available": False}, r"CUDA is not available.*device=\"cpu\""),
    ("cuda", {"is_available": False}, r"CUDA is not available.*device=\"cpu\""),
    (
        "cuda:3",
        {"is_available": True, "device_count": 1},
        r"only 1 CUDA device\(s\) are visible; use an index below 1",
    ),
    ("mps", {"mps": False}, r"Apple MPS is not available.*device=\"cpu\""),
]


@pytest.mark.parametrize("family", [FORECASTER, REGRESSOR])
@pytest.mark.parametrize(
    ("device", "patch", "match"), UNAVAILABLE, ids=[u[0] for u in UNAVAILABLE]
)
def test_an_unavailable_device_is_a_clear_error(
    family, device, patch, match, monkeypatch
):
    import torch

    for name, value in patch.items():
        module = torch.backends.mps if name == "mps" else torch.cuda
        target = "is_available" if name == "mps" else name
        monkeypatch.setattr(module, target, lambda value=value: value)
    _refuses(family, {"device": device}, ValueError, match)


@pytest.mark.parametrize("cls", [LSTMForecaster, LSTMRegressor])
def test_the_lstm_estimators_check_their_parameters_like_the_gru_ones(cls):
    """The table's cases run on the GRU classes; the LSTM ones share the checks."""
    estimator = cls(**FAST, dropout=1.5)
    if cls is LSTMForecaster:
        fit = functools.partial(estimator.fit, _series(), fh=[1])
    else:
        fit = functools.partial(estimator.fit, *_regressor_data())
    with pytest.raises(ValueError, match=r"^dropout must be in \[0, 1\), got 1\.5"):
        fit()


def test_n_features_must_divide_the_columns_of_2d_x():
    _refuses(
        REGRESSOR,
        {"n_features": 4},
        ValueError,
        r"X has 6 columns, which n_features=4 does not divide.*Set n_features",
    )


def test_quantiles_without_the_quantile_head_are_refused_before_their_levels():
    """The rule comes first: with the default interval_method, levels that are
    themselves wrong (no 0.5) get the message about interval_method."""
    _fit_expecting(
        ValueError,
        r"^quantiles sets the levels.*set interval_method='quantile'",
        _series(),
        quantiles=(0.1, 0.9),
    )


def test_seasonal_baseline_needs_a_window_covering_the_season():
    _fit_expecting(
        ValueError,
        "window_length must be at least seasonal_period=12",
        _series(),
        window_length=6,
        baseline="seasonal",
        seasonal_period=12,
    )


def test_parameters_are_stored_untouched():
    forecaster = GRUForecaster(hidden_sizes=[8, 4], dropout=2.0, device="nowhere")
    assert forecaster.hidden_sizes == [8, 4]
    assert forecaster.dropout == 2.0
    assert forecaster.get_params()["device"] == "nowhere"


@pytest.mark.parametrize("integer_index", [False, True])
def test_update_with_a_gap_is_refused_and_leaves_the_forecaster_as_it_was(
    integer_index,
):
    y = _series(60)
    if integer_index:
        y = y.reset_index(drop=True)
    forecaster = GRUForecaster(**FAST).fit(y[:50], fh=[1, 2])
    before = forecaster.predict()
    cutoff = forecaster.cutoff
    weights = {k: v.clone() for k, v in forecaster.network_.state_dict().items()}
    first_missing = "2004-03" if not integer_index else "50"
    with pytest.raises(
        ValueError, match=rf"gap after .*no values at \['{first_missing}'"
    ):
        forecaster.update(y[53:], update_params=True)
    assert forecaster.cutoff.equals(cutoff)
    for name, value in forecaster.network_.state_dict().items():
        assert value.equal(weights[name])
    pd.testing.assert_series_equal(forecaster.predict(), before)
    # the contiguous continuation is still accepted
    forecaster.update(y[50:], update_params=False)
    assert forecaster.cutoff[0] == y.index[-1]


def test_a_horizon_needing_an_endless_roll_out_is_refused_before_any_work():
    forecaster = GRUForecaster(**FAST).fit(_series(), fh=[1, 2])
    with pytest.raises(
        ValueError, match=r"fh reaches 1000000 steps .*500,000 roll-out"
    ):
        forecaster.predict(fh=[10**6])
    with pytest.raises(ValueError, match="fewer steps, or fit with a longer head"):
        forecaster.predict_interval(fh=[10**6])
    assert len(forecaster.predict(fh=[1, 2, 3])) == 3
