"""Instruction-data formats: detect them, validate them, convert between them, from Python or a shell.

The formats, one record each (a file holds one format, as JSONL or as one JSON array):

================= =======================================================================
alpaca            ``{"instruction", "input", "output"}`` plus the rendered ``text``; an optional
                  ``system`` holds a system message (Alpaca itself has none).
alpaca-preference ``{"instruction", "input", "chosen", "rejected"}`` (answers as strings).
messages          ``{"messages": [{"role", "content"}, ...]}`` (TRL's conversational
                  language-modeling type).
openai            ``messages`` as OpenAI's chat fine-tuning JSONL takes it: roles system, user,
                  assistant, at least one assistant turn, an optional ``weight`` of 0 or 1 on an
                  assistant turn (0: not trained on), and no record field but ``messages``.
prompt-completion TRL's ``{"prompt", "completion"}``, as message lists or as strings (read only).
preference        TRL's conversational preference type ``{"prompt": [user turn], "chosen":
                  [assistant turn], "rejected": [assistant turn]}``; the string form is read too.
================= =======================================================================

The format of each record is told by its keys (``detect_format``): ``messages`` → messages,
``instruction`` → alpaca (alpaca-preference when it has ``chosen`` or ``rejected``), ``prompt`` →
preference when it has ``chosen`` or ``rejected``, else prompt-completion. A missing field is then
reported by name rather than as an unknown format.

Rules every conversation follows: roles are system, user and assistant; content is a non-empty
string; an optional system turn comes first, then user and assistant alternate starting with
the user, and training data ends with the assistant. Messages may carry OpenAI's ``name`` and
``weight`` keys and nothing else (tool calls are out of scope). Two records with identical content
(key order aside) are duplicates. Validation (``validate_file``) reports every problem of a file:
bad JSON, each record's problems, a record whose format differs from the file's first record,
and each duplicate (naming the earlier copy).

Conversion rules (``convert_record``), chosen so that nothing is lost silently:

- Alpaca → chat: the user turn is ``instruction``, then a blank line and ``input`` when there is
  one; chat → Alpaca splits the user turn at its first blank line (``split_prompt``). Chat →
  Alpaca → chat is therefore always exact; Alpaca → chat → Alpaca is exact unless the instruction
  itself contains a blank line (its second paragraph then comes back as ``input``).
- ``text`` is derived from the other fields, so it is dropped on the way to chat and rendered
  afresh (``alpaca_text``) on the way to Alpaca; a ``text`` written by other tools is not checked.
- A chat record with more than one user turn has no Alpaca form: converting it is an error that
  says so (keep one exchange per record, or stay with messages). So is a message key (``name``,
  ``weight``) that Alpaca has no place for, and a preference record going to a format with one
  answer, or the reverse.
- Record fields no format defines (``id``, ``category``...) travel unchanged, except into the
  OpenAI format, which accepts only ``messages``: there they are an error naming the field.

Command line (exit status 0 when all is well, 1 when a problem was reported)::

    python -m utils.instruction_data.formats validate FILE [--expect FORMAT]
    python -m utils.instruction_data.formats convert IN OUT --to {alpaca,messages,openai,preference} [--force]

``convert`` writes nothing unless every record converts (duplicates are kept, and counted in the
summary); it never modifies IN, refuses to write over IN at all and over an existing OUT unless
``--force``, writes through a temporary file renamed into place, and writes JSONL (a JSON array
when OUT ends in ``.json``). Problems name the 1-based line of a JSONL file, or the 1-based
element of a JSON array (the line, for a syntax error in the array), and the field.

References: Alpaca layout, Taori et al., Stanford Alpaca (2023),
https://github.com/tatsu-lab/stanford_alpaca; TRL dataset formats,
https://huggingface.co/docs/trl/dataset_formats; OpenAI chat fine-tuning data,
https://platform.openai.com/docs/guides/fine-tuning.

Example:
    >>> from utils.instruction_data.formats import convert_record
    >>> record = {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}
    >>> convert_record(record, "messages")["messages"][0]
    {'role': 'user', 'content': 'Add the numbers.\\n\\n2 and 3'}
    >>> convert_record(convert_record(record, "messages"), "alpaca")["input"]
    '2 and 3'
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
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
    """A record or file breaks its format; ``field`` names the field at fault ("" for the record)."""

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


class FileReport(NamedTuple):
    """What ``validate_file`` found: how many records, their format (None if none valid), problems."""

    records: int
    format: str | None
    problems: list[Problem]


class Loaded(NamedTuple):
    """Records read from a file, each with its 1-based number, the unit of those numbers, and the
    problems met while reading (bad JSON)."""

    records: list[tuple[int, object]]
    unit: str
    problems: list[Problem]


# ---------------------------------------------------------------------------- detection and checks

def detect_format(record) -> str:
    """The format of one record, told by its keys; FormatError when no format fits.

    Example:
        >>> detect_format({"prompt": [], "chosen": [], "rejected": []})
        'preference'
    """
    if not isinstance(record, dict):
        raise FormatError(f"expected a JSON object (one record), got a JSON {_json_type(record)}.")
    if "messages" in record:
        return "messages"
    if "instruction" in record:
        return "alpaca-preference" if {"chosen", "rejected"} & set(record) else "alpaca"
    if "prompt" in record:
        return "preference" if {"chosen", "rejected"} & set(record) else "prompt-completion"
    raise FormatError(f"cannot tell the format from the fields {sorted(record)}: expected 'messages', "
                      "'instruction' with 'output' (or 'chosen'/'rejected'), or 'prompt' with "
                      "'completion' (or 'chosen'/'rejected').")


def record_problems(record, expect: str | None = None) -> list[tuple[str, str]]:
    """Every problem of one record as (field, message) pairs; [] when it is valid.

    ``expect`` (one of FORMATS) also flags a record of another format; "openai" also flags record
    fields other than ``messages``.

    Example:
        >>> record_problems({"messages": [{"role": "user", "content": "Hi"}]})
        [('messages', 'no assistant turn: add the answer the model should learn.')]
    """
    try:
        found = detect_format(record)
    except FormatError as err:
        return [("", str(err))]
    problems = CHECKS[found](record)
    wanted = "messages" if expect == "openai" else expect
    if wanted and found != wanted:
        problems.insert(0, ("", f"record in {found} format where {expect} records were expected."))
    elif expect == "openai":
        problems += [(key, "not part of OpenAI's chat fine-tuning format, which takes only "
                           "'messages': drop the field.") for key in record if key != "messages"]
    return problems


def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _text_problems(record: dict, field: str, required: bool = True,
                   may_be_empty: bool = False) -> list[tuple[str, str]]:
    if field not in record:
        return [(field, "missing; add it.")] if required else []
    value = record[field]
    if not isinstance(value, str):
        return [(field, f"must be a string, got a JSON {_json_type(value)}.")]
    if not may_be_empty and not value.strip():
        return [(field, "empty content; give the text or drop the record.")]
    return []


def _message_list(record: dict, field: str) -> tuple[list[tuple[str, object]], list[tuple[str, str]]]:
    """The turns of a message-list field as (field path, message) pairs, and its problems."""
    value = record.get(field)
    if field not in record:
        return [], [(field, "missing; add a list of {'role', 'content'} messages.")]
    if not isinstance(value, list):
        return [], [(field, f"must be a list of {{'role', 'content'}} messages, got a JSON "
                            f"{_json_type(value)}.")]
    if not value:
        return [], [(field, "empty: it holds no messages.")]
    return [(f"{field}[{i}]", message) for i, message in enumerate(value)], []


def _message_problems(field: str, message) -> list[tuple[str, str]]:
    if not isinstance(message, dict):
        return [(field, f"expected an object with 'role' and 'content', got a JSON "
                        f"{_json_type(message)}.")]
    problems = []
    role = message.get("role")
    if "role" not in message:
        problems.append((f"{field}.role", "missing; use system, user or assistant."))
    elif role not in ROLES:
        problems.append((f"{field}.role", f"unknown role {role!r}; use system, user or assistant."))
    problems += [(f"{field}.content", m) for _, m in _text_problems(message, "content")]
    problems += [(f"{field}.{key}", "unknown message field; a message holds role and content, "
                                    "and in OpenAI's format name and weight.")
                 for key in message if key not in MESSAGE_KEYS]
    if "name" in message and (not isinstance(message["name"], str) or not message["name"].strip()):
        problems.append((f"{field}.name", "must be a non-empty string."))
    if "weight" in message:
        weight = message["weight"]
        if role != "assistant":
            problems.append((f"{field}.weight", "only assistant turns take a weight; drop it."))
        elif type(weight) is not int or weight not in (0, 1):
            problems.append((f"{field}.weight", f"must be 0 (do not train on this turn) or 1, "
                                                f"got {weight!r}."))
    return problems


def _order_problems(turns: list[tuple[str, dict]], answer_field: str) -> list[tuple[str, str]]:
    """Turn order: the first turn out of place, a missing or not-last assistant turn, and (in
    prompt/answer records) a prompt whose last turn is not the user's."""
    roles = [(field, message["role"]) for field, message in turns]
    expected = "user"
    for i, (field, role) in enumerate(roles):
        if role == "system" and i == 0:
            continue
        if role != expected:
            return [(f"{field}.role", f"wrong turn order: {role!r} where the {expected!r} turn belongs "
                                      f"({ORDER_RULE}).")]
        expected = "assistant" if role == "user" else "user"
    if all(role != "assistant" for _, role in roles):
        return [(answer_field, "no assistant turn: add the answer the model should learn.")]
    if roles[-1][1] != "assistant":
        return [(f"{roles[-1][0]}.role", f"the last turn is {roles[-1][1]!r}; training data ends "
                                         "with the assistant's answer.")]
    prompt = [(field, role) for field, role in roles if field.startswith("prompt[")]
    if prompt and prompt[-1][1] != "user":
        return [(f"{prompt[-1][0]}.role", f"the prompt ends with {prompt[-1][1]!r}; it should end "
                                          "with the user turn the answer replies to.")]
    return []


