"""The sampling explorer: every sampling knob (temperature, top-p, top-k, min-p and the three
penalties), the next-token distribution before and after the logits processors, the cumulative
mass where top-p cuts, step-by-step generation, two settings side by side, and sampled completions.

The logic is plain functions (``explore``, ``cumulative_mass``, ``step``, ``compare``) that a test
or a notebook cell calls with the values the sliders hold; ``utils.generation.sampling_panel``
holds ``explorer_panel``, the thin ipywidgets layer over them.

Example:
    >>> from utils.core.models import load_model
    >>> from utils.generation.sampling_explorer import explore
    >>> model, tokenizer = load_model()
    >>> view = explore(model, tokenizer, "Name a fruit.", temperature=0.7, top_k=5, n=2, max_tokens=5)
    >>> list(view.table.columns)  # each shown token before and after the processors
    ['token', 'token_id', 'before', 'after', 'rank_before', 'rank_after', 'moved']
    >>> view.table["token"][0], view.kept_text(), len(view.completions)  # top-k 5 keeps 5 tokens
    ("'The'", '5 tokens keep a non-zero probability', 2)
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from utils.core.checks import check_int, check_number
from utils.core.panels import count_text, figure_png  # noqa: F401 - figure_png: the old home
from utils.generation.batched import seeded
from utils.generation.sampling import (
    FrequencyPresencePenalty,
    check_messages,
    eos_ids,
    generate_choices,
)

SLIDERS = {  # name: (min, max, step, default): the ranges the panel offers
    "temperature": (0.0, 2.0, 0.05, 1.0),
    "top_p": (0.05, 1.0, 0.05, 1.0),
    "top_k": (0, 100, 1, 0),
    "min_p": (0.0, 0.5, 0.01, 0.0),
    "frequency_penalty": (-2.0, 2.0, 0.1, 0.0),
    "presence_penalty": (-2.0, 2.0, 0.1, 0.0),
    "repetition_penalty": (0.5, 2.0, 0.05, 1.0),
    "n": (1, 8, 1, 3),
    "max_tokens": (1, 80, 1, 30),
}
KNOBS = ("temperature", "top_p", "top_k", "min_p", "frequency_penalty", "presence_penalty",
         "repetition_penalty")  # the sliders that reshape the distribution (n, max_tokens do not)
TITLE_WIDTH = 55  # characters per title line: a 8-inch figure's title never runs off its edge
FIGURE_WIDTH = 8.0  # inches; 800 px at the panel's 100 dpi, scaled down to the cell


@dataclass
class ExplorerView:
    """What one call of ``explore`` produced: the table, the figure and the completions."""

    table: pd.DataFrame  # one row per shown token: see ``token_table``
    figure: plt.Figure
    completions: list[dict]  # the choices of generate_choices (text, finish_reason, token_ids)
    kept_tokens: int  # how many vocabulary entries keep a non-zero probability after the processors
    label: str = ""  # the settings, as in the figure's title
    mass: MassCurve | None = field(default=None, repr=False)  # what top-p sees, and where it cuts

    def completions_text(self) -> str:
        return completions_text(self.completions)

    def kept_text(self) -> str:
        return kept_text(self.kept_tokens)


class MassCurve(NamedTuple):
    """The sorted probabilities' running sum (``table``: rank, probability, cumulative) and how
    many tokens top-p keeps (``kept``)."""

    table: pd.DataFrame
    kept: int
    top_p: float


@dataclass
class StepView:
    """One step of step-by-step generation: the token taken and the distribution after it."""

    answer_so_far: str  # the answer with the token appended (unchanged when the token ends it)
    token_id: int
    token: str  # the token's text, as repr shows it
    probability: float  # its probability under the settings, before it was taken
    finished: bool  # the token ends the answer (an end-of-turn token)
    table: pd.DataFrame  # the next distribution (``token_table``); the same table when finished
    kept_tokens: int


@dataclass
class Comparison:
    """Two settings on the same prompt: the next-token probabilities under each, and samples."""

    table: pd.DataFrame  # token, token_id, before, a, b (probabilities)
    figure: plt.Figure
    labels: tuple[str, str]
    kept_tokens: tuple[int, int]
    completions: tuple[list[dict], list[dict]]  # empty lists when n is 0


def check_knobs(values: dict) -> dict:
    """Every knob of ``KNOBS``: the defaults of ``SLIDERS`` updated with ``values``; unknown names
    (a typo) raise with the known ones.

    Example:
        >>> check_knobs({"temperature": 0.5})["temperature"], check_knobs({})["min_p"]
        (0.5, 0.0)
    """
    unknown = set(values) - set(KNOBS)
    if unknown:
        raise ValueError(f"unknown explorer settings {sorted(unknown)}; known: {sorted(KNOBS)}.")
    return {name: values.get(name, SLIDERS[name][3]) for name in KNOBS}


def build_processors(prompt_length: int, temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
                     frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                     repetition_penalty: float = 1.0, min_p: float = 0.0) -> LogitsProcessorList:
    """The processors ``generate`` would apply, in its order (``_get_logits_processor``): the
    repetition penalty, the frequency/presence penalty (passed as ``logits_processor``), then
    temperature, top-k, top-p, min-p. Temperature 0 (greedy) keeps only the most likely token.

    Example:
        >>> [type(p).__name__ for p in build_processors(5, temperature=0.7, min_p=0.1)]
        ['FrequencyPresencePenalty', 'TemperatureLogitsWarper', 'MinPLogitsWarper']
    """
    processors = LogitsProcessorList()
    if repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(float(repetition_penalty)))
    processors.append(FrequencyPresencePenalty(frequency_penalty, presence_penalty, prompt_length))
    if temperature == 0:
        processors.append(TopKLogitsWarper(top_k=1))
        return processors
    if temperature != 1.0:
        processors.append(TemperatureLogitsWarper(float(temperature)))
    if top_k:
        processors.append(TopKLogitsWarper(top_k=int(top_k)))
    if top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=float(top_p)))
    if check_number(min_p, "min_p", 0.0, 1.0, hint="0 keeps every token"):
        processors.append(MinPLogitsWarper(min_p=float(min_p)))
    return processors


def conversation(prompt: str) -> list[dict]:
    """The chat the explorer continues: one user turn."""
    return check_messages([{"role": "user", "content": prompt}])


def encode(tokenizer, prompt: str, answer_so_far: str = "") -> tuple[torch.Tensor, int]:
    """Token ids of the chat up to the open assistant turn plus ``answer_so_far``, and the
    length of the prompt part (where the generated tokens start: the penalties count the answer
    so far as generated, as if the model had written it)."""
    prompt_ids = list(tokenizer.apply_chat_template(conversation(prompt), add_generation_prompt=True,
                                                    return_dict=True)["input_ids"])
    answer_ids = tokenizer(answer_so_far, add_special_tokens=False)["input_ids"] if answer_so_far else []
    return torch.tensor([prompt_ids + answer_ids]), len(prompt_ids)


def next_logits(model, tokenizer, prompt: str,
                answer_so_far: str = "") -> tuple[torch.Tensor, int, torch.Tensor]:
    """One forward pass: the ids (on the model's device), the prompt length and the float32
    logits ``(1, vocab)`` of the token after ``answer_so_far``."""
    ids, prompt_length = encode(tokenizer, prompt, answer_so_far)
    ids = ids.to(model.device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, -1, :].float()
    return ids, prompt_length, logits


def distributions(ids: torch.Tensor, prompt_length: int, logits: torch.Tensor,
                  **knobs) -> tuple[torch.Tensor, torch.Tensor]:
    """The next-token probabilities ``(vocab,)`` before and after the processors ``knobs`` set.

    Example:
        >>> before, after = distributions(torch.tensor([[0, 1]]), 2, torch.tensor([[2.0, 1.0, 0.0]]), top_k=1)
        >>> after.tolist()
        [1.0, 0.0, 0.0]
    """
    processors = build_processors(prompt_length, **check_knobs(knobs))
    return logits.softmax(-1)[0], processors(ids, logits.clone()).softmax(-1)[0]


def ranks(probabilities: torch.Tensor, tie_break: torch.Tensor | None = None) -> torch.Tensor:
    """1-based rank of every entry, most probable first; ties go by ``tie_break`` (descending).

    Example:
        >>> ranks(torch.tensor([0.2, 0.5, 0.0, 0.0]), tie_break=torch.tensor([0.1, 0.1, 0.1, 0.3])).tolist()
        [2, 1, 4, 3]
    """
    order = torch.arange(len(probabilities), device=probabilities.device)
    if tie_break is not None:
        order = tie_break.argsort(descending=True, stable=True)
    order = order[probabilities[order].argsort(descending=True, stable=True)]
    result = torch.empty_like(order)
    result[order] = torch.arange(1, len(order) + 1, device=order.device)
    return result


def token_table(tokenizer, before: torch.Tensor, after: torch.Tensor, show_top: int = 12) -> pd.DataFrame:
    """The top ``show_top`` tokens before and the top ``show_top`` after (their union), sorted by
    their rank after the processors: token, token_id, before, after (probabilities), rank_before,
    rank_after (1 = most likely) and ``moved`` ("rose" into the top, "fell" out of it, or "").

    Example (a frequency penalty pushes token 0 down and lets token 2 into the top 2):
        >>> from transformers import AutoTokenizer
        >>> from utils.core.models import ensure_bundled_cache
        >>> tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))
        >>> table = token_table(tokenizer, torch.tensor([.5, .3, .2]), torch.tensor([.1, .5, .4]), 2)
        >>> table[["token_id", "rank_before", "rank_after", "moved"]].values.tolist()
        [[1, 2, 1, ''], [2, 3, 2, 'rose'], [0, 1, 3, 'fell']]
    """
    check_int(show_top, "show_top", low=1)
    rank_before, rank_after = ranks(before), ranks(after, tie_break=before)
    shown = torch.unique(torch.cat([before.topk(min(show_top, len(before))).indices,
                                    rank_after.topk(min(show_top, len(after)), largest=False).indices]))
    shown = shown[rank_after[shown].argsort()]
    top_before, top_after = rank_before[shown] <= show_top, rank_after[shown] <= show_top
    moved = ["rose" if a and not b else "fell" if b and not a else ""
             for b, a in zip(top_before.tolist(), top_after.tolist(), strict=True)]
    return pd.DataFrame({"token": [repr(tokenizer.decode([int(i)])) for i in shown],
                         "token_id": shown.tolist(), "before": before[shown].tolist(),
                         "after": after[shown].tolist(), "rank_before": rank_before[shown].tolist(),
                         "rank_after": rank_after[shown].tolist(), "moved": moved})


def kept_text(kept_tokens: int) -> str:
    """How many tokens survive the processors, in words.

    Example:
        >>> kept_text(1)
        '1 token keeps a non-zero probability'
    """
    return f"{count_text(kept_tokens, 'token', 'keep')} a non-zero probability"


def cumulative_mass(probabilities: torch.Tensor, top_p: float = 1.0) -> MassCurve:
    """The probabilities sorted from the most likely, their running sum, and how many tokens
    top-p keeps (transformers' ``TopPLogitsWarper`` decides: a token stays while the mass above
    it is under ``top_p``).

    Example:
        >>> curve = cumulative_mass(torch.tensor([0.1, 0.6, 0.3]), top_p=0.8)
        >>> curve.table["cumulative"].round(2).tolist(), curve.kept
        ([0.6, 0.9, 1.0], 2)
    """
    top_p = check_number(top_p, "top_p", 0.0, 1.0, low_open=True)
    probabilities = probabilities.detach().float().cpu()
    cut = TopPLogitsWarper(top_p=top_p)(None, probabilities.log().unsqueeze(0))[0]
    ordered = probabilities.sort(descending=True).values
    table = pd.DataFrame({"rank": range(1, len(ordered) + 1), "probability": ordered.tolist(),
                          "cumulative": ordered.cumsum(0).tolist()})
    return MassCurve(table, int((cut > -torch.inf).sum()), top_p)


def settings_label(temperature=1.0, top_p=1.0, top_k=0, frequency_penalty=0.0, presence_penalty=0.0,
                   repetition_penalty=1.0, min_p=0.0) -> str:
    """The settings in a few characters, for titles and status lines.

    Example:
        >>> settings_label(0.7, 0.9, min_p=0.05, repetition_penalty=1.2)
        'T=0.7, top-p=0.9, top-k=off, min-p=0.05, rep=1.2'
    """
    parts = [f"T={temperature:g}", f"top-p={top_p:g}", f"top-k={top_k or 'off'}"]
    if min_p:
        parts.append(f"min-p={min_p:g}")
    if frequency_penalty or presence_penalty:
        parts.append(f"freq={frequency_penalty:g}, pres={presence_penalty:g}")
    if repetition_penalty != 1.0:
        parts.append(f"rep={repetition_penalty:g}")
    return ", ".join(parts)


def wrap_title(text: str, width: int = TITLE_WIDTH) -> str:
    """``text`` broken into lines of at most ``width`` characters (at commas and spaces).

    Example:
        >>> wrap_title("T=0.7, top-p=0.9, top-k=off: probabilities move by up to 0.12", 40)
        'T=0.7, top-p=0.9, top-k=off:\\nprobabilities move by up to 0.12'
    """
    return "\n".join(textwrap.wrap(text, width, break_long_words=True))


def short_token(token: str, width: int = 16) -> str:
    return token if len(token) <= width else token[:width - 1] + "…"


def plot_before_after(table: pd.DataFrame, label: str) -> plt.Figure:
    """Bars of each token's probability before and after the processors (a new figure); tokens that
    rose into the top are marked ↑, those that fell out ↓."""
    marks = {"rose": "↑ ", "fell": "↓ ", "": ""}
    names = [marks[moved] + short_token(token) for token, moved in zip(table["token"], table["moved"],
                                                                        strict=True)]
    long = table.assign(token=names).melt(id_vars="token", value_vars=["before", "after"],
                                          var_name="distribution", value_name="probability")
    figure, ax = plt.subplots(figsize=(FIGURE_WIDTH, 1.8 + 0.27 * len(table)), layout="constrained")
    sns.barplot(data=long, y="token", x="probability", hue="distribution", ax=ax)
    moved = (table["after"] - table["before"]).abs().max()
    ax.set(xlabel="probability of being the next token", ylabel="",
           title=wrap_title(f"{label}: probabilities move by up to {moved:.2f}"))
    move_legend_below(figure, ax)
    return figure


def move_legend_below(figure: plt.Figure, ax: plt.Axes, columns: int = 2) -> None:
    """The axes' labelled artists as a figure legend under the plot, off the data."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if not handles:
        return
    figure.legend(handles, labels, loc="outside lower center", ncols=columns, frameon=False)


