"""utils.training.verifiable_rewards: the reward functions, GRPO's group advantage and the splits."""

import pytest
import torch

from utils.course_data import preference_data as prefs
from utils.training import verifiable_rewards as vr


def chat(text):
    return [{"role": "assistant", "content": text}]


def test_rewards_take_chat_or_plain_completions_and_return_one_value_each():
    texts = ["7 + 5 = 12", "7 + 5 = 13", "Adding 7 and 5 gives 12.", " 12 - 7 = 5. ", "12"]
    assert vr.format_reward(texts) == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert vr.format_reward([chat(t) for t in texts]) == vr.format_reward(texts)
    assert vr.correctness_reward(texts, answer=[12, 12, 12, 5, 12]) == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert vr.correctness_reward([chat("no idea")], answer=[3], prompts=["ignored"]) == [0.0]


def test_correctness_reward_needs_one_answer_per_completion():
    with pytest.raises(ValueError):
        vr.correctness_reward(["1 + 1 = 2", "2"], answer=[2])


def test_group_advantages_match_trl_formula():
    from trl.trainer.utils import nanstd

    rewards = torch.tensor([1.5, 0.0, 1.0, 0.0, 2.0, 2.0, 2.0, 0.5])
    grouped = rewards.view(-1, 4)
    mean, std = grouped.mean(1).repeat_interleave(4), nanstd(grouped, dim=1).repeat_interleave(4)
    expected = (rewards - mean) / (std + 1e-4)  # trl/trainer/grpo_trainer.py, scale_rewards="group"
    assert vr.group_advantages(rewards.tolist(), 4) == pytest.approx(expected.tolist(), abs=1e-5)
    assert vr.group_advantages([1.0, 3.0], 2, scale=False) == [-1.0, 1.0]


def test_constant_rewards_give_zero_advantage():
    assert vr.group_advantages([0.7] * 8, 4) == [0.0] * 8


@pytest.mark.parametrize(("rewards", "size"), [([1.0, 2.0, 3.0], 2), ([1.0], 1)])
def test_group_advantages_reject_bad_groups(rewards, size):
    with pytest.raises(ValueError, match="group"):
        vr.group_advantages(rewards, size)


def test_held_out_problems_share_no_question_with_training_or_dpo_pairs():
    train, held_out = vr.rl_splits(50, 200)
    full_pool, same_held_out = vr.rl_splits(vr.TRAIN_POOL, 200)
    assert held_out == same_held_out and train == full_pool[:50]  # any n_train: the same held-out set
    dpo = prefs.make_problems(prefs.DEFAULT_TRAIN, prefs.DEFAULT_SEED)
    questions = {p["question"] for p in held_out}
    assert len(questions) == 200
    assert not questions & {p["question"] for p in full_pool + dpo}
    with pytest.raises(ValueError, match="n_train"):
        vr.rl_splits(vr.TRAIN_POOL + 1, 10)
