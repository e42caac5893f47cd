"""Prompt text: one user turn from an Alpaca instruction and input and back, and the Alpaca rendering.

Example:
    >>> split_prompt(join_prompt("Translate.", "cheese"))
    ('Translate.', 'cheese')
"""

from __future__ import annotations

from utils.instruction_data.formats.schema import ALPACA_PREAMBLE, ALPACA_PREAMBLE_WITH_INPUT, PARAGRAPH


def join_prompt(instruction: str, input: str = "") -> str:
    """One user turn from an Alpaca instruction and input: a blank line between them when there is
    an input.

    Example:
        >>> join_prompt("Translate to French.", "cheese")
        'Translate to French.\\n\\ncheese'
    """
    return f"{instruction}{PARAGRAPH}{input}" if input else instruction


def split_prompt(content: str) -> tuple[str, str]:
    """(instruction, input) from a user turn: split at the first blank line when text stands on
    both sides of it, else the whole turn is the instruction. ``join_prompt`` undoes it exactly.

    Example:
        >>> split_prompt("Translate to French.\\n\\ncheese")
        ('Translate to French.', 'cheese')
    """
    head, blank_line, tail = content.partition(PARAGRAPH)
    return (head, tail) if blank_line and head and tail else (content, "")


def alpaca_prompt(instruction: str, input: str = "", system: str | None = None) -> str:
    """The Alpaca prompt: preamble, ``### Instruction:``, ``### Input:`` (only with an input) and
    ``### Response:``, sections separated by blank lines; a system text, if any, comes first. The
    layout is Stanford Alpaca's (https://github.com/tatsu-lab/stanford_alpaca); the preamble
    wording is this course's.

    Example:
        >>> print(alpaca_prompt("Name a colour."))
        Below is an instruction that describes a task. Write a response that carries out the instruction.
        <BLANKLINE>
        ### Instruction:
        Name a colour.
        <BLANKLINE>
        ### Response:
        <BLANKLINE>
    """
    sections = [ALPACA_PREAMBLE_WITH_INPUT if input else ALPACA_PREAMBLE,
                f"### Instruction:\n{instruction}"]
    if input:
        sections.append(f"### Input:\n{input}")
    sections.append("### Response:\n")
    return PARAGRAPH.join(([system] if system else []) + sections)


def alpaca_text(record: dict) -> str:
    """The rendered ``text`` of an Alpaca record: its prompt followed by its output.

    Example:
        >>> alpaca_text({"instruction": "Name a colour.", "output": "Red"}).endswith("Response:\\nRed")
        True
    """
    prompt = alpaca_prompt(record["instruction"], record.get("input", ""), record.get("system"))
    return prompt + record["output"]