def _conversation_problems(record: dict, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """Problems of message-list fields read in order as one conversation (prompt, then answer).

    Turn order is checked only once every turn has a known role, so one mistake gives one report.
    """
    turns, problems = [], []
    for field in fields:
        field_turns, field_problems = _message_list(record, field)
        turns += field_turns
        problems += field_problems
    if problems:
        return problems
    for field, message in turns:
        problems += _message_problems(field, message)
    if all(isinstance(message, dict) and message.get("role") in ROLES for _, message in turns):
        problems += _order_problems(turns, fields[-1])
    return problems


def _check_messages(record: dict) -> list[tuple[str, str]]:
    return _conversation_problems(record, ("messages",))


def _check_alpaca(record: dict) -> list[tuple[str, str]]:
    return (_text_problems(record, "instruction") + _text_problems(record, "input", False, True)
            + _text_problems(record, "output") + _text_problems(record, "system", False)
            + _text_problems(record, "text", False))


def _check_alpaca_preference(record: dict) -> list[tuple[str, str]]:
    problems = (_text_problems(record, "instruction") + _text_problems(record, "input", False, True)
                + _text_problems(record, "chosen") + _text_problems(record, "rejected")
                + _text_problems(record, "system", False))
    return problems + _same_answers(record, problems)


def _check_prompt_completion(record: dict) -> list[tuple[str, str]]:
    if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return _text_problems(record, "prompt") + _text_problems(record, "completion")
    return _conversation_problems(record, ("prompt", "completion"))


def _check_preference(record: dict) -> list[tuple[str, str]]:
    if isinstance(record.get("prompt"), str):
        problems = [p for field in PREFERENCE_KEYS for p in _text_problems(record, field)]
    else:
        problems = _conversation_problems(record, ("prompt", "chosen"))
        problems += _conversation_problems(record, ("prompt", "rejected"))
        problems = list(dict.fromkeys(problems))  # prompt problems are found once per answer
    return problems + _same_answers(record, problems)


def _same_answers(record: dict, problems: list) -> list[tuple[str, str]]:
    if not problems and record["chosen"] == record["rejected"]:
        return [("rejected", "identical to 'chosen': a preference pair needs two different answers.")]
    return []


CHECKS: dict[str, Callable[[dict], list[tuple[str, str]]]] = {
    "alpaca": _check_alpaca, "alpaca-preference": _check_alpaca_preference,
    "messages": _check_messages, "prompt-completion": _check_prompt_completion,
    "preference": _check_preference}


# ---------------------------------------------------------------------------------------- converters

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


def _carried(record: dict, own: Iterable[str], target: Iterable[str]) -> dict:
    """The record's fields no format defines, which travel unchanged (a clash is an error)."""
    extra = {key: copy.deepcopy(value) for key, value in record.items() if key not in own}
    for key in extra:
        if key in target:
            raise FormatError(f"field {key!r} would clash with the converted record's own {key!r}; "
                              "rename or drop it.", key)
    return extra


def _system_turn(record: dict) -> list[dict]:
    return [{"role": "system", "content": record["system"]}] if "system" in record else []


def alpaca_to_messages(record: dict) -> dict:
    """An Alpaca record as chat messages (system, user, assistant); ``text`` is dropped.

    Example:
        >>> alpaca_to_messages({"instruction": "Hi", "output": "Hello"})
        {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]}
    """
    messages = _system_turn(record) + [
        {"role": "user", "content": join_prompt(record["instruction"], record.get("input", ""))},
        {"role": "assistant", "content": record["output"]}]
    return {"messages": messages, **_carried(record, ALPACA_KEYS, ["messages"])}


def _single_exchange(messages: list[dict], field: str) -> tuple[str | None, list[dict]]:
    """(system text or None, the other turns), with only role and content keys; else FormatError."""
    for i, message in enumerate(messages):
        for key in set(message) - {"role", "content"}:
            raise FormatError(f"Alpaca records have no place for a message's {key!r}; drop it first "
                              "or keep the chat format.", f"{field}[{i}].{key}")
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    return system, messages[1:] if system is not None else messages


def messages_to_alpaca(record: dict) -> dict:
    """A single-exchange chat record as an Alpaca record with its rendered ``text``; the user turn
    is split by ``split_prompt`` and a system turn becomes ``system``.

    Example:
        >>> record = {"messages": [{"role": "user", "content": "Hi"},
        ...                        {"role": "assistant", "content": "Hello"}]}
        >>> sorted(messages_to_alpaca(record))
        ['input', 'instruction', 'output', 'text']
    """
    system, turns = _single_exchange(record["messages"], "messages")
    if len(turns) != 2:
        raise FormatError(f"a conversation of {len(turns) // 2} exchanges; an Alpaca record holds one "
                          "instruction and one answer. Keep one exchange per record, or convert "
                          "--to messages or --to openai instead.", "messages")
    instruction, input = split_prompt(turns[0]["content"])
    alpaca = {"instruction": instruction, "input": input, "output": turns[1]["content"]}
    alpaca |= {"system": system} if system is not None else {}
    alpaca["text"] = alpaca_text(alpaca)
    return alpaca | _carried(record, ["messages"], ALPACA_KEYS)


def prompt_completion_to_messages(record: dict) -> dict:
    """TRL prompt/completion as chat messages: message lists are joined; strings become one user
    and one assistant turn.

    Example:
        >>> prompt_completion_to_messages({"prompt": "2+2?", "completion": "4"})["messages"][1]
        {'role': 'assistant', 'content': '4'}
    """
    prompt, completion = record["prompt"], record["completion"]
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
        completion = [{"role": "assistant", "content": completion}]
    messages = copy.deepcopy(prompt + completion)
    return {"messages": messages, **_carried(record, ["prompt", "completion"], ["messages"])}


def to_openai(record: dict) -> dict:
    """A chat record as an OpenAI fine-tuning record; a record field other than ``messages`` is an
    error naming it (OpenAI's format has no place for it).

    Example:
        >>> to_openai({"messages": [{"role": "user", "content": "Hi"},
        ...                         {"role": "assistant", "content": "Hello", "weight": 1}]})["messages"][1]
        {'role': 'assistant', 'content': 'Hello', 'weight': 1}
    """
    for key in record:
        if key != "messages":
            raise FormatError("not part of OpenAI's chat fine-tuning format, which takes only "
                              "'messages': drop the field first.", key)
    return {"messages": copy.deepcopy(record["messages"])}


def alpaca_preference_to_trl(record: dict) -> dict:
    """An Alpaca-style preference record as TRL's conversational prompt/chosen/rejected.

    Example:
        >>> trl = alpaca_preference_to_trl({"instruction": "Greet", "input": "",
        ...                                 "chosen": "Hello!", "rejected": "Go away."})
        >>> trl["prompt"], trl["rejected"]
        ([{'role': 'user', 'content': 'Greet'}], [{'role': 'assistant', 'content': 'Go away.'}])
    """
    prompt = _system_turn(record) + [
        {"role": "user", "content": join_prompt(record["instruction"], record.get("input", ""))}]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": record["chosen"]}],
            "rejected": [{"role": "assistant", "content": record["rejected"]}],
            **_carried(record, ALPACA_PREFERENCE_KEYS, PREFERENCE_KEYS)}


