"""The vocabulary the other modules share: the format names, their fields, and how a problem is told.

Example:
    >>> Problem(2, "element", "output", "missing; add it.").describe("data.json")
    "data.json: element 2 of the array, field 'output': missing; add it."
"""

from __future__ import annotations

from typing import NamedTuple

ROLES = ("system", "user", "assistant")
TARGETS = ("alpaca", "messages", "openai", "preference")
# What ``validate --expect`` takes; every record is one of these but "openai" (a stricter messages).
FORMATS = ("alpaca", "alpaca-preference", "messages", "openai", "prompt-completion", "preference")
MESSAGE_KEYS = ("role", "content", "name", "weight")  # name and weight come from OpenAI's format
ALPACA_KEYS = ("instruction", "input", "output", "system", "text")
ALPACA_PREFERENCE_KEYS = ("instruction", "input", "chosen", "rejected", "system")
PREFERENCE_KEYS = ("prompt", "chosen", "rejected")
PARAGRAPH = "\n\n"  # joins instruction and input into one user turn
ORDER_RULE = "optional system first, then user and assistant alternating, starting with user"
# The Alpaca layout (preamble, then ### sections); the wording of the preambles is this course's.
ALPACA_PREAMBLE = ("Below is an instruction that describes a task. "
                   "Write a response that carries out the instruction.")
ALPACA_PREAMBLE_WITH_INPUT = ("Below is an instruction that describes a task, followed by an input "
                              "that gives more context. Write a response that carries out the "
                              "instruction.")


class FormatError(ValueError):
    """A record or file breaks its format; ``field`` names the field at fault ("" for the record).

    Example:
        >>> FormatError("missing; add it.", "output").field
        'output'
    """

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class Problem(NamedTuple):
    """One problem: where (``number`` in ``unit``: "line" of a JSONL file, "element" of a JSON array,
    or "record" of a list), the field ("" for the whole record) and what is wrong."""

    number: int
    unit: str
    field: str
    message: str

    def describe(self, source: str = "") -> str:
        """One line naming file, place and field.

        Example:
            >>> Problem(3, "line", "messages[1].role", "unknown role 'bot'").describe("a.jsonl")
            "a.jsonl: line 3, field 'messages[1].role': unknown role 'bot'"
        """
        where = f"{self.unit} {self.number}" + (" of the array" if self.unit == "element" else "")
        field = f", field '{self.field}'" if self.field else ""
        return f"{source + ': ' if source else ''}{where}{field}: {self.message}"

    def place(self) -> tuple[bool, int]:
        """Sort key: a JSON array's parse error (by line) before its records (by element).

        Example:
            >>> problems = [Problem(1, "element", "", "b"), Problem(4, "line", "", "a")]
            >>> [p.unit for p in sorted(problems, key=Problem.place)]
            ['line', 'element']
        """
        return self.unit == "element", self.number


def check_target(to: str) -> None:
    """ValueError naming the choices when ``to`` is not one of TARGETS.

    Example:
        >>> check_target("sharegpt")
        Traceback (most recent call last):
        ...
        ValueError: unknown target format 'sharegpt'; use one of alpaca, messages, openai, preference.
    """
    if to not in TARGETS:
        raise ValueError(f"unknown target format {to!r}; use one of {', '.join(TARGETS)}.")


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, with an s unless the count is one.

    Example:
        >>> plural(1, "record"), plural(3, "record")
        ('1 record', '3 records')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"