def plot_cumulative_mass(curve: MassCurve, label: str = "") -> plt.Figure:
    """The running sum of the sorted probabilities against the rank (log scale), with the top-p
    line and the rank where top-p cuts (a new figure)."""
    table = curve.table[curve.table["rank"] <= max(10 * curve.kept, 1000)]
    figure, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.2), layout="constrained")
    ax.plot(table["rank"], table["cumulative"], label="cumulative probability")
    ax.axhline(curve.top_p, color="C1", linestyle="--", label=f"top-p = {curve.top_p:g}")
    ax.axvline(curve.kept, color="C2", linestyle=":", label=f"cut after rank {curve.kept:,}")
    ax.set_xscale("log")
    ax.set(xlabel="rank of the token (log scale, 1 = most likely)", ylabel="cumulative probability",
           ylim=(0, 1.02), title=wrap_title(f"top-p {curve.top_p:g} keeps {count_text(curve.kept, 'token')}"
                                            + (f" ({label})" if label else "")))
    move_legend_below(figure, ax, columns=3)
    return figure


def completions_text(completions: list[dict]) -> str:
    """One line per choice: its index, why it ended and its text."""
    lines = []
    for choice in completions:
        text = choice["message"]["content"].replace("\n", " ")
        lines.append(f"[{choice['index']}] ({choice['finish_reason']}) {text}")
    return "\n".join(lines)