def trl_preference_to_alpaca(record: dict) -> dict:
    """A TRL preference record (one user turn, one answer on each side) in Alpaca's preference form.

    Example:
        >>> trl_preference_to_alpaca({"prompt": "Greet", "chosen": "Hello!", "rejected": "No."})
        {'instruction': 'Greet', 'input': '', 'chosen': 'Hello!', 'rejected': 'No.'}
    """
    record = _conversational_preference(record)
    system, prompt = _single_exchange(record["prompt"], "prompt")
    for side in ("chosen", "rejected"):
        _single_exchange(record[side], side)
        if len(record[side]) != 1:
            raise FormatError(f"{len(record[side])} turns; an Alpaca preference record holds one "
                              "answer per side. Keep --to preference for multi-turn pairs.", side)
    if len(prompt) != 1:
        raise FormatError(f"{len(prompt)} turns besides the system turn; an Alpaca preference record "
                          "holds one instruction. Keep --to preference for multi-turn pairs.", "prompt")
    instruction, input = split_prompt(prompt[0]["content"])
    alpaca = {"instruction": instruction, "input": input, "chosen": record["chosen"][0]["content"],
              "rejected": record["rejected"][0]["content"]}
    alpaca |= {"system": system} if system is not None else {}
    return alpaca | _carried(record, PREFERENCE_KEYS, ALPACA_PREFERENCE_KEYS)


