import pytest

from utils.course_data import sft_data, task_mix


@pytest.mark.parametrize("task", task_mix.TASKS)
def test_each_task_makes_valid_seeded_records_that_its_checker_accepts(task):
    records = task_mix.make_task_examples(task, 30, seed=4)
    sft_data.validate_records(records)
    assert records == task_mix.make_task_examples(task, 30, seed=4)
    for record in records:
        assert task_mix.task_of(record) == task
        assert task_mix.is_correct(task, record["messages"][-1]["content"], record)


def test_checkers_reject_wrong_answers_and_accept_other_layouts():
    order = task_mix.make_task_examples("order", 1, seed=0)[0]  # Hannah, 1 loaf
    assert task_mix.is_correct("order", 'Sure: {"name": "Hannah", "item": "loaf", "quantity": 1}', order)
    assert not task_mix.is_correct("order", '{"name": "Hannah", "item": "loaves", "quantity": 1}', order)
    sums = task_mix.make_task_examples("arithmetic", 1, seed=0)[0]  # 14 - 8 = 6
    assert task_mix.is_correct("arithmetic", "The answer is 6.", sums)
    assert not task_mix.is_correct("arithmetic", "14 - 8 = 5", sums)
    sort = task_mix.make_task_examples("sorting", 1, seed=0)[0]  # 2, 9, 14, 16
    assert task_mix.is_correct("sorting", "2 9 14 16", sort)
    assert not task_mix.is_correct("sorting", "16, 14, 9, 2", sort)


def test_bad_task_names_and_prompts_are_named():
    with pytest.raises(ValueError, match="unknown task 'poetry'"):
        task_mix.make_task_examples("poetry", 1)
    with pytest.raises(ValueError, match="unknown task"):
        task_mix.is_correct("poetry", "", {"messages": [{"role": "assistant", "content": "x"}]})
    with pytest.raises(ValueError, match="no task has the system prompt"):
        task_mix.task_of({"messages": [{"role": "user", "content": "Hi"}]})
    with pytest.raises(ValueError, match="n must be at least 0, got -1"):
        task_mix.make_task_examples("sorting", -1)


def test_task_accuracy_with_a_tiny_model(tokenizer):
    from tiny_models import tiny_llama

    records = task_mix.make_task_examples("sorting", 3, seed=1)
    model = tiny_llama(tokenizer)
    assert task_mix.task_accuracy(model, tokenizer, "sorting", records, max_new_tokens=2) == 0.0
    with pytest.raises(ValueError, match="at least one record"):
        task_mix.task_accuracy(None, tokenizer, "sorting", [])
