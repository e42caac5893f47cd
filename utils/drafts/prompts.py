"""Draft picks as chat prompts, and a legal-pick scorer: the log-likelihood of each card in the pack.

A pick record (see ``utils.drafts.files``) becomes a short chat: a system turn that states the task, a
user turn with the pack number, pick number, the pool so far and the cards of the pack, and, for
training, an assistant turn that names the card taken. Four formats are offered:

- ``"names"``: card names only, the pool listed by name (``2x Name`` for copies). The model must
  learn from the picks alone what each invented name is worth and which colour it is;
- ``"annotated"``: every pack card carries its colour, rarity and mana value, e.g.
  ``[W, common, 4] Gull-Rider of Marrowtide``, and the pool is summarised by its colours (cards per
  colour), the features a dedicated draft bot uses. Shorter for late picks, and more to go on.
  The features come *before* the name: in a causal model a token sees only what precedes it, so
  only then can the name's tokens carry what is known about the card;
- ``"fit"``: as annotated, and each pack card also says how many pool cards share a colour with
  it (``fit 5``; a colourless card fits every card), the colour fit a draft bot computes and the
  annotated format leaves the model to work out;
- ``"line"``: the fit prompt, but the answer is the card's whole pack line, features first
  (``[U, rare, 2, fit 5] Gull``), not its bare name. A preference for a feature (rare, fit 5) then
  sits on answer tokens that every card with that feature shares, so a pick teaches it for all
  of them at once; with the bare name, it must be learned card by card, or carried from the
  prompt's listing into the name;
- ``"text"``: each pack card as a player reads it: name, mana cost, type line, power/toughness and
  rules text, then rarity and fit (``Gull: {1}{U} Creature — Bird 2/1. Flying. [common, fit 5]``).
  Only this format lets a model rate a card it has never seen; it needs ``card_info(cards, texts)``.

Scoring never generates free text: ``candidate_log_likelihoods`` runs the prompt once, keeps its
key-value cache, and scores every distinct pack card's answer (``answer_text``: its name, or its
line, then the end-of-turn token) as a continuation of it, in one batch. The pick is the card with
the highest summed log-probability, so every answer is a legal pick. ``pack_softmax_loss`` trains
on that same choice: the cross-entropy of the human's pick among the pack's cards.

Example:
    >>> from utils.drafts import prompts as dp
    >>> record = {"pack_number": 1, "pick_number": 2, "pack": ["Gull", "Eel"], "pool": ["Eel"],
    ...           "pick": "Gull"}
    >>> info = {"Gull": {"colour": "U", "rarity": "rare", "mana_value": 2},
    ...         "Eel": {"colour": "B", "rarity": "common", "mana_value": 1}}
    >>> print(dp.pick_messages(record, "annotated", info)[1]["content"])
    Pack 1, pick 2.
    Your pool (1 card): W 0, U 0, B 1, R 0, G 0, colourless 0.
    The pack (2 cards):
    - [U, rare, 2] Gull
    - [B, common, 1] Eel
    Which card do you take?
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd
import torch

FORMATS = ("names", "annotated", "fit", "line", "text")
COLOURS = "WUBRG"
# Short on purpose: every prompt token is paid for at every pick, in training and in evaluation.
SYSTEM_PROMPT = "Magic draft: name the card a strong drafter takes from this pack."


def check_format(fmt: str) -> str:
    """Return ``fmt`` if it is one of FORMATS, else raise ValueError naming the choices.

    Example:
        >>> check_format("names")
        'names'
    """
    if fmt not in FORMATS:
        raise ValueError(f"prompt format {fmt!r} is unknown; use one of {', '.join(FORMATS)}.")
    return fmt


def card_info(cards: pd.DataFrame, texts: Mapping[str, Mapping] | None = None) -> dict[str, dict]:
    """``{name: {"colour", "rarity", "mana_value"}}`` from a 17lands ``cards.csv`` table; colourless
    cards get colour ``"C"``. ``texts`` (``card_text.read_card_text``) adds each card's ``text``, the
    one line the text format shows.

    Example:
        >>> card_info(pd.DataFrame({"name": ["Gull"], "color_identity": ["U"], "rarity": ["rare"],
        ...                         "mana_value": [2]}))
        {'Gull': {'colour': 'U', 'rarity': 'rare', 'mana_value': 2}}
    """
    missing = [c for c in ("name", "color_identity", "rarity", "mana_value") if c not in cards.columns]
    if missing:
        raise ValueError(f"card table lacks column(s) {missing}; pass the 17lands cards.csv table "
                         "(utils.drafts.files.read_cards).")
    identity = cards["color_identity"].fillna("").astype(str)
    info = {name: {"colour": colour or "C", "rarity": str(rarity), "mana_value": int(mana)}
            for name, colour, rarity, mana in zip(cards["name"], identity, cards["rarity"],
                                                  cards["mana_value"], strict=True)}
    for name, text in (texts or {}).items():
        if name in info:
            info[name]["text"] = text_line(text)
    return info


def text_line(text: Mapping) -> str:
    """A card's readable fields on one line: mana cost, type line, power/toughness, rules text.

    Example:
        >>> text_line({"mana_cost": "{1}{U}", "type_line": "Creature — Bird", "power": "2",
        ...            "toughness": "1", "oracle_text": "Flying"})
        '{1}{U} Creature — Bird 2/1. Flying.'
    """
    body = " ".join(part for part in (text.get("mana_cost"), text.get("type_line")) if part)
    if text.get("power") is not None:
        body += f" {text['power']}/{text['toughness']}"
    lines = str(text.get("oracle_text") or "").splitlines()
    rules = " ".join(line.rstrip(".") + "." for line in lines if line)
    return f"{body}. {rules}".strip()


def _counted(names: Sequence[str]) -> list[str]:
    """Names in first-seen order, prefixed ``2x`` when repeated."""
    return [name if n == 1 else f"{n}x {name}" for name, n in Counter(names).items()]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pool_colours(pool: Sequence[str], info: Mapping[str, Mapping]) -> str:
    """The pool as cards per colour (a two-colour card counts in both), e.g. ``W 1, U 3, ...``.

    Example:
        >>> pool_colours(["Gull", "Gull", "Gear"], {"Gull": {"colour": "U"}, "Gear": {"colour": "C"}})
        'W 0, U 2, B 0, R 0, G 0, colourless 1'
    """
    counts = Counter()
    for name in pool:
        colour = _lookup(info, name)["colour"]
        counts.update(colour if colour != "C" else ["colourless"])
    return ", ".join(f"{c} {counts[c]}" for c in (*COLOURS, "colourless"))


def _lookup(info: Mapping[str, Mapping], name: str) -> Mapping:
    if name not in info:
        raise KeyError(f"card {name!r} is not in the card table; load cards.csv for the same set "
                       "(utils.drafts.files.read_cards(path, expansion)).")
    return info[name]


def shared_colour_count(name: str, pool: Sequence[str], info: Mapping[str, Mapping]) -> int:
    """How many pool cards share a colour with card ``name`` (the ``fit N`` of the fit and line
    formats); a colourless card fits them all. (The simulated drafters' colour fit is another
    measure: ``simulation.colour_affinity``.)

    Example:
        >>> info = {"Gull": {"colour": "U"}, "Eel": {"colour": "UB"}, "Gear": {"colour": "C"}}
        >>> shared_colour_count("Gull", ["Eel", "Gear", "Gull"], info)
        2
        >>> shared_colour_count("Gear", ["Eel"], info)  # colourless: fits every pool card
        1
    """
    colours = set(_lookup(info, name)["colour"]) - {"C"}
    if not colours:
        return len(pool)
    return sum(1 for card in pool if colours & set(_lookup(info, card)["colour"]))


def render_card(name: str, fmt: str, info: Mapping[str, Mapping] | None = None,
                pool: Sequence[str] = ()) -> str:
    """One pack card as the prompt shows it (``pool`` matters only to the fit format).

    Example:
        >>> info = {"Gull": {"colour": "U", "rarity": "rare", "mana_value": 2}}
        >>> render_card("Gull", "annotated", info), render_card("Gull", "fit", info, ["Gull"])
        ('[U, rare, 2] Gull', '[U, rare, 2, fit 1] Gull')
    """
    if check_format(fmt) == "names":
        return name
    card = _lookup(info or {}, name)
    if fmt == "text":
        if "text" not in card:
            raise KeyError(f"card {name!r} has no text; build info with card_info(cards, texts) where "
                           "texts = utils.drafts.card_text.read_card_text(<card_text.json>).")
        return f"{name}: {card['text']} [{card['rarity']}, fit {shared_colour_count(name, pool, info)}]"
    fit = f", fit {shared_colour_count(name, pool, info)}" if fmt in ("fit", "line") else ""
    return f"[{card['colour']}, {card['rarity']}, {card['mana_value']}{fit}] {name}"


def answer_text(name: str, fmt: str, info: Mapping[str, Mapping] | None = None,
                pool: Sequence[str] = ()) -> str:
    """What the model answers for card ``name``: its pack line in the line format, else the name.

    Example:
        >>> info = {"Gull": {"colour": "U", "rarity": "rare", "mana_value": 2}}
        >>> answer_text("Gull", "fit", info), answer_text("Gull", "line", info, ["Gull"])
        ('Gull', '[U, rare, 2, fit 1] Gull')
    """
    return render_card(name, fmt, info, pool) if check_format(fmt) == "line" else name


def pick_messages(record: Mapping, fmt: str = "annotated",
                  info: Mapping[str, Mapping] | None = None) -> list[dict]:
    """The system and user turns asking for this pick (no answer).

    Example:
        >>> record = {"pack_number": 2, "pick_number": 1, "pack": ["Gull", "Gull"], "pool": []}
        >>> print(pick_messages(record, "names")[1]["content"])
        Pack 2, pick 1.
        Your pool (0 cards): empty.
        The pack (2 cards):
        - 2x Gull
        Which card do you take?
    """
    check_format(fmt)
    if fmt != "names" and info is None:
        raise ValueError(f"the {fmt!r} format needs info=card_info(cards) for colours and rarities.")
    for field in ("pack_number", "pick_number", "pack", "pool"):
        if field not in record:
            raise KeyError(f"pick record lacks the field {field!r}; build records with "
                           "utils.drafts.files.draft_picks_from_17lands.")
    pool = record["pool"]
    if not pool:
        pool_text = "empty."
    elif fmt == "names":
        pool_text = "; ".join(_counted(pool)) + "."
    else:
        pool_text = pool_colours(pool, info) + "."
    counts = Counter(record["pack"])
    pack_lines = [f"- {'' if n == 1 else f'{n}x '}{render_card(name, fmt, info, pool)}"
                  for name, n in counts.items()]
    user = "\n".join([f"Pack {record['pack_number']}, pick {record['pick_number']}.",
                      f"Your pool ({_plural(len(pool), 'card')}): {pool_text}",
                      f"The pack ({_plural(len(record['pack']), 'card')}):", *pack_lines,
                      "Which card do you take?"])
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def pick_example(record: Mapping, fmt: str = "annotated",
                 info: Mapping[str, Mapping] | None = None) -> dict:
    """A TRL conversational prompt/completion record: the loss falls on the card name only.

    Example:
        >>> ex = pick_example({"pack_number": 1, "pick_number": 1, "pack": ["Gull"], "pool": [],
        ...                    "pick": "Gull"}, "names")
        >>> ex["completion"]
        [{'role': 'assistant', 'content': 'Gull'}]
    """
    if record.get("pick") not in record.get("pack", ()):
        raise ValueError(f"pick {record.get('pick')!r} is not in its pack; the record is corrupt.")
    return {"prompt": pick_messages(record, fmt, info),
            "completion": [{"role": "assistant",
                            "content": answer_text(record["pick"], fmt, info, record["pool"])}]}


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the chat template with an open assistant turn (the model's cue to answer)."""
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                              return_dict=True)["input_ids"])