def _conversational_preference(record: dict) -> dict:
    """TRL's string preference form as message lists (the prompt a user turn, answers assistant
    turns); a conversational record comes back as a copy."""
    record = copy.deepcopy(record)
    if isinstance(record["prompt"], str):
        record["prompt"] = [{"role": "user", "content": record["prompt"]}]
        for side in ("chosen", "rejected"):
            record[side] = [{"role": "assistant", "content": record[side]}]
    return record


def _no_rejected(record: dict) -> dict:
    raise FormatError("this record has one answer; preference records need a 'chosen' and a "
                      "'rejected' answer. Pair each prompt with a worse answer first.")


def _two_answers(record: dict) -> dict:
    raise FormatError("a preference record holds two answers and this format holds one, so "
                      "'rejected' would be lost. Convert --to preference (or --to alpaca for "
                      "Alpaca's preference form).", "rejected")


def _messages_to(target: str) -> Callable[[dict], dict]:
    """The converter from a chat-messages record to ``target``."""
    return {"alpaca": messages_to_alpaca, "messages": copy.deepcopy, "openai": to_openai,
            "preference": _no_rejected}[target]


def _via_messages(to_messages: Callable[[dict], dict], target: str) -> Callable[[dict], dict]:
    return lambda record: _messages_to(target)(to_messages(record))


