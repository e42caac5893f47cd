"""A mix of small instruction tasks, each with its own checker, for diverse-versus-single-task runs.

Three task types, all as chat-messages records ``{"messages": [system, user, assistant]}``:

- ``order``: the course's order extraction (``utils.course_data.sft_data``), checked by exact JSON match;
- ``arithmetic``: an addition or subtraction (problems from ``utils.course_data.preference_data``), answered
  as ``7 + 5 = 12`` and checked on the result;
- ``sorting``: three to five numbers to put in ascending order, answered ``2, 7, 9`` and checked
  on the list of numbers.

Each task has its own system prompt, so one model can learn all three and tell them apart.

Example:
    >>> from utils.course_data import task_mix
    >>> record = task_mix.make_task_examples("sorting", 1, seed=0)[0]
    >>> record["messages"][1]["content"], record["messages"][2]["content"]
    ('Put 14, 2, 9, 16 in ascending order.', '2, 9, 14, 16')
    >>> task_mix.is_correct("sorting", "2, 9, 14, 16", record)
    True
"""

from __future__ import annotations

import random
import re

from utils.core.checks import check_int
from utils.course_data import preference_data, sft_data

TASKS = ("order", "arithmetic", "sorting")
SYSTEM_PROMPTS = {
    "order": sft_data.SYSTEM_PROMPT,
    "arithmetic": "Answer with the calculation and its result, like 7 + 5 = 12.",
    "sorting": "Sort the numbers from smallest to largest; answer with the numbers separated by commas.",
}
SORT_TEMPLATES = ["Sort these numbers from smallest to largest: {numbers}.",
                  "Put {numbers} in ascending order.",
                  "Order from low to high: {numbers}"]
NUMBERS = re.compile(r"-?\d+")


def _chat(task: str, user: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM_PROMPTS[task]},
                         {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


def _sorting_example(rng: random.Random) -> dict:
    numbers = rng.sample(range(1, 20), rng.randint(3, 5))
    user = rng.choice(SORT_TEMPLATES).format(numbers=", ".join(map(str, numbers)))
    return _chat("sorting", user, ", ".join(map(str, sorted(numbers))))


def make_task_examples(task: str, n: int, seed: int = 0) -> list[dict]:
    """``n`` chat records of ``task`` (one of TASKS) from ``seed``; the same seed gives the same records.

    Example:
        >>> make_task_examples("arithmetic", 1, seed=0)[0]["messages"][2]["content"]
        '14 - 8 = 6'
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}.")
    check_int(n, "n", low=0)
    if task == "order":
        return sft_data.make_examples(n, seed)
    if task == "arithmetic":
        return [_chat("arithmetic", p["question"], preference_data.reference_answer(p))
                for p in preference_data.make_problems(n, seed)]
    rng = random.Random(seed)
    return [_sorting_example(rng) for _ in range(n)]


def task_of(record: dict) -> str:
    """The task of a record, told by its system prompt."""
    system = record["messages"][0]["content"] if record["messages"][0]["role"] == "system" else ""
    for task, prompt in SYSTEM_PROMPTS.items():
        if system == prompt:
            return task
    raise ValueError(f"no task has the system prompt {system!r}; records need one of task_mix's.")


def is_correct(task: str, answer: str, record: dict) -> bool:
    """Whether a model's ``answer`` solves ``record`` of ``task``: the same order JSON, the same
    arithmetic result (``preference_data.stated_result``), or the same numbers in the same order."""
    reference = record["messages"][-1]["content"]
    if task == "order":
        return sft_data.extract_answer(answer) == sft_data.target_answer(record)
    if task == "arithmetic":
        return preference_data.stated_result(answer) == preference_data.stated_result(reference)
    if task == "sorting":
        return NUMBERS.findall(answer) == NUMBERS.findall(reference)
    raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}.")


def task_accuracy(model, tokenizer, task: str, records: list[dict], max_new_tokens: int = 24) -> float:
    """Share of ``records`` of ``task`` the model's greedy answers solve (0.0 to 1.0)."""
    if not records:
        raise ValueError("task_accuracy needs at least one record")
    answers = sft_data.generate_answers(model, tokenizer, records, max_new_tokens)
    return sum(is_correct(task, a, r) for a, r in zip(answers, records, strict=True)) / len(records)
