"""The course's preference task: easy arithmetic, where a short correct answer beats a padded or wrong one.

A user asks ``What is 7 + 5?``. The bundled SmolLM2-135M-Instruct tends to explain at length
("To add 7 and 5, you simply add them together: 7 + 5 = 12.") and is often wrong. The preference
the course teaches is the one a code judge can check:

- score 2, *concise and correct*: the right result in at most ``CONCISE_WORDS`` words (``7 + 5 = 12``);
- score 1, *padded but correct*: the right result inside a longer answer;
- score 0, *wrong*: no result, or a wrong one.

Preference pairs are built from the model's own sampled answers ranked by that judge: the best
answer is *chosen* and the worst *rejected*; when no sample reaches score 2, the chosen answer is
the reference answer the course writes (``7 + 5 = 12``). Records follow TRL's conversational
prompt/chosen/rejected format, plus the fields ``answer``, ``chosen_score``, ``rejected_score`` and
``chosen_source`` for analysis.

Example:
    >>> from utils.course_data import preference_data as prefs
    >>> problem = prefs.make_problems(1, seed=0)[0]
    >>> problem["question"], problem["answer"]
    ('What is 14 - 8?', 6)
    >>> prefs.judge("14 - 8 = 6", problem), prefs.judge("Taking 8 from 14 leaves us 6 apples.", problem)
    (2, 1)
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from utils.core.checks import check_int
from utils.core.jsonl import read_jsonl, write_jsonl
from utils.generation.batched import generate_completions

DEFAULT_SEED = 0  # the seed of the shipped data/preference files
DEFAULT_TRAIN, DEFAULT_VAL = 320, 48  # problems behind the shipped train and validation splits
CONCISE_WORDS = 6  # an answer of at most this many words is concise ("7 + 5 = 12" has five)
SCORE_NAMES = {2: "concise and correct", 1: "padded but correct", 0: "wrong"}
OPERATIONS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b}
TEMPLATES = {
    "+": ["What is {a} + {b}?", "How much is {a} plus {b}?", "Add {a} and {b}.",
          "What do you get if you add {a} and {b}?", "Compute {a} + {b}.", "What is the sum of {a} and {b}?"],
    "-": ["What is {a} - {b}?", "How much is {a} minus {b}?", "Subtract {b} from {a}.",
          "What do you get if you subtract {b} from {a}?", "Compute {a} - {b}.",
          "What is the difference between {a} and {b}?"],
}
RECORD_FIELDS = ("prompt", "chosen", "rejected")
NUMBER = re.compile(r"-?\d+")


class InvalidPairError(ValueError):
    """A preference record breaks TRL's conversational prompt/chosen/rejected format."""


def make_problem(rng: random.Random) -> dict:
    """One problem drawn with ``rng``: ``{"question", "answer", "a", "op", "b"}``, operands 2-15."""
    op = rng.choice(sorted(OPERATIONS))
    a, b = rng.randint(2, 15), rng.randint(2, 15)
    if op == "-" and b > a:
        a, b = b, a  # no negative results: the task should be easy
    question = rng.choice(TEMPLATES[op]).format(a=a, b=b)
    return {"question": question, "answer": OPERATIONS[op](a, b), "a": a, "op": op, "b": b}


def make_problems(n: int, seed: int = DEFAULT_SEED, exclude: set[str] | None = None) -> list[dict]:
    """``n`` distinct problems from ``seed``; questions in ``exclude`` are skipped (held-out sets)."""
    check_int(n, "n", low=0)
    rng, seen, problems = random.Random(seed), set(exclude or ()), []
    while len(problems) < n:
        problem = make_problem(rng)
        if problem["question"] not in seen:
            seen.add(problem["question"])
            problems.append(problem)
    return problems


def reference_answer(problem: dict) -> str:
    """The ideal answer the course writes: ``"7 + 5 = 12"``."""
    return f"{problem['a']} {problem['op']} {problem['b']} = {problem['answer']}"


def prompt_messages(problem: dict) -> list[dict]:
    """The conversational prompt: one user turn (the chat template adds SmolLM2's system turn)."""
    return [{"role": "user", "content": problem["question"]}]


def stated_result(text: str) -> int | None:
    """The number an answer gives as its result: the first number after ``=``, else the last
    number in the text, else None. ``stated_result("So 7 + 5 = 12. Easy!")`` is 12."""
    if "=" in text:
        after = NUMBER.search(text.split("=", 1)[1])
        if after:
            return int(after.group())
    numbers = NUMBER.findall(text)
    return int(numbers[-1]) if numbers else None


def judge(text: str, problem: dict) -> int:
    """Score an answer: 2 concise and correct, 1 padded but correct, 0 wrong (see SCORE_NAMES)."""
    if not isinstance(text, str):
        raise TypeError(f"judge expects the answer as a string, got {type(text).__name__}")
    if "answer" not in problem:
        raise KeyError("judge needs the problem's 'answer' field (a dict from make_problems)")
    if stated_result(text) != problem["answer"]:
        return 0
    return 2 if len(text.split()) <= CONCISE_WORDS else 1