CONVERTERS: dict[tuple[str, str], Callable[[dict], dict]] = {
    **{("messages", t): _messages_to(t) for t in TARGETS},
    **{("alpaca", t): _via_messages(alpaca_to_messages, t) for t in TARGETS},
    **{("prompt-completion", t): _via_messages(prompt_completion_to_messages, t) for t in TARGETS},
    ("alpaca-preference", "preference"): alpaca_preference_to_trl,
    ("alpaca-preference", "alpaca"): lambda r: trl_preference_to_alpaca(alpaca_preference_to_trl(r)),
    ("preference", "preference"): _conversational_preference,
    ("preference", "alpaca"): trl_preference_to_alpaca,
    **{(f, t): _two_answers for f in ("alpaca-preference", "preference") for t in ("messages", "openai")},
}
CONVERTERS[("alpaca", "preference")] = CONVERTERS[("prompt-completion", "preference")] = _no_rejected


def convert_record(record, to: str) -> dict:
    """``record`` (any format of FORMATS) converted ``to`` one of TARGETS, as a new dict; a
    FormatError names the field when the record is invalid or has no form in the target.

    Example:
        >>> convert_record({"prompt": "2+2?", "chosen": "4", "rejected": "5"}, "preference")["chosen"]
        [{'role': 'assistant', 'content': '4'}]
    """
    if to not in TARGETS:
        raise ValueError(f"unknown target format {to!r}; use one of {', '.join(TARGETS)}.")
    problems = record_problems(record)
    if problems:
        field, message = problems[0]
        more = f" (and {len(problems) - 1} more problems; run validate)" if len(problems) > 1 else ""
        raise FormatError(message + more, field)
    return CONVERTERS[(detect_format(record), to)](record)