def sample_completions(model, tokenizer, prompt: str, answer_so_far: str = "", n: int = 3,
                       max_tokens: int = 30, seed: int | None = 0, **knobs) -> list[dict]:
    """``n`` completions of ``answer_so_far`` sampled with ``knobs`` (``generate_choices``' choices,
    which applies min-p where generate does, after top-p). The same seed gives the same completions."""
    return generate_choices(model, tokenizer, conversation(prompt), assistant_prefix=answer_so_far,
                            n=n, max_tokens=max_tokens, seed=seed, **check_knobs(knobs))["choices"]


def explore(model, tokenizer, prompt: str, answer_so_far: str = "", temperature: float = 1.0,
            top_p: float = 1.0, top_k: int = 0, frequency_penalty: float = 0.0,
            presence_penalty: float = 0.0, repetition_penalty: float = 1.0, n: int = 3,
            max_tokens: int = 30, show_top: int = 12, seed: int | None = 0,
            min_p: float = 0.0) -> ExplorerView:
    """Everything the panel shows for one setting of the sliders: the next-token distribution
    after ``prompt`` (and ``answer_so_far``) before and after the processors, as a table and a
    figure, the cumulative mass top-p sees, and ``n`` completions of the answer so far sampled
    with the same settings (none when ``n`` is 0)."""
    knobs = {"temperature": temperature, "top_p": top_p, "top_k": top_k, "min_p": min_p,
             "frequency_penalty": frequency_penalty, "presence_penalty": presence_penalty,
             "repetition_penalty": repetition_penalty}
    ids, prompt_length, logits = next_logits(model, tokenizer, prompt, answer_so_far)
    before, after = distributions(ids, prompt_length, logits, **knobs)
    nucleus_input = distributions(ids, prompt_length, logits, **{**knobs, "top_p": 1.0, "min_p": 0.0})[1]
    table = token_table(tokenizer, before, after, show_top)
    label = settings_label(**knobs)
    completions = []
    if n > 0:
        completions = sample_completions(model, tokenizer, prompt, answer_so_far, n, max_tokens, seed,
                                         **knobs)
    return ExplorerView(table, plot_before_after(table, label), completions, int((after > 0).sum()),
                        label, cumulative_mass(nucleus_input, top_p))