def candidate_ids(tokenizer, name: str) -> list[int]:
    """Token ids of an answer: the card name, then the end-of-turn token (SmolLM2: ``<|im_end|>``).

    Example:
        >>> from transformers import AutoTokenizer
        >>> from utils.core.models import ensure_bundled_cache
        >>> tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))
        >>> tokenizer.convert_ids_to_tokens(candidate_ids(tokenizer, "Gull"))
        ['G', 'ull', '<|im_end|>']
    """
    return tokenizer(name, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def candidate_scores(model, tokenizer, messages: list[dict], candidates: Sequence[str]) -> torch.Tensor:
    """Summed log-probability of each candidate answer (name + end-of-turn) after the prompt, as a
    tensor that keeps its gradient (training uses it; ``candidate_log_likelihoods`` is the no-grad view).

    The prompt runs once with ``use_cache=True``; its key-value cache is repeated once per
    candidate and all candidates run as one right-padded batch (padding after a causal sequence
    never affects its real tokens, so no mask is needed).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> scores = candidate_scores(model, tokenizer, [{"role": "user", "content": "A bird?"}],
        ...                           ["Gull", "Eel"])
        >>> scores.shape, scores.requires_grad
        (torch.Size([2]), True)
    """
    if not candidates:
        raise ValueError("no candidate cards to score; the pack is empty.")
    device = model.device
    prompt = torch.tensor([prompt_ids(tokenizer, messages)], device=device)
    out = model(input_ids=prompt, use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # the answer's first token
    cache = out.past_key_values
    cache.batch_repeat_interleave(len(candidates))
    ids = [candidate_ids(tokenizer, name) for name in candidates]
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batch = torch.tensor([row + [pad] * (width - len(row)) for row in ids], device=device)
    # Feed every token but the last; position t's logits predict token t + 1.
    rest = model(input_ids=batch[:, :-1], past_key_values=cache, use_cache=True).logits.float()
    log_probs = torch.log_softmax(rest, dim=-1)  # every candidate has >= 2 tokens: name + end
    later = log_probs.gather(-1, batch[:, 1:, None]).squeeze(-1)  # (candidates, width - 1)
    lengths = torch.tensor([len(row) for row in ids], device=device)
    real = torch.arange(width - 1, device=device)[None, :] < (lengths[:, None] - 1)  # not padding
    return first[batch[:, 0]] + (later * real).sum(dim=1)


@torch.no_grad()
def candidate_log_likelihoods(model, tokenizer, messages: list[dict], candidates: Sequence[str],
                              length_normalise: bool = False) -> list[float]:
    """Summed log-probability of each candidate answer (name + end-of-turn) after the prompt, as
    floats (see ``candidate_scores``). ``length_normalise=True`` divides each sum by the
    candidate's token count instead.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> messages = [{"role": "user", "content": "Name a bird."}]
        >>> gull, eel = candidate_log_likelihoods(model, tokenizer, messages, ["Gull", "Eel"])
        >>> gull > eel  # the bundled model finds the bird the likelier answer
        True
    """
    scores = candidate_scores(model, tokenizer, messages, candidates)
    if length_normalise:
        scores = scores / torch.tensor([len(candidate_ids(tokenizer, n)) for n in candidates],
                                       device=scores.device)
    return scores.tolist()


def ratio_scores(model, tokenizer, messages: list[dict], candidates: Sequence[str]) -> torch.Tensor:
    """How much the adapter changed each candidate's log-likelihood: ``candidate_scores`` of the
    PEFT ``model`` minus those of its frozen base (adapter disabled, no gradient). It is DPO's
    implicit reward (notebook 05): zero for every card before training, so an untrained picker
    starts neutral instead of preferring names whose wording the base model finds likely.

    Example:
        >>> from peft import LoraConfig, get_peft_model
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
        >>> ratio_scores(peft_model, tokenizer, [{"role": "user", "content": "A bird?"}], ["Gull", "Eel"])
        tensor([0., 0.], grad_fn=<SubBackward0>)
    """
    with torch.no_grad(), model.disable_adapter():
        reference = candidate_scores(model, tokenizer, messages, candidates)
    return candidate_scores(model, tokenizer, messages, candidates) - reference


SCORINGS = {"likelihood": candidate_scores, "ratio": ratio_scores}


def check_scoring(scoring: str) -> str:
    """Return ``scoring`` if it is one of SCORINGS, else raise ValueError naming the choices."""
    if scoring not in SCORINGS:
        raise ValueError(f"scoring {scoring!r} is unknown; use one of {', '.join(SCORINGS)}.")
    return scoring


def pack_scores(model, tokenizer, record: Mapping, fmt: str = "annotated",
                info: Mapping[str, Mapping] | None = None,
                scoring: str = "likelihood") -> tuple[list[str], torch.Tensor]:
    """The pack's distinct cards, and each one's score as an answer (``answer_text``) to the record's
    prompt: ``"likelihood"`` (``candidate_scores``) or ``"ratio"`` (``ratio_scores``, a PEFT model).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> record = {"pack_number": 1, "pick_number": 1, "pack": ["Gull", "Eel", "Gull"], "pool": []}
        >>> names, scores = pack_scores(model, tokenizer, record, "names")
        >>> names, scores.shape  # each distinct card once
        (['Gull', 'Eel'], torch.Size([2]))
    """
    names = list(dict.fromkeys(record["pack"]))
    answers = [answer_text(name, fmt, info, record["pool"]) for name in names]
    messages = pick_messages(record, fmt, info)
    return names, SCORINGS[check_scoring(scoring)](model, tokenizer, messages, answers)


def pack_softmax_loss(model, tokenizer, record: Mapping, fmt: str = "annotated",
                      info: Mapping[str, Mapping] | None = None, scoring: str = "likelihood") -> torch.Tensor:
    """Cross-entropy of the human's pick among the pack's distinct cards: a softmax over the cards'
    scores (``"likelihood"``: summed log-likelihood, ``candidate_scores``; ``"ratio"``: its change
    from the base model, ``ratio_scores``). Plain SFT raises the pick's likelihood against the whole
    vocabulary; this loss raises it against the other legal picks only, the choice the evaluation
    measures.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> record = {"pack_number": 1, "pick_number": 1, "pack": ["Gull", "Eel", "Gull"], "pool": [],
        ...           "pick": "Eel"}
        >>> loss = pack_softmax_loss(model, tokenizer, record, "names")
        >>> loss.requires_grad, loss.item() < 0.1  # trainable; small: the model already favours Eel
        (True, True)
    """
    if record.get("pick") not in record.get("pack", ()):
        raise ValueError(f"pick {record.get('pick')!r} is not in its pack; the record is corrupt.")
    names, scores = pack_scores(model, tokenizer, record, fmt, info, scoring)
    return -torch.log_softmax(scores, dim=0)[names.index(record["pick"])]


@torch.no_grad()
def llm_ranking(model, tokenizer, record: Mapping, fmt: str = "annotated",
                info: Mapping[str, Mapping] | None = None, scoring: str = "likelihood") -> list[str]:
    """The pack's distinct cards, best pick first, by ``candidate_scores`` (``scoring="likelihood"``)
    or by ``ratio_scores`` (``"ratio"``, for a PEFT model); ties keep pack order.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> record = {"pack_number": 1, "pick_number": 1, "pack": ["Gull", "Eel", "Gull"], "pool": []}
        >>> llm_ranking(model, tokenizer, record, "names")  # the untrained model's taste, not a drafter's
        ['Eel', 'Gull']
    """
    names, scores = pack_scores(model, tokenizer, record, fmt, info, scoring)
    order = sorted(range(len(names)), key=lambda i: -float(scores[i]))
    return [names[i] for i in order]


def pick_hits(records: Sequence[Mapping], ranking, ks: tuple[int, ...] = (1, 3)) -> pd.DataFrame:
    """One row per record: draft_id, pack_number, pick_number, ``top<k>`` hit flags (0/1) and the
    picker's ``choice`` (its first card), the table a clustered bootstrap and a by-pick plot need.

    Example:
        >>> pick_hits([{"draft_id": "a", "pack_number": 1, "pick_number": 1, "pack": ["A", "B"],
        ...             "pick": "B"}], lambda r: ["A", "B"], ks=(1,)).to_dict("records")
        [{'draft_id': 'a', 'pack_number': 1, 'pick_number': 1, 'top1': 0, 'choice': 'A'}]
    """
    rows = []
    for record in records:
        ranked = ranking(record)
        row = {key: record[key] for key in ("draft_id", "pack_number", "pick_number")}
        rows.append(row | {f"top{k}": int(record["pick"] in ranked[:k]) for k in ks} | {"choice": ranked[0]})
    return pd.DataFrame(rows)
