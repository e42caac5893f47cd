"""The course's preference task: easy arithmetic, where a short correct answer beats a padded or wrong one.

A user asks ``What is 7 + 5?``. The bundled SmolLM2-135M-Instruct tends to explain at length
("To add 7 and 5, you simply add them together: 7 + 5 = 12.") and is often wrong. The preference
the course teaches is the one a code judge can check:

- score 2, *concise and correct*: the right result in at most ``CONCISE_WORDS`` words (``7 + 5 = 12``);
- score 1, *padded but correct*: the right result inside a longer answer;
- score 0, *wrong*: no result, or a wrong one.

The judge mixes two preferences, concision and correctness. The shipped pairs separate them, each
built from the model's own sampled answers (``sample_answers``) where it produces what is needed:

- *concision pairs* (``concision_pair``): both answers correct; chosen concise, rejected padded. The
  rejected answer is always a sample; the chosen one is a concise correct sample, or the reference
  answer (``7 + 5 = 12``) when the model sampled none for that problem;
- *correctness pairs* (``correctness_pair``): chosen correct, rejected wrong, as alike in length as
  the samples allow. When the model sampled no correct answer, the chosen answer is the rejected
  sample with its stated result corrected (``"... the result is 11."`` -> ``"... the result is 1."``).

``build_pair`` keeps the older mixed pair (best sample against worst). Records follow TRL's
conversational prompt/chosen/rejected format, plus the fields ``answer``, ``chosen_score``,
``rejected_score``, ``chosen_source`` (``model``, ``reference`` or ``edited``), ``pair_type`` and
``problem`` for analysis.

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
DEFAULT_TRAIN, DEFAULT_VAL = 400, 64  # problems behind the shipped train and validation splits
DEFAULT_SAMPLES = 8  # answers sampled per problem (temperature 0.8) to build the shipped pairs
PAIR_TYPES = ("concision", "correctness")
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


def word_count(text: str) -> int:
    """Words in an answer, split on white space (the judge's measure of length)."""
    return len(text.split())


def _record(problem: dict, chosen: str, rejected: str, source: str, pair_type: str) -> dict:
    return {"prompt": prompt_messages(problem),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "answer": problem["answer"], "chosen_score": judge(chosen, problem),
            "rejected_score": judge(rejected, problem), "chosen_source": source, "pair_type": pair_type,
            "problem": {k: problem[k] for k in ("a", "op", "b")}}


def concision_pair(problem: dict, samples: list[str]) -> dict | None:
    """Both correct, chosen concise (score 2), rejected padded (score 1), or None without a padded
    correct sample. Chosen is the first concise correct sample (``chosen_source`` "model"), else the
    reference answer ("reference"); rejected is the first padded correct sample."""
    scores = [judge(text, problem) for text in samples]
    padded = [text for text, score in zip(samples, scores, strict=True) if score == 1]
    if not padded:
        return None
    concise = [text for text, score in zip(samples, scores, strict=True) if score == 2]
    chosen, source = (concise[0], "model") if concise else (reference_answer(problem), "reference")
    return _record(problem, chosen, padded[0], source, "concision")


def result_span(text: str) -> tuple[int, int] | None:
    """Where ``stated_result`` finds the result in ``text``: (start, end) characters, or None."""
    if "=" in text:
        head = text.index("=") + 1
        after = NUMBER.search(text, head)
        if after:
            return after.span()
    numbers = list(NUMBER.finditer(text))
    return numbers[-1].span() if numbers else None


def corrected(text: str, answer: int) -> str | None:
    """``text`` with its stated result replaced by ``answer`` (None when it states no result)."""
    span = result_span(text)
    return None if span is None else text[:span[0]] + str(answer) + text[span[1]:]


def correctness_pair(problem: dict, samples: list[str]) -> dict | None:
    """Chosen correct, rejected wrong, as alike in length as the samples allow, or None without a
    wrong sample that states a result. With a correct sample, the (correct, wrong) pair of samples
    closest in word count ("model"); without one, chosen is the first wrong sample with its result
    corrected ("edited"), so the two answers differ in that number only."""
    scores = [judge(text, problem) for text in samples]
    wrong = [text for text, score in zip(samples, scores, strict=True)
             if score == 0 and stated_result(text) is not None]
    if not wrong:
        return None
    right = [text for text, score in zip(samples, scores, strict=True) if score > 0]
    if right:
        pairs = [(c, w) for c in right for w in wrong]
        chosen, rejected = min(pairs, key=lambda cw: abs(word_count(cw[0]) - word_count(cw[1])))
        return _record(problem, chosen, rejected, "model", "correctness")
    return _record(problem, corrected(wrong[0], problem["answer"]), wrong[0], "edited", "correctness")


def typed_pairs(problems: list[dict], samples: list[list[str]]) -> list[dict]:
    """Concision and correctness pairs (whichever each problem's samples allow), problem by problem."""
    records = []
    for problem, answers in zip(problems, samples, strict=True):
        records += [r for r in (concision_pair(problem, answers), correctness_pair(problem, answers)) if r]
    return records


def sample_answers(model, tokenizer, problems: list[dict], n: int = DEFAULT_SAMPLES, temperature: float = 0.8,
                   max_new_tokens: int = 24, seed: int = DEFAULT_SEED, batch_size: int = 64
                   ) -> list[list[str]]:
    """``n`` sampled answers per problem from the model (the raw material of every pair)."""
    return generate(model, tokenizer, [prompt_messages(p) for p in problems], max_new_tokens, n=n,
                    temperature=temperature, batch_size=batch_size, seed=seed)


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
                 seed: int = DEFAULT_SEED, n: int = DEFAULT_SAMPLES) -> dict:
    """Sample ``n`` answers per problem, then write ``samples_{split}.jsonl`` (problem and samples)
    and ``{split}.jsonl`` (its concision and correctness pairs, see ``typed_pairs``) under ``folder``.

    Validation problems never appear in train. A problem gives no concision pair without a padded
    correct sample and no correctness pair without a wrong one, so the files hold fewer records than
    twice the problems.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = make_problems(n_train, seed)
    val = make_problems(n_val, seed + 1, exclude={p["question"] for p in train})
    paths = {}
    for split, problems, split_seed in (("train", train, seed), ("validation", val, seed + 1)):
        samples = sample_answers(model, tokenizer, problems, n=n, seed=split_seed)
        write_jsonl([{**p, "samples": s} for p, s in zip(problems, samples, strict=True)],
                    folder / f"samples_{split}.jsonl")
        paths[split] = folder / f"{split}.jsonl"
        write_jsonl(typed_pairs(problems, samples), paths[split])
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the course's arithmetic preference pairs.")
    parser.add_argument("folder", nargs="?", default="data/preference")
    parser.add_argument("--train", type=int, default=DEFAULT_TRAIN)
    parser.add_argument("--val", type=int, default=DEFAULT_VAL)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="answers sampled per problem")
    args = parser.parse_args(argv)
    from utils.core.models import load_model

    model, tokenizer = load_model(quiet=True)
    for split, path in write_splits(args.folder, model, tokenizer, args.train, args.val, args.seed,
                                    args.samples).items():
        print(split, sum(1 for _ in path.open()), "pairs ->", path)


if __name__ == "__main__":
    main()
