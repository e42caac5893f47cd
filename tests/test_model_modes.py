"""utils.core.model_modes: eval_mode sets eval mode, no gradients and the padding side, and restores them."""

import pytest
import torch

from utils.core.model_modes import eval_mode


class Tokenizer:
    padding_side = "right"


def mixed_model() -> torch.nn.Module:
    """A model in train mode with one submodule left in eval mode (a frozen part)."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()
    model[1].eval()
    return model


def test_inside_the_block_eval_no_grad_and_left_padding():
    model, tokenizer = mixed_model(), Tokenizer()
    with eval_mode(model, tokenizer):
        assert not any(m.training for m in model.modules())
        assert not torch.is_grad_enabled()
        assert tokenizer.padding_side == "left"
        assert not model(torch.ones(1, 2)).requires_grad
    assert torch.is_grad_enabled()


def test_every_submodule_mode_and_the_padding_side_come_back_even_on_error():
    model, tokenizer = mixed_model(), Tokenizer()
    with pytest.raises(RuntimeError, match="boom"), eval_mode(model, tokenizer, padding_side="right"):
        tokenizer.padding_side = "left"  # whatever the block does to it
        raise RuntimeError("boom")
    assert [m.training for m in model.modules()] == [True, True, False]
    assert tokenizer.padding_side == "right" and torch.is_grad_enabled()


def test_without_a_tokenizer_and_with_a_model_already_in_eval_mode():
    model = torch.nn.Linear(2, 2).eval()
    with eval_mode(model):
        assert not model.training
    assert not model.training


def test_a_bad_padding_side_is_refused_before_anything_changes():
    model, tokenizer = mixed_model(), Tokenizer()
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        with eval_mode(model, tokenizer, padding_side="middle"):
            pass
    assert model.training and tokenizer.padding_side == "right"


def test_inference_runs_in_the_course_precision(monkeypatch):
    from utils.core import runtime

    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda flags=None: True)
    layer = torch.nn.Linear(4, 4)
    with eval_mode(layer):
        assert layer(torch.ones(1, 4)).dtype == torch.bfloat16
    with eval_mode(layer, autocast=False):
        assert layer(torch.ones(1, 4)).dtype == torch.float32
    assert layer(torch.ones(1, 4)).dtype == torch.float32 and layer.weight.dtype == torch.float32
