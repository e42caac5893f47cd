"""Record checks: tell a record's format from its keys and list every problem it has, by field.

Rules every conversation follows: roles are system, user and assistant; content is a non-empty
string; an optional system turn comes first, then user and assistant alternate starting with
the user, and training data ends with the assistant. Messages may carry OpenAI's ``name`` and
``weight`` keys and nothing else (tool calls are out of scope). A preference pair needs two
different answers. A missing field is reported by name rather than as an unknown format.

Example:
    >>> record_problems({"instruction": "Greet.", "chosen": "Hi", "rejected": "Hi"})
    [('rejected', "identical to 'chosen': a preference pair needs two different answers.")]
"""

from __future__ import annotations

from collections.abc import Callable

from utils.instruction_data.formats.schema import (
    MESSAGE_KEYS,
    ORDER_RULE,
    PREFERENCE_KEYS,
    ROLES,
    FormatError,
)


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
    if isinstance(record.get("prompt"), str):  # the string form, as in _check_preference
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
