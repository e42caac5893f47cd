"""Notebook 07 (reinforcement learning from verifiable rewards), executed once in fast mode: hold it
to what its prose claims. The rising reward is asserted on the committed script results the notebook
loads (fast mode runs too few GRPO steps to show it robustly)."""

import json

import pytest

from utils.core.runtime import REPO_ROOT
from utils.course_data import preference_data as prefs
from utils.training import verifiable_rewards as vr

NOTEBOOK = REPO_ROOT / "notebooks" / "07_reinforcement_learning.ipynb"


def test_notebook_runs(notebook_runs):
    run = notebook_runs("07")
    assert run.result.ok, run.result.error


def test_hand_advantage_equals_trl(notebook_runs):
    results = notebook_runs("07").results
    assert results["rewards_match_trl"] is True  # our reward functions give TRL's logged rewards
    assert results["hand_groups"] >= 1
    assert results["advantage_abs_diff"] < 1e-4


def test_constant_reward_gives_zero_advantage_and_no_update(notebook_runs):
    results = notebook_runs("07").results
    assert results["constant_max_abs_advantage"] == 0.0
    assert results["constant_frac_zero_std"] == 1.0
    assert results["constant_grad_norm"] == 0.0
    assert results["constant_lora_b_sum"] == 0.0  # LoRA's B starts at zero and did not move


def test_silent_failures_show_what_trl_does(notebook_runs):
    results = notebook_runs("07").results
    assert results["wrong_count_raises"] is True  # TRL 1.16 checks the number of rewards
    assert results["plain_is_conversational"] is False


def test_reward_rises_over_grpo_training_in_the_script_results(notebook_runs):
    results = notebook_runs("07").results
    assert results["script_last_rewards"] > results["script_first_rewards"]


def test_script_grpo_beats_the_bundled_model_with_a_paired_interval(notebook_runs):
    script = notebook_runs("07").results["script"]
    assert script["GRPO, β = 0.0"]["pass1"] > script["bundled"]["pass1"]
    assert script["GRPO, β = 0.0"]["diff_low"] > 0  # the paired 95% interval excludes zero


def _notebook_functions():
    """The reward functions and the hand advantage as the notebook teaches them, executed here."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace = {"prefs": prefs}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("SHAPE = re.compile"):
            exec("import re\n" + source.split("\nexamples = ")[0], namespace)
        if cell["cell_type"] == "code" and source.startswith("def group_advantages"):
            exec("import statistics\n" + source.split("\nlogs = ")[0], namespace)
    return namespace


TEXTS = [["7 + 5 = 12", "7 + 5 = 13", "Adding 7 and 5 gives 12.", "12", " 9 - 2 = 7. "],
         ["The answer is 12", "12 = 7 + 5", "7+5=12", "-3", "7 + 5 = 12, or 13"]]


@pytest.mark.parametrize("texts", TEXTS)
def test_the_notebooks_reward_functions_agree_with_the_module(texts):
    taught = _notebook_functions()
    answers = [12, 12, 12, 12, 7]
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    assert taught["format_reward"](chat) == vr.format_reward(chat) == vr.format_reward(texts)
    assert taught["correctness_reward"](texts, answer=answers) == vr.correctness_reward(texts, answer=answers)
    rewards = [1.5, 0.0, 0.0, 0.5]
    assert taught["group_advantages"](rewards) == pytest.approx(vr.group_advantages(rewards, 4))
