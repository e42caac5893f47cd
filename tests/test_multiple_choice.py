"""utils.evaluation.multiple_choice: the course's four-option set, its prompts and
 the two log-likelihood scorers."""

from collections import Counter

import pytest
import torch

from tests.tiny_models import tiny_llama
from utils.evaluation import multiple_choice as mc

pytestmark = pytest.mark.usefixtures("float32")  # batched scores are checked against single passes to 1e-5


@pytest.fixture(scope="module")
def tiny(tokenizer):
    model = tiny_llama(tokenizer, hidden_size=32, intermediate_size=64, layers=2, heads=4, kv_heads=2)
    return model, tokenizer


def test_questions_are_well_formed_distinct_and_reproducible():
    questions = mc.make_questions(200, seed=3)
    assert questions == mc.make_questions(200, seed=3)
    assert len({q["question"] for q in questions}) == 200
    for q in questions:
        assert len(q["options"]) == 4 and len(set(q["options"])) == 4
        assert q["category"] in mc.CATEGORIES and 0 <= q["answer"] < 4
    right = {q["question"]: q["options"][q["answer"]] for q in questions}
    assert right.get("What is the capital of France?", "Paris") == "Paris"
    sums = [q for q in questions if q["category"] == "sum"]
    for q in sums:
        a, b = (int(x) for x in q["question"][len("What is "):-1].split(" + "))
        assert q["options"][q["answer"]] == str(a + b)
    # the right answer's position is spread over A-D, so a letter-biased model cannot score well
    positions = Counter(q["answer"] for q in questions)
    assert min(positions.values()) >= 30


def test_excluded_questions_never_come_back():
    shots = mc.make_questions(5, seed=1)
    test = mc.make_questions(100, seed=2, exclude={q["question"] for q in shots})
    assert not {q["question"] for q in shots} & {q["question"] for q in test}


def test_prompts_follow_the_benchmark_layouts():
    question = {"question": "What is the capital of Peru?", "options": ["Lima", "Oslo", "Rome", "Cairo"],
                "answer": 0, "category": "capital"}
    shot = {"question": "What is 2 + 3?", "options": ["4", "5", "6", "15"], "answer": 1, "category": "sum"}
    assert mc.letter_prompt(question, [shot]) == (
        "Question: What is 2 + 3?\nA. 4\nB. 5\nC. 6\nD. 15\nAnswer: B\n\n"
        "Question: What is the capital of Peru?\nA. Lima\nB. Oslo\nC. Rome\nD. Cairo\nAnswer:")
    assert mc.cloze_prompt(question, [shot]) == (
        "Question: What is 2 + 3?\nAnswer: 5\n\nQuestion: What is the capital of Peru?\nAnswer:")


def test_choice_probabilities_match_a_full_softmax(tiny):
    model, tokenizer = tiny
    texts = ["Question: x\nAnswer:", "A longer prompt, so the batch needs left padding.\nAnswer:"]
    side = tokenizer.padding_side
    probs, mass = mc.choice_probabilities(model, tokenizer, texts, [" A", " B", " C", " D"])
    assert probs.shape == (2, 4)
    assert probs.sum(dim=1) == pytest.approx(torch.ones(2), abs=1e-5)
    ids = [tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in (" A", " B", " C", " D")]
    for row, text in enumerate(texts):  # each prompt alone, no padding, gives the same numbers
        with torch.no_grad():
            logits = model(**tokenizer(text, return_tensors="pt")).logits[0, -1].float()
        alone = torch.softmax(logits, -1)[ids]
        assert mass[row] == pytest.approx(float(alone.sum()), rel=1e-4)
        assert probs[row] == pytest.approx(alone / alone.sum(), abs=1e-5)
    assert tokenizer.padding_side == side  # left padding was only borrowed


def test_continuation_scores_equal_separate_forward_passes(tiny):
    model, tokenizer = tiny
    context = "Question: What is the capital of Argentina?\nAnswer:"
    options = [" Buenos Aires", " Lima", " New Delhi"]  # different token lengths: padding must not matter
    scores, lengths = mc.continuation_log_likelihoods(model, tokenizer, context, options)
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    for option, score, length in zip(options, scores, lengths, strict=True):
        option_ids = tokenizer(option, add_special_tokens=False)["input_ids"]
        assert length == len(option_ids)
        with torch.no_grad():
            logits = model(torch.tensor([context_ids + option_ids])).logits[0].float()
        log_probs = torch.log_softmax(logits, -1)
        expected = sum(float(log_probs[len(context_ids) - 1 + i, t]) for i, t in enumerate(option_ids))
        assert score == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, t: mc.make_questions(-1), "n must be at least 0, got -1"),
        (lambda m, t: mc.make_question(__import__("random").Random(0), "history"), "category must be one of"),
        (lambda m, t: mc.letter_prompt({"question": "q", "options": ["a", "b"], "answer": 0}, []),
         "has 2 options"),
        (lambda m, t: mc.letter_prompt({"question": "q"}, []), r"lacks field\(s\) \['options', 'answer'\]"),
        (lambda m, t: mc.choice_probabilities(m, t, ["x"], [" Paris is"]), "needs one token per choice"),
        (lambda m, t: mc.choice_probabilities(m, t, [], [" A"]), "texts is empty"),
        (lambda m, t: mc.continuation_log_likelihoods(m, t, "x", []), "continuations is empty"),
        (lambda m, t: mc.continuation_log_likelihoods(m, t, "", [" a"]), "context is empty"),
        (lambda m, t: mc.continuation_log_likelihoods(m, t, "x", [""]), "has no tokens"),
    ],
)
def test_bad_input_raises_a_clear_error(tiny, call, message):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match=message):
        call(model, tokenizer)


def test_cloze_correct_batches_agree_with_one_question_at_a_time(tiny):
    model, tokenizer = tiny
    questions = mc.make_questions(6, seed=7)
    expected = []
    for question in questions:
        scores, _ = mc.continuation_log_likelihoods(model, tokenizer, mc.cloze_prompt(question, ()),
                                                    [" " + option for option in question["options"]])
        expected.append(max(range(4), key=scores.__getitem__) == question["answer"])
    assert mc.cloze_correct(model, tokenizer, questions, batch_size=5) == expected  # batches cut questions
