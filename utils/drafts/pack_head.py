"""A draft picker that reads the whole pack in one pass: a head on a body, as notebook 00 teaches.

The likelihood picker (``prompts.candidate_scores``) asks the language model how likely each card's
name is as the answer: one pass over the prompt, then one continuation per card. This picker runs
the pick prompt once (the ``"text"`` format: every pack card on its own line, as a player reads it)
and reads a score for each card from the model's last hidden state at the end of that card's line,
with one linear layer. A softmax over the pack's cards gives the pick; training lowers the
cross-entropy of the human's pick, with LoRA on the body and the small head trained in full.
In a causal model the end of a card's line has seen the pool, the earlier cards and the card's own
text, so the score can depend on all of them.

Example:
    >>> from utils.core.models import load_model
    >>> model, tokenizer = load_model()
    >>> info = {"Gull": {"colour": "U", "rarity": "rare", "mana_value": 2, "text": "{1}{U} Creature."},
    ...         "Eel": {"colour": "B", "rarity": "common", "mana_value": 1, "text": "{B} Creature."}}
    >>> record = {"pack_number": 1, "pick_number": 1, "pack": ["Gull", "Eel"], "pool": [], "pick": "Eel"}
    >>> ids, names, ends = encode_pick(tokenizer, record, info)
    >>> scores = PackHead(model)([(ids, ends)])
    >>> scores[0].tolist()  # the head starts at zero: every card scores the same
    [0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from utils.drafts import prompts as dp

HEAD_FILE = "pack_head.pt"  # the head's weights, saved beside the LoRA adapter


def line_end_positions(offsets: Sequence[tuple[int, int]],
                       spans: Sequence[tuple[int, int]]) -> list[int]:
    """For each character span, the index of the last token that ends inside it.

    Example:
        >>> line_end_positions([(0, 2), (2, 5), (5, 6), (6, 9)], [(0, 5), (6, 9)])
        [1, 3]
    """
    out = []
    for start, end in spans:
        inside = [i for i, (a, b) in enumerate(offsets) if start <= a < end and b <= end and b > a]
        if not inside:
            raise ValueError(f"no token ends inside characters {start}-{end}; "
                             "is the tokenizer a fast one?")
        out.append(inside[-1])
    return out


def encode_pick(tokenizer, record: Mapping,
                info: Mapping[str, Mapping]) -> tuple[list[int], list[str], list[int]]:
    """The pick prompt's token ids (text format, open assistant turn), the pack's distinct cards and
    the token index that ends each card's line.

    Example:
        >>> from transformers import AutoTokenizer
        >>> from utils.core.models import ensure_bundled_cache
        >>> tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))
        >>> info = {"Gull": {"colour": "U", "rarity": "rare", "mana_value": 2, "text": "{1}{U} Creature."},
        ...         "Eel": {"colour": "B", "rarity": "common", "mana_value": 1, "text": "{B} Creature."}}
        >>> record = {"pack_number": 1, "pick_number": 1, "pack": ["Gull", "Eel"], "pool": []}
        >>> ids, names, ends = encode_pick(tokenizer, record, info)
        >>> names, tokenizer.decode(ids[ends[0]])
        (['Gull', 'Eel'], ']')
    """
    messages = dp.pick_messages(record, "text", info)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    names = list(dict.fromkeys(record["pack"]))
    spans, cursor = [], text.index("The pack (")
    for name in names:
        line = dp.render_card(name, "text", info, record["pool"])
        start = text.index(line, cursor)
        spans.append((start, start + len(line)))
        cursor = start + len(line)
    return encoded["input_ids"], names, line_end_positions(encoded["offset_mapping"], spans)


class PackHead(nn.Module):
    """A score per pack card from a causal language model's body: a linear layer on the last hidden
    state at the end of each card's line. ``model`` may be a PEFT model (LoRA on the body)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        hidden = model.config.hidden_size
        self.head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.head.weight)  # starts neutral: every card scores the same
        nn.init.zeros_(self.head.bias)

    def body(self):
        """The transformer without its language-model head (no vocabulary-sized output to pay for)."""
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        return base.model

    def forward(self, batch: list[tuple[list[int], list[int]]]) -> list[torch.Tensor]:
        """Scores for a batch of encoded picks (``(ids, line ends)`` pairs), one tensor per pick."""
        device = self.head.weight.device
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.zeros((len(batch), width), dtype=torch.long, device=device)
        mask = torch.zeros((len(batch), width), dtype=torch.long, device=device)
        for row, (ids, _) in enumerate(batch):  # right padding: causal rows never see it
            input_ids[row, :len(ids)] = torch.tensor(ids, device=device)
            mask[row, :len(ids)] = 1
        hidden = self.body()(input_ids=input_ids, attention_mask=mask).last_hidden_state
        with torch.autocast(device_type=hidden.device.type, enabled=False):  # scores in float32
            return [self.head(hidden[row, ends].float()).squeeze(-1) for row, (_, ends) in enumerate(batch)]


def pick_loss(scores: Sequence[torch.Tensor], targets: Sequence[int]) -> torch.Tensor:
    """Mean cross-entropy of each pick's target card among its pack's scores.

    Example:
        >>> round(pick_loss([torch.zeros(4)], [2]).item(), 4)  # four equal scores: ln 4
        1.3863
    """
    losses = [-torch.log_softmax(s, dim=0)[t] for s, t in zip(scores, targets, strict=True)]
    return torch.stack(losses).mean()


@torch.no_grad()
def head_ranking(picker: PackHead, tokenizer, record: Mapping, info: Mapping[str, Mapping]) -> list[str]:
    """The pack's distinct cards, best first, by the head's scores (ties keep pack order)."""
    ids, names, ends = encode_pick(tokenizer, record, info)
    scores = picker([(ids, ends)])[0]
    order = sorted(range(len(names)), key=lambda i: -float(scores[i]))
    return [names[i] for i in order]


def save_picker(picker: PackHead, folder: str | Path) -> Path:
    """Save the LoRA adapter (``save_pretrained``) and the head (``HEAD_FILE``) into ``folder``."""
    folder = Path(folder)
    picker.model.save_pretrained(folder)
    torch.save(picker.head.state_dict(), folder / HEAD_FILE)
    return folder


def load_picker(model, folder: str | Path) -> PackHead:
    """A ``PackHead`` on ``model`` with the LoRA adapter and head saved by ``save_picker``."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / HEAD_FILE).exists():
        raise FileNotFoundError(f"{folder} has no {HEAD_FILE}; save the picker with "
                                "save_picker(picker, folder).")
    picker = PackHead(PeftModel.from_pretrained(model, folder))
    picker.head.load_state_dict(torch.load(folder / HEAD_FILE, map_location="cpu", weights_only=True))
    return picker.eval()
