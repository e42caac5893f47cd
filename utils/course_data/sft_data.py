"""The course's fine-tuning task: extract a shop order from a message as a small JSON object.

A customer writes a free-form message ("Hi, it's Priya. Could you send me seven mangoes?"); the
assistant answers with exactly ``{"name": "Priya", "item": "mango", "quantity": 7}``: the name as
written, the item in the singular, the quantity as a number (customers write digits or words).
The bundled SmolLM2-135M-Instruct cannot do this before fine-tuning; answers are short and can be
checked exactly, so notebooks 02-05 and 10 reuse it.

Example:
    >>> from utils.course_data import sft_data
    >>> records = sft_data.make_examples(2, seed=0)
    >>> records[0]["messages"][2]["role"]
    'assistant'
    >>> sft_data.extract_answer('Sure! {"name": "Ana", "item": "pear", "quantity": 3}')
    {'name': 'Ana', 'item': 'pear', 'quantity': 3}
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from utils.core.checks import check_int
from utils.core.jsonl import read_jsonl, write_jsonl
from utils.core.model_modes import eval_mode
from utils.generation.batched import generate_completions

SYSTEM_PROMPT = "Extract the order as JSON with keys name, item (singular) and quantity (a number)."
ROLES = ("system", "user", "assistant")
NAMES = ["Priya", "Tom", "Aisha", "Lukas", "Mei", "Carlos", "Fatima", "Olga", "Kenji", "Amara",
         "Jonas", "Sofia", "Ravi", "Chloe", "Mateo", "Ingrid", "Kwame", "Yuki", "Leila", "Pavel",
         "Nadia", "Omar", "Elena", "Tariq", "Hannah", "Diego", "Zara", "Felix", "Anika", "Bruno",
         "Greta", "Hugo", "Ines", "Malik", "Rosa", "Sven", "Tanya", "Victor", "Wanda", "Yusuf"]
ITEMS = {"apple": "apples", "pear": "pears", "mango": "mangoes", "peach": "peaches",
         "cherry": "cherries", "lemon": "lemons", "melon": "melons", "potato": "potatoes",
         "tomato": "tomatoes", "onion": "onions", "carrot": "carrots", "egg": "eggs",
         "loaf": "loaves", "candle": "candles", "box": "boxes", "knife": "knives",
         "cup": "cups", "plate": "plates", "bottle": "bottles", "battery": "batteries",
         "notebook": "notebooks", "pencil": "pencils", "brush": "brushes", "glass": "glasses"}
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve"]
TEMPLATES = [
    "Hi, it's {name} here. Could you send me {qty} {items}?",
    "{name} would like {qty} {items}, please.",
    "Please deliver {qty} {items} to {name}.",
    "Order for {name}: {qty} {items}.",
    "Hello! I need {qty} {items} by Friday. Thanks, {name}",
    "Can I get {qty} {items}? My name is {name}.",
    "{qty} {items} for {name}, thank you!",
    "This is {name}. Put me down for {qty} {items}.",
    "Good morning, {name} speaking. I'd like to order {qty} {items}.",
    "Send {qty} {items} over to {name} when you can.",
    "Hey, {name} again. Same as usual: {qty} {items}.",
    "We are out of {items}. {name} needs {qty} of them today.",
]


DEFAULT_SEED = 0  # the seed of the shipped data/sft files


class InvalidRecordError(ValueError):
    """A training record breaks the chat-messages format; the message names the record and field."""


def make_example(rng: random.Random) -> dict:
    """One chat-messages record drawn with ``rng``: a user message and the assistant's JSON."""
    name = rng.choice(NAMES)
    item = rng.choice(sorted(ITEMS))
    quantity = rng.randint(1, 12)
    qty = NUMBER_WORDS[quantity] if rng.random() < 0.5 else str(quantity)
    message = rng.choice(TEMPLATES).format(name=name, qty=qty, items=plural(item, quantity))
    if message[0].islower():
        message = message[0].upper() + message[1:]
    answer = format_answer({"name": name, "item": item, "quantity": quantity})
    return {"messages": [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": message},
                         {"role": "assistant", "content": answer}]}


def plural(item: str, quantity: int) -> str:
    return item if quantity == 1 else ITEMS[item]


def format_answer(order: dict) -> str:
    """The one exact answer format: ``{"name": "Tom", "item": "pear", "quantity": 3}``."""
    return json.dumps({"name": order["name"], "item": order["item"], "quantity": order["quantity"]})


