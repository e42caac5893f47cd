"""Model modes: run a model for inference inside a block and get its training state back afterwards.

Scoring and generation helpers need the model in eval mode (no dropout), no gradients, the
course's precision (bf16 autocast where the chip has it, ``utils.core.runtime.precision``) and
often a tokenizer that pads on the left (so every prompt ends where generation starts).
``eval_mode`` sets all of these for a ``with`` block and restores what the caller had, even when
the block raises.

Example:
    >>> import torch
    >>> from utils.core.model_modes import eval_mode
    >>> layer = torch.nn.Dropout(0.5).train()
    >>> with eval_mode(layer):
    ...     layer.training, torch.is_grad_enabled()
    (False, False)
    >>> layer.training
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from utils.core import runtime


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module, tokenizer=None, padding_side: str = "left",
              autocast: bool = True) -> Iterator[None]:
    """Within the block: ``model`` in eval mode under ``torch.no_grad()`` (and, with ``autocast``,
    the course's autocast precision), and ``tokenizer`` (when given) padding on ``padding_side``.
    On exit, even on error, the train/eval mode of every submodule and the tokenizer's padding side
    are what they were before. Pass ``autocast=False`` for float32 checks to 1e-5.

    Example:
        >>> class Tokenizer:
        ...     padding_side = "right"
        >>> tokenizer, model = Tokenizer(), torch.nn.Linear(2, 2).train()
        >>> with eval_mode(model, tokenizer):
        ...     model.training, tokenizer.padding_side
        (False, 'left')
        >>> model.training, tokenizer.padding_side
        (True, 'right')
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
    modes = [(module, module.training) for module in model.modules()]
    side = tokenizer.padding_side if tokenizer is not None else None
    model.eval()
    try:
        if tokenizer is not None:
            tokenizer.padding_side = padding_side
        with torch.no_grad(), _precision(model, autocast):
            yield
    finally:
        for module, training in modes:
            module.training = training
        if tokenizer is not None:
            tokenizer.padding_side = side


def _precision(model: torch.nn.Module, enabled: bool):
    parameter = next(model.parameters(), None)
    if not enabled or parameter is None:
        return contextlib.nullcontext()
    return runtime.autocast(parameter.device)