def convert_records(records: Iterable, to: str) -> list[dict]:
    """Every record converted ``to`` a target; one FormatError lists each failing record (1-based).

    Example:
        >>> len(convert_records([{"instruction": "Hi", "output": "Hello"}], "openai"))
        1
    """
    converted, failures = [], []
    for number, record in enumerate(records, start=1):
        try:
            converted.append(convert_record(record, to))
        except FormatError as err:
            failures.append(Problem(number, "record", err.field, str(err)).describe())
    if failures:
        raise FormatError("\n".join(failures))
    return converted


# -------------------------------------------------------------------------------------------- files

def read_records(path: str | Path) -> Loaded:
    """The records of a JSONL file (numbered by line, blank lines skipped) or of a file holding one
    JSON array (it starts with ``[``; numbered by element), with a Problem for each bad JSON line.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = path.write_text('{"messages": []}\\n\\nnot json\\n')
        >>> loaded = read_records(path)
        >>> [n for n, _ in loaded.records], [p.number for p in loaded.problems]
        ([1], [3])
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text ({err.reason} at byte offset {err.start}); save "
                          "the file as UTF-8 and try again.") from err
    if text.lstrip().startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as err:
            return Loaded([], "element", [Problem(err.lineno, "line", "", _bad_json(err, array=True))])
        return Loaded(list(enumerate(array, start=1)), "element", [])
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            problems.append(Problem(number, "line", "", _bad_json(err)))
    return Loaded(records, "line", problems)


def _bad_json(err: json.JSONDecodeError, array: bool = False) -> str:
    where = "the file starts with '[', so it is read as one JSON array" if array else (
        "each line of a JSONL file must hold one complete JSON object")
    return f"bad JSON: {err.msg} at column {err.colno} ({where})."


def validate_loaded(loaded: Loaded, expect: str | None = None) -> FileReport:
    """Every problem of loaded records: bad JSON, record problems, a record whose format differs
    from the first one's (or from ``expect``), duplicates (the later record names the earlier) and
    an empty file.

    Example:
        >>> loaded = Loaded([(1, {"instruction": "Hi", "output": ""})], "element", [])
        >>> validate_loaded(loaded).problems[0].describe("data.json")
        "data.json: element 1 of the array, field 'output': empty content; give the text or drop the record."
    """
    if expect is not None and expect not in FORMATS:
        raise ValueError(f"unknown format {expect!r}; use one of {', '.join(FORMATS)}.")
    problems, first = list(loaded.problems), None
    for number, record in loaded.records:
        found = record_problems(record, expect)
        kind = None if expect else _format_or_none(record)  # record_problems checks expect
        if kind and first is None:
            first = (kind, number)
        elif kind and kind != first[0]:
            found.insert(0, ("", f"record in {kind} format in a file of {first[0]} records (the "
                                 f"first at {loaded.unit} {first[1]}); keep one format per file."))
        problems += [Problem(number, loaded.unit, field, message) for field, message in found]
    problems = sorted(problems + duplicate_problems(loaded), key=_place)
    if not loaded.records and not problems:
        problems.append(Problem(1, "line", "", "the file holds no records; add one JSON object per "
                                               "line, or one JSON array of objects."))
    return FileReport(len(loaded.records), expect or (first[0] if first else None), problems)


def duplicate_problems(loaded: Loaded) -> list[Problem]:
    """A Problem on each record whose content (any key order) repeats an earlier one, naming it.

    Example:
        >>> loaded = Loaded([(1, {"a": 1, "b": 2}), (2, {"b": 2, "a": 1})], "line", [])
        >>> duplicate_problems(loaded)[0].describe()
        'line 2: duplicate: identical content to line 1; keep one.'
    """
    seen, problems = {}, []
    for number, record in loaded.records:
        key = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if key in seen:
            problems.append(Problem(number, loaded.unit, "", f"duplicate: identical content to "
                                                             f"{loaded.unit} {seen[key]}; keep one."))
        seen.setdefault(key, number)
    return problems


def _format_or_none(record) -> str | None:
    try:
        return detect_format(record)
    except FormatError:
        return None


def validate_file(path: str | Path, expect: str | None = None) -> FileReport:
    """Read and validate a file without changing it; ``report.problems`` is [] when all is well.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = path.write_text('{"instruction": "Hi", "output": "Hello"}\\n' * 2)
        >>> validate_file(path).problems[0].message
        'duplicate: identical content to line 1; keep one.'
    """
    return validate_loaded(read_records(path), expect)


def write_records(records: list[dict], path: str | Path, force: bool = False) -> None:
    """Write ``records`` as JSONL (a JSON array when ``path`` ends in .json) through a temporary
    file renamed into place, so a failure never leaves half a file; FileExistsError when ``path``
    exists and ``force`` is False.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
        >>> write_records([{"messages": []}], path)
        >>> path.read_text()
        '{"messages": []}\\n'
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force (force=True) to replace it, or choose "
                              "another output name.")
    if path.suffix == ".json":
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    else:
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class Conversion(NamedTuple):
    """What ``convert_file`` did: records written, source format, target, duplicate records kept."""

    records: int
    source_format: str
    target: str
    duplicates: int