def build_pair(problem: dict, samples: list[str]) -> dict | None:
    """A TRL preference record from the model's sampled answers ranked by the judge.

    Chosen is the best-scored sample, or the reference answer when no sample is concise and
    correct; rejected is the worst-scored sample. Returns None when every sample already scores 2
    (nothing to prefer). Ties keep the earliest sample, so the result is deterministic.
    """
    if not samples:
        raise ValueError("build_pair needs at least one sampled answer")
    scores = [judge(text, problem) for text in samples]
    worst = min(range(len(samples)), key=lambda i: scores[i])
    if scores[worst] == 2:
        return None
    best = max(range(len(samples)), key=lambda i: scores[i])
    if scores[best] == 2:
        chosen, chosen_score, source = samples[best], 2, "model"
    else:
        chosen, chosen_score, source = reference_answer(problem), 2, "reference"
    return {"prompt": prompt_messages(problem),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": samples[worst]}],
            "answer": problem["answer"], "chosen_score": chosen_score,
            "rejected_score": scores[worst], "chosen_source": source,
            "problem": {k: problem[k] for k in ("a", "op", "b")}}


def problem_of(record: dict) -> dict:
    """The problem a preference record was built from, ready for ``judge``."""
    return {"question": record["prompt"][-1]["content"], "answer": record["answer"], **record["problem"]}


def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int = 24, n: int = 1,
             temperature: float = 0.0, batch_size: int = 32, seed: int | None = None) -> list[list[str]]:
    """``n`` answers per chat prompt, stripped, batched with left padding: greedy when
    ``temperature`` is 0, else sampled (from ``seed`` when given, without touching the caller's
    random state). Returns one list of ``n`` strings per prompt; see
    ``utils.generation.batched.generate_completions``."""
    answers = generate_completions(model, tokenizer, prompts, max_new_tokens, n=n, temperature=temperature,
                                   seed=seed, batch_size=batch_size)
    return [[answer.strip() for answer in group] for group in answers]


def build_pairs(model, tokenizer, problems: list[dict], n: int = 4, temperature: float = 0.8,
                max_new_tokens: int = 24, seed: int = DEFAULT_SEED, batch_size: int = 16) -> list[dict]:
    """Sample ``n`` answers per problem from the model and turn each into a pair (see build_pair)."""
    samples = generate(model, tokenizer, [prompt_messages(p) for p in problems], max_new_tokens, n=n,
                       temperature=temperature, batch_size=batch_size, seed=seed)
    pairs = [build_pair(p, s) for p, s in zip(problems, samples, strict=True)]
    return [p for p in pairs if p is not None]


def win_rate(scores: list[int], baseline_scores: list[int]) -> float:
    """Share of problems where ``scores`` beat the baseline's, ties counted half (0.5 = no change)."""
    if len(scores) != len(baseline_scores) or not scores:
        raise ValueError(f"need two non-empty score lists of equal length, got {len(scores)} and "
                         f"{len(baseline_scores)}")
    wins = sum((s > b) + 0.5 * (s == b) for s, b in zip(scores, baseline_scores, strict=True))
    return wins / len(scores)


def validate_pairs(records: list[dict], source: str | None = None) -> None:
    """Raise InvalidPairError naming the record (1-based, the JSONL line) and the field at fault."""
    for number, record in enumerate(records, start=1):
        where = f"{source} record {number}" if source else f"record {number}"
        if not isinstance(record, dict):
            raise InvalidPairError(f"{where}: expected a JSON object, got {type(record).__name__}.")
        for field in RECORD_FIELDS:
            turns = record.get(field)
            if not isinstance(turns, list) or not turns:
                raise InvalidPairError(f"{where}: field '{field}' is missing or not a list of messages.")
            for i, turn in enumerate(turns):
                content = turn.get("content") if isinstance(turn, dict) else None
                if not isinstance(content, str) or not content:
                    raise InvalidPairError(f"{where}: {field}[{i}] needs a 'role' and a non-empty 'content'.")
        if record["prompt"][-1].get("role") != "user":
            raise InvalidPairError(f"{where}: the prompt must end with a 'user' turn.")
        for field in ("chosen", "rejected"):
            if [t.get("role") for t in record[field]] != ["assistant"]:
                raise InvalidPairError(f"{where}: field '{field}' must be one 'assistant' turn.")
        if record["chosen"] == record["rejected"]:
            raise InvalidPairError(f"{where}: 'chosen' and 'rejected' are identical; a pair must differ.")


def load_pairs(path: str | Path) -> list[dict]:
    """Read a JSONL file of preference records and validate it; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; write it with "
                                "`python -m utils.course_data.preference_data`.")
    records = read_jsonl(path)  # a line that is not JSON raises JsonlError, naming file and line
    validate_pairs(records, source=path.name)
    return records


def write_splits(folder: str | Path, model, tokenizer, n_train: int = DEFAULT_TRAIN, n_val: int = DEFAULT_VAL,
                 seed: int = DEFAULT_SEED, n: int = 4) -> dict:
    """Sample, judge and write ``train.jsonl`` and ``validation.jsonl`` under ``folder``.

    Validation problems never appear in train. Problems whose samples all score 2 give no pair,
    so the files can hold slightly fewer records than asked for.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = make_problems(n_train, seed)
    val = make_problems(n_val, seed + 1, exclude={p["question"] for p in train})
    paths = {}
    for split, problems, split_seed in (("train", train, seed), ("validation", val, seed + 1)):
        pairs = build_pairs(model, tokenizer, problems, n=n, seed=split_seed)
        paths[split] = folder / f"{split}.jsonl"
        write_jsonl(pairs, paths[split])
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the course's arithmetic preference pairs.")
    parser.add_argument("folder", nargs="?", default="data/preference")
    parser.add_argument("--train", type=int, default=DEFAULT_TRAIN)
    parser.add_argument("--val", type=int, default=DEFAULT_VAL)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    from utils.core.models import load_model

    model, tokenizer = load_model()
    for split, path in write_splits(args.folder, model, tokenizer, args.train, args.val, args.seed).items():
        print(split, sum(1 for _ in path.open()), "pairs ->", path)


if __name__ == "__main__":
    main()
