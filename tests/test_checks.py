"""utils.core.checks: each check return what they checked, or name the argument and the fix."""

import math
from fractions import Fraction

import numpy as np
import pytest

from utils.core.checks import (
    ArgumentTypeError,
    as_1d,
    check_confidence,
    check_int,
    check_number,
    check_positive,
    check_positive_int,
    check_same_length,
)


def test_wrong_types_are_type_errors_and_value_errors():
    for call in (lambda: check_int("3", "n"), lambda: check_number("0.5", "top_p"),
                 lambda: check_confidence([0.9]), lambda: check_positive(None, "k")):
        with pytest.raises(ArgumentTypeError) as caught:
            call()
        assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)


def test_check_int_accepts_numpy_integers_and_refuses_bools_and_floats():
    assert check_int(np.int64(5), "n", low=1) == 5 and type(check_int(np.int64(5), "n")) is int
    for bad in (True, 2.0, "2"):
        with pytest.raises(ArgumentTypeError, match="n must be an integer"):
            check_int(bad, "n")


@pytest.mark.parametrize("value, low, high, message", [
    (0, 1, None, "n must be at least 1, got 0."),
    (129, 1, 128, "n must be at least 1 and at most 128, got 129."),
    (9, None, 8, "n must be at most 8, got 9."),
])
def test_check_int_range_message_names_the_bounds(value, low, high, message):
    with pytest.raises(ValueError) as caught:
        check_int(value, "n", low=low, high=high)
    assert str(caught.value) == message
    assert check_int(low if low is not None else high, "n", low=low, high=high) in (low, high)


def test_check_positive_int_is_an_integer_of_at_least_one():
    assert check_positive_int(1, "n_bins") == 1
    with pytest.raises(ValueError, match="n_bins must be at least 1, got 0"):
        check_positive_int(0, "n_bins")


def test_check_number_ends_open_and_closed():
    assert check_number(1, "top_p", 0.0, 1.0, low_open=True) == 1.0
    assert check_number(Fraction(1, 2), "p", 0.0, 1.0) == 0.5
    with pytest.raises(ValueError, match=r"top_p must lie in \(0, 1\], got 0.0"):
        check_number(0.0, "top_p", 0.0, 1.0, low_open=True)
    with pytest.raises(ValueError, match=r"x must lie in \[0, inf\), got inf"):
        check_number(math.inf, "x", 0.0, math.inf, high_open=True)
    with pytest.raises(ArgumentTypeError, match="x must be a number, got nan"):
        check_number(float("nan"), "x", 0.0, 1.0)


def test_check_number_says_zero_or_positive_and_adds_the_hint():
    with pytest.raises(ValueError, match=r"pseudo_count must be zero or positive \(e.g. 0.5\), got -1"):
        check_number(-1, "pseudo_count", 0.0, hint="e.g. 0.5")
    assert check_number(0, "pseudo_count", 0.0) == 0.0


def test_check_positive_refuses_zero_with_the_hint():
    assert check_positive(32, "k") == 32.0
    with pytest.raises(ValueError, match=r"k must be a positive number \(e.g. 32\), got 0"):
        check_positive(0, "k", hint="e.g. 32")
    with pytest.raises(ArgumentTypeError, match=r"k must be a positive number \(e.g. 32\), got '1'"):
        check_positive("1", "k", hint="e.g. 32")


def test_check_confidence_is_open_and_suggests_a_fraction():
    assert check_confidence(0.9) == 0.9
    with pytest.raises(ValueError, match="got 0"):
        check_confidence(0)
    with pytest.raises(ValueError, match=r"power must lie .* \(e.g. 0.8\).*did you mean 0.8"):
        check_confidence(80, "power", example=0.8)


def test_as_1d_and_check_same_length():
    assert as_1d((1, 2), "y").tolist() == [1, 2]
    with pytest.raises(ValueError, match="y is empty"):
        as_1d([], "y")
    with pytest.raises(ValueError, match="y contains NaN at index 1"):
        as_1d([0.0, np.nan], "y")
    check_same_length([[1], [2]], ["a", "b"])
    with pytest.raises(ValueError, match="a has 1, b has 2"):
        check_same_length([[1], [2, 3]], ["a", "b"])