def make_examples(n: int, seed: int = 0) -> list[dict]:
    """``n`` records from ``seed``; the same seed always gives the same records."""
    check_int(n, "n", low=0)
    rng = random.Random(seed)
    return [make_example(rng) for _ in range(n)]


def write_splits(folder: str | Path, n_train: int = 2000, n_val: int = 200, seed: int = DEFAULT_SEED) -> dict:
    """Write ``train.jsonl`` and ``validation.jsonl`` under ``folder``; return their paths.

    Validation messages never appear in train (a duplicate is redrawn), so held-out accuracy
    measures the skill rather than memory.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = make_examples(n_train, seed)
    seen = {r["messages"][1]["content"] for r in train}
    rng, val = random.Random(seed + 1), []
    while len(val) < n_val:
        record = make_example(rng)
        if record["messages"][1]["content"] not in seen:
            seen.add(record["messages"][1]["content"])
            val.append(record)
    paths = {"train": folder / "train.jsonl", "validation": folder / "validation.jsonl"}
    for split, records in (("train", train), ("validation", val)):
        write_jsonl(records, paths[split])
    return paths


def load_split(path: str | Path) -> list[dict]:
    """Read a JSONL file of chat records and validate it; errors name the file and line."""
    path = Path(path)
    records = read_jsonl(path)  # a line that is not JSON raises JsonlError, naming file and line
    validate_records(records, source=path.name)
    return records


def validate_records(records: list[dict], source: str | None = None) -> None:
    """Raise InvalidRecordError naming the record (1-based, the JSONL line) and the field at fault.

    Accepts chat-messages records ``{"messages": [...]}`` and conversational prompt/completion
    records ``{"prompt": [...], "completion": [...]}``. A conversation is an optional system turn,
    then user and assistant turns alternating, ending with the assistant; every turn has a known
    role and non-empty text content.
    """
    for number, record in enumerate(records, start=1):
        where = f"{source} record {number}" if source else f"record {number}"
        if not isinstance(record, dict):
            raise InvalidRecordError(f"{where}: expected a JSON object, got {type(record).__name__}.")
        if "messages" in record:
            messages, field = record["messages"], "messages"
        elif "prompt" in record and "completion" in record:
            if not isinstance(record["prompt"], list) or not isinstance(record["completion"], list):
                raise InvalidRecordError(f"{where}: 'prompt' and 'completion' must be lists of messages.")
            messages, field = record["prompt"] + record["completion"], "prompt+completion"
        else:
            raise InvalidRecordError(
                f"{where}: has neither 'messages' nor 'prompt'/'completion' (keys: {sorted(record)}).")
        _validate_conversation(messages, f"{where}, {field}")


def _validate_conversation(messages, where: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRecordError(f"{where}: must be a non-empty list of messages.")
    expected = "user"
    for i, message in enumerate(messages):
        spot = f"{where}[{i}]"
        if not isinstance(message, dict):
            raise InvalidRecordError(f"{spot}: expected an object with 'role' and 'content'.")
        if "role" not in message:
            raise InvalidRecordError(f"{spot}: field 'role' is missing; add one of {', '.join(ROLES)}.")
        role = message["role"]
        if role not in ROLES:
            raise InvalidRecordError(f"{spot}: field 'role' is {role!r}; use one of {', '.join(ROLES)}.")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise InvalidRecordError(f"{spot}: field 'content' is missing or empty; give the turn's text.")
        if role == "system" and i == 0:
            continue
        if role != expected:
            raise InvalidRecordError(
                f"{spot}: field 'role' is {role!r} where the {expected!r} turn belongs (turn order: "
                "optional system first, then user and assistant alternating).")
        expected = "assistant" if role == "user" else "user"
    if messages[-1]["role"] != "assistant":
        raise InvalidRecordError(f"{where}: the last turn is {messages[-1]['role']!r}; end with the "
                                 "assistant answer the model should learn.")


def to_prompt_completion(records: list[dict]) -> list[dict]:
    """Chat-messages records as TRL's conversational prompt/completion records: the prompt is
    every turn but the last, the completion the final assistant turn (the only trained part)."""
    validate_records(records)
    return [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records]


def extract_answer(text: str) -> dict | None:
    """The first JSON object in ``text`` as a dict, or None when there is none."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text[start:])
            if isinstance(value, dict):
                return value
        except json.JSONDecodeError:
            pass
        start = text.find("{", start + 1)
    return None


def target_answer(record: dict) -> dict:
    """The reference answer of a record, parsed."""
    last = record["completion"][-1] if "completion" in record else record["messages"][-1]
    return json.loads(last["content"])


