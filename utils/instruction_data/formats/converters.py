"""Converters between formats, one record at a time, chosen so that nothing is lost silently.

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

Example:
    >>> convert_record({"instruction": "Hi", "output": "Hello"}, "openai")["messages"][0]
    {'role': 'user', 'content': 'Hi'}
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from utils.instruction_data.formats.checks import detect_format, record_problems
from utils.instruction_data.formats.prompts import alpaca_text, join_prompt, split_prompt
from utils.instruction_data.formats.schema import (
    ALPACA_KEYS,
    ALPACA_PREFERENCE_KEYS,
    PREFERENCE_KEYS,
    TARGETS,
    FormatError,
    Problem,
    check_target,
)


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
    check_target(to)
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

