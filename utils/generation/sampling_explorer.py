"""The sampling explorer: sliders for every sampling knob, the next-token distribution before and
after the logits processors, and n sampled completions.

The logic is one plain function, ``explore``, which a test (or a notebook cell) calls with the
values the sliders hold; ``explorer_panel`` is the thin ipywidgets layer that calls it.

Example:
    >>> from utils.core.models import load_model
    >>> from utils.generation.sampling_explorer import explore, explorer_panel
    >>> model, tokenizer = load_model()
    >>> view = explore(model, tokenizer, "Name a fruit.", temperature=0.7, top_k=5, n=2, max_tokens=5)
    >>> list(view.table.columns)  # each shown token's probability before and after the processors
    ['token', 'token_id', 'before', 'after']
    >>> view.table["token"][0], view.kept_tokens, len(view.completions)  # top-k 5 keeps 5 tokens
    ("'The'", 5, 2)
    >>> explorer_panel(model, tokenizer)  # a notebook shows the sliders; plain text shows this
    Sampling explorer: run the notebook to use the sliders.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from utils.generation.sampling import FrequencyPresencePenalty, check_messages, generate_choices

SLIDERS = {  # name: (min, max, step, default): the ranges the panel offers
    "temperature": (0.0, 2.0, 0.05, 1.0),
    "top_p": (0.05, 1.0, 0.05, 1.0),
    "top_k": (0, 100, 1, 0),
    "frequency_penalty": (-2.0, 2.0, 0.1, 0.0),
    "presence_penalty": (-2.0, 2.0, 0.1, 0.0),
    "repetition_penalty": (0.5, 2.0, 0.05, 1.0),
    "n": (1, 8, 1, 3),
    "max_tokens": (1, 80, 1, 30),
}


@dataclass
class ExplorerView:
    """What one call of ``explore`` produced: the table, the figure and the completions."""

    table: pd.DataFrame  # one row per shown token: token, before, after (probabilities)
    figure: plt.Figure
    completions: list[dict]  # the choices of generate_choices (text, finish_reason, token_ids)
    kept_tokens: int  # how many vocabulary entries keep a non-zero probability after the processors

    def completions_text(self) -> str:
        lines = []
        for choice in self.completions:
            text = choice["message"]["content"].replace("\n", " ")
            lines.append(f"[{choice['index']}] ({choice['finish_reason']}) {text}")
        return "\n".join(lines)


def build_processors(prompt_length: int, temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0,
                     frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                     repetition_penalty: float = 1.0) -> LogitsProcessorList:
    """The processors ``generate`` would apply, in its order: penalties, then temperature, top-k,
    top-p. Temperature 0 (greedy) keeps only the most likely token."""
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


def explore(model, tokenizer, prompt: str, answer_so_far: str = "", temperature: float = 1.0,
            top_p: float = 1.0, top_k: int = 0, frequency_penalty: float = 0.0,
            presence_penalty: float = 0.0, repetition_penalty: float = 1.0, n: int = 3,
            max_tokens: int = 30, show_top: int = 12, seed: int | None = 0) -> ExplorerView:
    """Everything the panel shows for one setting of the sliders: the next-token distribution
    after ``prompt`` (and ``answer_so_far``) before and after the processors, as a table and a
    figure, and ``n`` completions of the answer so far sampled with the same settings (none
    when ``n`` is 0)."""
    ids, prompt_length = encode(tokenizer, prompt, answer_so_far)
    ids = ids.to(model.device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, -1, :].float()
    processors = build_processors(prompt_length, temperature, top_p, top_k, frequency_penalty,
                                  presence_penalty, repetition_penalty)
    before = logits.softmax(-1)[0]
    after = processors(ids, logits.clone()).softmax(-1)[0]
    shown = torch.unique(torch.cat([before.topk(show_top).indices, after.topk(show_top).indices]))
    shown = shown[before[shown].argsort(descending=True)][:show_top]
    table = pd.DataFrame({"token": [repr(tokenizer.decode([int(i)])) for i in shown],
                          "token_id": shown.tolist(), "before": before[shown].tolist(),
                          "after": after[shown].tolist()})
    figure = plot_before_after(table, settings_label(temperature, top_p, top_k, frequency_penalty,
                                                     presence_penalty, repetition_penalty))
    completions = []
    if n > 0:
        completions = generate_choices(
            model, tokenizer, conversation(prompt), assistant_prefix=answer_so_far, n=n,
            temperature=temperature, top_p=top_p, top_k=top_k,
            frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
            repetition_penalty=repetition_penalty, max_tokens=max_tokens, seed=seed)["choices"]
    return ExplorerView(table, figure, completions, int((after > 0).sum()))


def settings_label(temperature, top_p, top_k, frequency_penalty, presence_penalty,
                   repetition_penalty) -> str:
    parts = [f"T={temperature:g}", f"top-p={top_p:g}", f"top-k={top_k or 'off'}"]
    if frequency_penalty or presence_penalty:
        parts.append(f"freq={frequency_penalty:g}, pres={presence_penalty:g}")
    if repetition_penalty != 1.0:
        parts.append(f"rep={repetition_penalty:g}")
    return ", ".join(parts)


def plot_before_after(table: pd.DataFrame, label: str) -> plt.Figure:
    """Bars of each token's probability before and after the processors (a new figure)."""
    long = table.melt(id_vars="token", value_vars=["before", "after"], var_name="distribution",
                      value_name="probability")
    figure, ax = plt.subplots(figsize=(7, 4))
    sns.barplot(data=long, y="token", x="probability", hue="distribution", ax=ax)
    moved = (table["after"] - table["before"]).abs().max()
    ax.set(xlabel="probability of being the next token", ylabel="",
           title=f"{label}: probabilities move by up to {moved:.2f}")
    figure.tight_layout()
    return figure


