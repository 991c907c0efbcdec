"""The checks the parameter table applies, one per kind of value.

Each check names the parameter, the value it got and what it accepts, so a bad
setting fails in ``fit`` with a message that says how to fix it, before torch sees
it. The table in :mod:`gatedforecast._params` says which check each parameter gets.
"""

from __future__ import annotations

import numbers

import numpy as np


def _choices(choices) -> str:
    return ", ".join(repr(c) for c in choices)


def check_choice(name: str, value, choices):
    """``value`` must be one of ``choices`` (compared with ==, strings or None)."""
    if not (value is None or isinstance(value, str)) or value not in choices:
        raise ValueError(
            f"{name}={value!r} is not valid; choose one of {_choices(choices)}."
        )
    return value


def check_int(
    name: str,
    value,
    minimum: int = 1,
    allow_none: bool = False,
    allow_auto: bool = False,
):
    """An integer ``>= minimum`` (bools are refused), or None or ``"auto"`` when
    allowed."""
    if value is None and allow_none:
        return None
    if allow_auto and isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        others = [
            *(['"auto"'] if allow_auto else []),
            *(["None"] if allow_none else []),
        ]
        extra = "".join(f", {o}" for o in others[:-1])
        extra += f" or {others[-1]}" if others else ""
        raise TypeError(
            f"{name} must be an int >= {minimum}{extra}, got {value!r} "
            f"({type(value).__name__})."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.")
    return int(value)


def check_float(
    name: str,
    value,
    low: float,
    high: float | None = None,
    low_inclusive: bool = False,
    high_inclusive: bool = False,
    allow_none: bool = False,
):
    """A real number in the given interval, or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {value!r} ({type(value).__name__})."
        )
    value = float(value)
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    bounds = f"{left}{low:g}, {'inf' if high is None else f'{high:g}'}{right}"
    ok_low = value >= low if low_inclusive else value > low
    ok_high = high is None or (value <= high if high_inclusive else value < high)
    if not (np.isfinite(value) and ok_low and ok_high):
        raise ValueError(f"{name} must be in {bounds}, got {value!r}.")
    return value


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_hidden_sizes(name: str, value) -> tuple[int, ...]:
    """An int (one layer) or a non-empty tuple/list of positive ints, one per layer."""
    sizes = (value,) if isinstance(value, numbers.Integral) else value
    if isinstance(value, bool) or not isinstance(sizes, (tuple, list)) or not sizes:
        raise TypeError(
            f"{name} must be a positive int or a non-empty tuple of positive "
            f"ints, one per layer such as (128, 64); got {value!r}."
        )
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                f"{name} must hold positive ints, one per layer such as "
                f"(128, 64); got {value!r}."
            )
    return tuple(int(s) for s in sizes)


def check_size(name: str, value):
    """None, a fraction in (0, 1) or a count >= 1."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return check_int(name, value, minimum=1)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_float(name, value, 0.0, 1.0)
    raise TypeError(
        f"{name} must be None, a float in (0, 1) (a fraction of the windows) "
        f"or an int >= 1 (a number of windows); got {value!r}."
    )


def check_component(name: str, value, names, base: tuple[type, str], call_form: str):
    """A name from ``names``, a subclass of ``base`` (the class and how the message
    names it), or a callable instance."""
    if isinstance(value, str):
        return check_choice(name, value, tuple(names))
    if isinstance(value, type) and issubclass(value, base[0]):
        return value
    if callable(value) and not isinstance(value, type):
        return value
    raise TypeError(
        f"{name} must be one of {_choices(names)}, a {base[1]} subclass, or a "
        f"{call_form}; got {value!r}."
    )


def check_random_state(name: str, value):
    """None, an int >= 0 or a numpy RandomState/Generator, checked without drawing
    from it."""
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be None, an int, or a numpy RandomState/Generator; "
            f"got {value!r}."
        )
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}.")
    return int(value)


def check_levels(name: str, value) -> tuple[float, ...]:
    """Distinct quantile levels in (0, 1) including the median, sorted."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a tuple of levels in (0, 1), got {value!r}.")
    bad = [
        level
        for level in value
        if isinstance(level, (bool, np.bool_))
        or not isinstance(level, (int, float, np.integer, np.floating))
    ]
    if bad:
        raise TypeError(
            f"{name} must be numbers in (0, 1); {bad[0]!r} in "
            f"{value!r} is not. Pass levels such as (0.1, 0.5, 0.9)."
        )
    levels = tuple(sorted(float(level) for level in value))
    if any(not 0 < level < 1 for level in levels) or len(set(levels)) < len(levels):
        raise ValueError(f"{name} must be distinct levels in (0, 1); got {value!r}.")
    if 0.5 not in levels:
        raise ValueError(
            f"{name} must include 0.5: the median is the point forecast and the "
            f"path that longer horizons are rolled out along; got {levels}."
        )
    if levels[0] == 0.5 or levels[-1] == 0.5:
        raise ValueError(
            f"{name} must include a level below 0.5 and one above it: intervals "
            "beyond the outermost levels widen with their distance from the "
            f"median, which needs one on each side; got {levels}. Pass levels such "
            "as (0.1, 0.5, 0.9)."
        )
    return levels


def check_labels(name: str, value) -> tuple:
    """A non-empty list or tuple of distinct column labels (of ``X``)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{name} must be None or a list of column labels of X, such as "
            f"['traffic']; got {value!r} ({type(value).__name__})."
        )
    if not value:
        raise ValueError(
            f"{name} must name at least one column of X, or be None; got {value!r}."
        )
    try:
        distinct = len(set(value)) == len(value)
    except TypeError:
        raise TypeError(
            f"{name} must hold column labels of X (strings, numbers or tuples); "
            f"got {value!r}."
        ) from None
    if not distinct:
        raise ValueError(f"{name} must name each column of X once; got {value!r}.")
    return tuple(value)