def step(model, tokenizer, prompt: str, answer_so_far: str = "", token_id: int | None = None,
         rank: int | None = None, seed: int | None = None, show_top: int = 12, **knobs) -> StepView:
    """Generate one token by hand: take ``token_id``, or the token at ``rank`` under the settings
    (1 = the most likely after the processors), or, with neither, sample one (from ``seed``). Returns
    the answer with it appended and the distribution of the token after it.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> first = step(model, tokenizer, "Name a fruit.", rank=1)
        >>> second = step(model, tokenizer, "Name a fruit.", first.answer_so_far, rank=1)
        >>> first.token, second.answer_so_far  # the most likely token, twice
        ("'The'", 'The fruit')
    """
    if token_id is not None and rank is not None:
        raise ValueError("step takes token_id or rank (or neither, to sample), not both.")
    ids, prompt_length, logits = next_logits(model, tokenizer, prompt, answer_so_far)
    _, after = distributions(ids, prompt_length, logits, **knobs)
    if rank is not None:
        token_id = int(ranks(after).argsort()[check_int(rank, "rank", 1, len(after)) - 1])
    elif token_id is None:
        with seeded(seed, after.device):
            token_id = int(torch.multinomial(after, 1))
    token_id = check_int(token_id, "token_id", 0, len(after) - 1)
    answer_ids = tokenizer(answer_so_far, add_special_tokens=False)["input_ids"] if answer_so_far else []
    finished = token_id in eos_ids(model, tokenizer)
    answer = answer_so_far if finished else tokenizer.decode(answer_ids + [token_id])
    if not finished:
        ids, prompt_length, logits = next_logits(model, tokenizer, prompt, answer)
    before_next, after_next = distributions(ids, prompt_length, logits, **knobs) if not finished else (
        logits.softmax(-1)[0], after)
    return StepView(answer, token_id, repr(tokenizer.decode([token_id])), float(after[token_id]), finished,
                    token_table(tokenizer, before_next, after_next, show_top), int((after_next > 0).sum()))