def convert_file(source: str | Path, target: str | Path, to: str, force: bool = False) -> Conversion:
    """Convert the records of ``source`` ``to`` a target format and write them to ``target``.

    Nothing is written unless every record is valid and converts; the FormatError then lists every
    problem. ``source`` is never modified, and never overwritten even with ``force``.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "in.jsonl").write_text('{"instruction": "Hi", "output": "Hello"}\\n')
        >>> convert_file(folder / "in.jsonl", folder / "out.jsonl", "openai").records
        1
    """
    source, target = Path(source), Path(target)
    if to not in TARGETS:
        raise ValueError(f"unknown target format {to!r}; use one of {', '.join(TARGETS)}.")
    if target.exists() and source.exists() and source.samefile(target):
        raise FileExistsError(f"{target} is the input file; convert never overwrites its input. "
                              "Choose another output name.")
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass --force to replace it, or choose another name.")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a folder; create it first.")
    if to == "openai" and target.suffix == ".json":
        raise ValueError(f"{target}: OpenAI's fine-tuning upload takes JSONL; name the output .jsonl.")
    loaded = read_records(source)
    report = validate_loaded(loaded)
    duplicates = set(duplicate_problems(loaded))
    blocking = [p for p in report.problems if p not in duplicates]
    converted = []
    for number, record in loaded.records:
        if any(p.number == number for p in blocking):
            continue
        try:
            converted.append(convert_record(record, to))
        except FormatError as err:
            blocking.append(Problem(number, loaded.unit, err.field, str(err)))
    if blocking:
        lines = [p.describe(str(source)) for p in sorted(blocking, key=_place)]
        raise FormatError("\n".join(lines + [f"nothing written: {_plural(len(lines), 'problem')}; fix "
                                              "them and convert again."]))
    write_records(converted, target, force)
    return Conversion(len(converted), report.format, to, len(duplicates))