def prompt_messages(record: dict) -> list[dict]:
    return record["prompt"] if "prompt" in record else record["messages"][:-1]


def generate_answers(model, tokenizer, records: list[dict], max_new_tokens: int = 32,
                     batch_size: int = 32, autocast: bool = True) -> list[str]:
    """Greedy answers to each record's prompt, batched with left padding (so every prompt ends
    where generation starts), in the course's precision unless ``autocast=False``; see
    ``utils.generation.batched.generate_completions``."""
    prompts = [prompt_messages(r) for r in records]
    return [answers[0] for answers in generate_completions(model, tokenizer, prompts, max_new_tokens,
                                                           batch_size=batch_size, autocast=autocast)]


def score_answers(answers: list[str], records: list[dict]) -> list[bool]:
    """True where the JSON in an answer equals the reference exactly (same keys, same values)."""
    if len(answers) != len(records):
        raise ValueError(f"{len(answers)} answers for {len(records)} records")
    return [extract_answer(a) == target_answer(r) for a, r in zip(answers, records, strict=True)]


def exact_match(model, tokenizer, records: list[dict], max_new_tokens: int = 32,
                batch_size: int = 32) -> float:
    """Share of records whose greedy answer holds exactly the reference JSON (0.0 to 1.0)."""
    if not records:
        raise ValueError("exact_match needs at least one record")
    answers = generate_answers(model, tokenizer, records, max_new_tokens, batch_size)
    return sum(score_answers(answers, records)) / len(records)


def answer_token_ids(tokenizer, record: dict) -> tuple[list[int], int]:
    """The token ids of a whole record (prompt and answer, through the chat template) and the
    number of prompt tokens in front: the answer is ``ids[n_prompt:]``."""
    prompt = tokenizer.apply_chat_template(prompt_messages(record), tokenize=False,
                                           add_generation_prompt=True)
    full = tokenizer.apply_chat_template(prompt_messages(record) + _completion(record), tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently inside the full conversation")
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    return ids, n_prompt


def _completion(record: dict) -> list[dict]:
    return record["completion"] if "completion" in record else record["messages"][-1:]


def answer_token_losses(model, tokenizer, records: list[dict], batch_size: int = 16, keep_tail: bool = True):
    """Yield, batch by batch, the next-token losses (nats) of the reference answers given their
    prompts, shape [batch, positions scored], and a boolean mask of the answer tokens they count.
    Callers run it inside ``utils.core.model_modes.eval_mode(model)``.

    With ``keep_tail`` the vocabulary head runs only from the batch's earliest answer token on
    (``logits_to_keep``): prompt positions need no logits, and the head is the widest layer.
    """
    for start in range(0, len(records), batch_size):
        encoded = [answer_token_ids(tokenizer, r) for r in records[start:start + batch_size]]
        width = max(len(ids) for ids, _ in encoded)
        input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
        labels = torch.full((len(encoded), width), -100)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, (ids, n_prompt) in enumerate(encoded):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            labels[row, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])
            mask[row, :len(ids)] = 1
        first = max(1, min(n_prompt for _, n_prompt in encoded)) if keep_tail else 1
        # logits at positions first-1 .. width-1 predict the tokens first .. width-1 (the last is unused)
        logits = model(input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device),
                       logits_to_keep=width - first + 1).logits.float()
        targets = labels[:, first:].to(model.device)
        losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets,
                                                   ignore_index=-100, reduction="none")
        yield losses, targets != -100


def answer_probabilities(model, tokenizer, records: list[dict], batch_size: int = 16) -> list[float]:
    """The probability the model gives each record's whole reference answer (teacher forced):
    exp of minus the *sum* of its answer-token losses. An all-or-nothing metric such as exact
    match follows this, not the mean loss per token: 20 tokens at 0.05 nats each leave exp(-1)."""
    probabilities = []
    with eval_mode(model):
        for losses, counted in answer_token_losses(model, tokenizer, records, batch_size):
            probabilities += torch.exp(-(losses * counted).sum(dim=1)).tolist()
    return probabilities


def answer_loss(model, tokenizer, records: list[dict], batch_size: int = 16) -> float:
    """Mean cross-entropy (nats per token) of the reference answers given their prompts: the loss
    on answer tokens only, whatever mask the model was trained with."""
    if not records:
        raise ValueError("answer_loss needs at least one record")
    total, count = 0.0, 0
    with eval_mode(model):
        for losses, counted in answer_token_losses(model, tokenizer, records, batch_size):
            total += losses.sum().item()
            count += int(counted.sum())
    return total / count