def compare(model, tokenizer, settings_a: dict, settings_b: dict, prompt: str, answer_so_far: str = "",
            n: int = 0, max_tokens: int = 30, seed: int | None = 0, show_top: int = 12) -> Comparison:
    """Two settings (dicts of ``KNOBS``; missing ones at their defaults) on the same prompt: the
    next-token probabilities under each (the union of both top ``show_top``, sorted by the model's
    own probability), a figure with one panel per setting, and ``n`` samples each from the same seed.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> pair = compare(model, tokenizer, {"temperature": 0.5}, {"top_k": 3}, "Name a fruit.")
        >>> pair.kept_tokens[1], list(pair.table.columns)
        (3, ['token', 'token_id', 'before', 'a', 'b'])
    """
    settings_a, settings_b = check_knobs(settings_a), check_knobs(settings_b)
    ids, prompt_length, logits = next_logits(model, tokenizer, prompt, answer_so_far)
    before, after_a = distributions(ids, prompt_length, logits, **settings_a)
    after_b = distributions(ids, prompt_length, logits, **settings_b)[1]
    top = min(show_top, len(before))
    tops = [ranks(after, tie_break=before).topk(top, largest=False).indices for after in (after_a, after_b)]
    shown = torch.unique(torch.cat([before.topk(top).indices, *tops]))
    shown = shown[before[shown].argsort(descending=True)]
    table = pd.DataFrame({"token": [repr(tokenizer.decode([int(i)])) for i in shown],
                          "token_id": shown.tolist(), "before": before[shown].tolist(),
                          "a": after_a[shown].tolist(), "b": after_b[shown].tolist()})
    labels = (settings_label(**settings_a), settings_label(**settings_b))
    samples = ([], [])
    if n > 0:
        samples = tuple(sample_completions(model, tokenizer, prompt, answer_so_far, n, max_tokens, seed,
                                           **settings) for settings in (settings_a, settings_b))
    kept = (int((after_a > 0).sum()), int((after_b > 0).sum()))
    return Comparison(table, plot_compare(table, labels, kept), labels, kept, samples)


def plot_compare(table: pd.DataFrame, labels: tuple[str, str], kept: tuple[int, int]) -> plt.Figure:
    """Two bar panels side by side, one per setting, over the same tokens (a new figure); the
    model's own probability is the light bar behind."""
    names = [short_token(token) for token in table["token"]]
    figure, axes = plt.subplots(1, 2, sharey=True, sharex=True, layout="constrained",
                                figsize=(FIGURE_WIDTH, 1.9 + 0.27 * len(table)))
    for ax, column, label, count in zip(axes, ("a", "b"), labels, kept, strict=True):
        ax.barh(names, table["before"], color="lightgrey", label="model (before)")
        ax.barh(names, table[column], height=0.5, color="C0", label="after the settings")
        ax.set_title(wrap_title(f"{column.upper()}: {label}", 32) + f"\n{count_text(count, 'token')} kept",
                     fontsize="medium")
        ax.set_xlabel("probability")
    axes[0].invert_yaxis()
    handles, legend_labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, legend_labels, loc="outside lower center", ncols=2, frameon=False)
    return figure
