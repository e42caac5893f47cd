"""Self-checks for the exercises that close each notebook.

Example:
    >>> from utils.core.exercises import check
    >>> check("uniform loss", 10.8, expected=10.80, tolerance=0.01)
    Correct: uniform loss = 10.8
"""

from __future__ import annotations

import math


def check(name: str, answer, expected, tolerance: float = 0.0, hint: str = "") -> None:
    """Print whether ``answer`` matches ``expected`` (within ``tolerance`` for numbers) and,
    when it does not, how far off it is and a hint."""
    is_correct(name, answer, expected, tolerance, hint)


def is_correct(name: str, answer, expected, tolerance: float = 0.0, hint: str = "") -> bool:
    """``check`` that also returns True when the answer is right (for code that branches on it)."""
    if answer is None or answer is Ellipsis:
        print(f"Not answered yet: {name}. Replace the ... with your answer.")
        return False
    if _is_number(answer) and _is_number(expected):
        correct = math.isclose(float(answer), float(expected), rel_tol=0.0, abs_tol=tolerance)
        detail = f"you gave {answer:g}, which is off by {float(answer) - float(expected):+g}"
    else:  # True == 1 in Python, but a yes/no answer is not a count
        correct = answer == expected and isinstance(answer, bool) == isinstance(expected, bool)
        detail = f"you gave {answer!r}"
    if correct:
        print(f"Correct: {name} = {answer}")
        return True
    print(f"Not yet: {name}: {detail}." + (f" Hint: {hint}" if hint else ""))
    return False


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
