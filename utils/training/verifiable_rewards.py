"""Verifiable rewards for the course's arithmetic task, and GRPO's group-relative advantage.

A *verifiable* reward is a program that checks an answer: no reward model, no human. These are
reward functions in the form TRL's ``GRPOTrainer`` calls them: keyword arguments ``prompts``,
``completions`` (chat completions are lists of messages) and every other dataset column (here
``answer``), returning one float per completion. Notebook 07 writes them inline to teach them and
``tests/test_notebook_07.py`` checks that its versions agree with these; ``scripts/rl_experiments.py``
imports them.

Example:
    >>> completions = [[{"role": "assistant", "content": "7 + 5 = 12"}],
    ...                [{"role": "assistant", "content": "7 + 5 = 13"}],
    ...                [{"role": "assistant", "content": "Adding 7 and 5 gives 12."}]]
    >>> correctness_reward(completions, answer=[12, 12, 12])
    [1.0, 0.0, 1.0]
    >>> format_reward(completions)
    [1.0, 1.0, 0.0]
    >>> [round(a, 3) for a in group_advantages([1.0, 0.0, 1.0, 0.0], group_size=4)]
    [0.866, -0.866, 0.866, -0.866]
"""

from __future__ import annotations

import re
import statistics

from utils.course_data import preference_data as prefs
from utils.course_data.preference_data import stated_result

TRAIN_SEED, TRAIN_POOL = 7, 600  # training prompts are a prefix of make_problems(TRAIN_POOL, TRAIN_SEED)
HELD_OUT_SEED = 1000
SHAPE = re.compile(r"^\s*\d+\s*[-+]\s*\d+\s*=\s*-?\d+\s*\.?\s*$")  # "7 + 5 = 12", nothing else


def completion_text(completion) -> str:
    """The text of one completion: TRL passes a list of messages for chat prompts, a string otherwise."""
    return completion[-1]["content"] if isinstance(completion, list) else completion


def format_reward(completions, **kwargs) -> list[float]:
    """1.0 when the answer is exactly the shape ``a + b = c`` (right or wrong), else 0.0."""
    return [1.0 if SHAPE.match(completion_text(c)) else 0.0 for c in completions]


def correctness_reward(completions, answer, **kwargs) -> list[float]:
    """1.0 when the answer's stated result (``preference_data.stated_result``) equals ``answer``."""
    return [1.0 if stated_result(completion_text(c)) == a else 0.0
            for c, a in zip(completions, answer, strict=True)]


def group_advantages(rewards, group_size: int, scale: bool = True, eps: float = 1e-4) -> list[float]:
    """GRPO's advantage, as TRL 1.16 computes it (``scale_rewards="group"``): each reward minus
    the mean of its group of ``group_size`` completions of one prompt, divided by the group's
    standard deviation (with Bessel's correction) + ``eps``. ``scale=False`` only centres
    (``scale_rewards="none"``, Dr. GRPO). A group whose rewards are all equal gets 0 everywhere."""
    rewards = [float(r) for r in rewards]
    if group_size < 2 or len(rewards) % group_size:
        raise ValueError(f"need groups of at least 2 and len(rewards) a multiple of group_size; got "
                         f"{len(rewards)} rewards in groups of {group_size}")
    advantages = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        mean, std = statistics.fmean(group), statistics.stdev(group)
        advantages += [(r - mean) / (std + eps) if scale else r - mean for r in group]
    return advantages


def rl_splits(n_train: int, n_held_out: int) -> tuple[list[dict], list[dict]]:
    """Training prompts and held-out problems for notebook 07 and scripts/rl_experiments.py.

    The held-out problems share no question with the whole training pool (so any ``n_train`` up
    to ``TRAIN_POOL`` gives the same held-out set) nor with notebook 05's preference splits (so its
    DPO adapter is scored on questions it never saw).
    """
    if not 0 <= n_train <= TRAIN_POOL:
        raise ValueError(f"n_train must lie in [0, {TRAIN_POOL}], got {n_train}")
    pool = prefs.make_problems(TRAIN_POOL, TRAIN_SEED)
    dpo_train = prefs.make_problems(prefs.DEFAULT_TRAIN, prefs.DEFAULT_SEED)
    dpo_val = prefs.make_problems(prefs.DEFAULT_VAL, prefs.DEFAULT_SEED + 1,
                                  exclude={p["question"] for p in dpo_train})
    seen = {p["question"] for p in pool + dpo_train + dpo_val}
    return pool[:n_train], prefs.make_problems(n_held_out, HELD_OUT_SEED, exclude=seen)
