"""The course's one set of argument checks: each returns the value it checked, or raises an error
that names the argument, what it got and what it accepts.

A value of the wrong type raises ``ArgumentTypeError``, which is both a TypeError and a ValueError,
so callers that catch bad input either way keep working; a value out of range raises ValueError.

Example:
    >>> from utils.core.checks import check_int, check_number
    >>> check_int(3, "n", low=1), check_number(0.5, "top_p", 0.0, 1.0, low_open=True)
    (3, 0.5)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type; also a ValueError, as every other bad argument is."""


def _is_real(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int when it is a whole number (not a bool) in [low, high] (None: unbounded).

    Example:
        >>> check_int(128, "n", low=1, high=128)
        128
        >>> check_int(0, "n", low=1, high=128)
        Traceback (most recent call last):
        ...
        ValueError: n must be at least 1 and at most 128, got 0.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an integer, got {value!r}.")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = [f"at least {low}"] * (low is not None) + [f"at most {high}"] * (high is not None)
        raise ValueError(f"{name} must be {' and '.join(bounds)}, got {value}.")
    return int(value)


def check_positive_int(value, name: str) -> int:
    """``value`` as an int when it is a whole number of at least 1 (a count, a size, a number of steps).

    Example:
        >>> check_positive_int(2000, "n_resamples")
        2000
        >>> check_positive_int(1.5, "n_resamples")
        Traceback (most recent call last):
        ...
        utils.core.checks.ArgumentTypeError: n_resamples must be an integer, got 1.5.
    """
    return check_int(value, name, low=1)


def _range_text(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if low == 0 and high == math.inf and not high_open:
        return "a positive number" if low_open else "zero or positive"
    return f"lie in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_number(value, name: str, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False, high_open: bool = False, hint: str = "") -> float:
    """``value`` as a float when it is a real number (not a bool, not NaN) in the interval from
    ``low`` to ``high``, each end closed unless ``low_open`` / ``high_open``. ``hint`` (e.g.
    ``"e.g. 32"``) goes in brackets after the accepted range in the message.

    Example:
        >>> check_number(2, "temperature", 0.0, 2.0)
        2.0
        >>> check_number(2.5, "temperature", 0.0, 2.0)
        Traceback (most recent call last):
        ...
        ValueError: temperature must lie in [0, 2], got 2.5.
    """
    accepted = _range_text(low, high, low_open, high_open) + (f" ({hint})" if hint else "")
    if not _is_real(value) or math.isnan(value):
        accepted = "be a number" if accepted.startswith("lie in") else f"be {accepted}"
        raise ArgumentTypeError(f"{name} must {accepted}, got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        verb = "" if accepted.startswith("lie in") else "be "
        raise ValueError(f"{name} must {verb}{accepted}, got {value!r}.")
    return float(value)


def check_positive(value, name: str, hint: str = "") -> float:
    """``value`` as a float when it is a number above 0 (a temperature, a step size, a scale).

    Example:
        >>> check_positive(0, "temperature", hint="1.0 leaves the logits as they are")
        Traceback (most recent call last):
        ...
        ValueError: temperature must be a positive number (1.0 leaves the logits as they are), got 0.
    """
    return check_number(value, name, 0.0, math.inf, low_open=True, hint=hint)


def check_confidence(confidence: float, name: str = "confidence", example: float = 0.95) -> float:
    """``confidence`` as a float when it lies strictly between 0 and 1 (a confidence level, alpha,
    power); ``name`` and ``example`` shape the message, which suggests ``95 -> 0.95``.

    Example:
        >>> check_confidence(0.95)
        0.95
        >>> check_confidence(95)
        Traceback (most recent call last):
        ...
        ValueError: confidence must lie strictly between 0 and 1 (e.g. 0.95), got 95 (did you mean 0.95?).
    """
    if not _is_real(confidence):
        raise ArgumentTypeError(f"{name} must be a number strictly between 0 and 1 (e.g. {example}), "
                                f"got {confidence!r}.")
    if not 0 < confidence < 1:
        hint = f" (did you mean {confidence / 100:g}?)" if 1 < confidence < 100 else ""
        raise ValueError(f"{name} must lie strictly between 0 and 1 (e.g. {example}), got {confidence!r}"
                         f"{hint}.")
    return float(confidence)


def as_1d(values, name: str) -> np.ndarray:
    """``values`` as a non-empty one-dimensional array without NaN, else a ValueError naming ``name``.

    Example:
        >>> as_1d([1, 0, 1], "correct").shape
        (3,)
        >>> as_1d([[1, 0]], "correct")
        Traceback (most recent call last):
        ...
        ValueError: correct must be one-dimensional (one value per example), got shape (1, 2).
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per example), "
                         f"got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty: pass at least one example.")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"{name} contains NaN at index {int(np.flatnonzero(np.isnan(array))[0])}; "
                         "drop or fill missing values first.")
    return array


def check_same_length(arrays: Sequence, names: Sequence[str]) -> None:
    """A ValueError naming each input and its length unless all have the same length.

    Example:
        >>> check_same_length([[1, 2, 3], [1, 2]], ["y_true", "y_pred"])
        Traceback (most recent call last):
        ...
        ValueError: the inputs must have one value per example and the same length:
        y_true has 3, y_pred has 2.
    """
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        described = ", ".join(f"{n} has {k}" for n, k in zip(names, lengths, strict=True))
        raise ValueError(f"the inputs must have one value per example and the same length: {described}.")