def _place(problem: Problem) -> tuple[bool, int]:
    """Sort key: a JSON array's parse error (by line) before its records (by element)."""
    return problem.unit == "element", problem.number


# -------------------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m utils.instruction_data.formats",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="report every problem of FILE; change nothing")
    validate.add_argument("file", type=Path)
    validate.add_argument("--expect", choices=FORMATS, help="the format every record should have")
    convert = commands.add_parser("convert", help="convert IN to OUT in another format")
    convert.add_argument("source", metavar="IN", type=Path)
    convert.add_argument("target", metavar="OUT", type=Path)
    convert.add_argument("--to", required=True, choices=TARGETS)
    convert.add_argument("--force", action="store_true", help="replace OUT if it exists (never IN)")
    args = parser.parse_args(argv)
    try:
        return _validate_command(args) if args.command == "validate" else _convert_command(args)
    except (OSError, ValueError) as err:
        filename = getattr(err, "filename", None)
        message = f"{err.strerror}: {filename}" if getattr(err, "strerror", None) and filename else err
        print(f"error: {message}", file=sys.stderr)
        return 1


def _validate_command(args: argparse.Namespace) -> int:
    report = validate_file(args.file, args.expect)
    for problem in report.problems:
        print(problem.describe(str(args.file)))
    print(f"{args.file}: {_plural(report.records, 'record')} ({report.format or 'no valid format'}), "
          f"{_plural(len(report.problems), 'problem').replace('0 problems', 'no problems')}.")
    return 1 if report.problems else 0


def _convert_command(args: argparse.Namespace) -> int:
    done = convert_file(args.source, args.target, args.to, args.force)
    kept = f"; kept {_plural(done.duplicates, 'duplicate')} (validate lists them)" if done.duplicates else ""
    print(f"converted {_plural(done.records, 'record')} from {args.source} ({done.source_format}) to "
          f"{args.target} ({done.target}){kept}.")
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


if __name__ == "__main__":
    sys.exit(main())