def figure_png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def explorer_panel(model, tokenizer, prompt: str = "Name three fruits.", answer_so_far: str = "",
                   show_top: int = 12, **values):
    """The ipywidgets panel: a text box for the prompt and the answer so far, one slider per
    knob of ``SLIDERS`` (start values from ``values``), and an output area. Moving a slider
    redraws the distribution; the button samples n completions (slower on a CPU)."""
    import ipywidgets as widgets
    from IPython.display import Image

    unknown = set(values) - set(SLIDERS)
    if unknown:
        raise ValueError(f"unknown explorer settings {sorted(unknown)}; known: {sorted(SLIDERS)}.")
    controls = {"prompt": widgets.Text(value=prompt, description="prompt"),
                "answer_so_far": widgets.Text(value=answer_so_far, description="answer so far")}
    for name, (low, high, step, default) in SLIDERS.items():
        kind = widgets.IntSlider if isinstance(step, int) else widgets.FloatSlider
        controls[name] = kind(value=values.get(name, default), min=low, max=high, step=step,
                              description=name.replace("_", " "), continuous_update=False,
                              style={"description_width": "initial"})
    button = widgets.Button(description="sample n completions")
    plot_area, text_area = widgets.Output(), widgets.Output()

    def settings(sample: bool) -> dict:
        chosen = {name: control.value for name, control in controls.items()}
        if not sample:
            chosen["n"] = 0
        return chosen

    def redraw(sample: bool = False) -> ExplorerView:
        view = explore(model, tokenizer, show_top=show_top, seed=None, **settings(sample))
        # write into the output areas directly (no `with output:` capture), which works the
        # same in JupyterLab, Colab and a test without a kernel
        plot_area.outputs = ()
        plot_area.append_display_data(Image(data=figure_png(view.figure)))
        plt.close(view.figure)
        text = f"{view.kept_tokens} tokens keep a non-zero probability.\n"
        if sample:
            text += view.completions_text() + "\n"
        text_area.outputs = ()
        text_area.append_stdout(text)
        return view

    for control in controls.values():
        control.observe(lambda _change: redraw(sample=False), names="value")
    button.on_click(lambda _button: redraw(sample=True))
    class ExplorerPanel(widgets.VBox):
        def __repr__(self) -> str:  # the text a reader without a kernel sees in its place
            return "Sampling explorer: run the notebook to use the sliders."

    panel = ExplorerPanel([widgets.HBox([controls["prompt"], controls["answer_so_far"]]),
                          widgets.HBox([widgets.VBox([controls[name] for name in SLIDERS]),
                                        plot_area]),
                          button, text_area])
    panel.redraw = redraw  # so a test, or a notebook cell, can trigger what the widgets do
    panel.controls = controls
    redraw(sample=False)
    return panel
