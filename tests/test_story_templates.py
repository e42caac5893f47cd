"""Tests of utils.course_data.story_templates: every generated sentence parses, shuffled ones seldom do."""

from __future__ import annotations

import random

import pytest

from utils.course_data import corpus, story_templates


def test_every_sentence_of_generated_and_shipped_stories_parses():
    train, valid = corpus.load_corpus()
    for story in corpus.generate_stories(300, seed=11) + train + valid:
        complete, unfinished = story_templates.split_sentences(story)
        assert unfinished == "" and len(complete) >= 12, story
        assert all(story_templates.parsed_sentences(story)), [
            s for s in complete if story_templates.sentence_template(s) is None]


def test_every_template_is_used_by_the_generator():
    used = {story_templates.sentence_template(sentence)
            for story in corpus.generate_stories(300, seed=2)
            for sentence in story_templates.split_sentences(story)[0]}
    assert used == set(story_templates.TEMPLATES)


def test_shuffled_words_seldom_parse():
    rng = random.Random(0)
    parsed, total = 0, 0
    for story in corpus.generate_stories(100, seed=3):
        for sentence in story_templates.split_sentences(story)[0]:
            words = sentence.split()
            rng.shuffle(words)
            parsed += story_templates.sentence_template(" ".join(words)) is not None
            total += 1
    assert parsed / total < 0.1  # only very short sentences ("The end.") survive a shuffle


@pytest.mark.parametrize("sentence", [
    "One day, Nora found a shiny river by the bell.",       # slots swapped
    "Every day, Nora liked to eat sweet apples",            # no full stop
    "Once upon a time, there was a tiny cat named Zed.",    # a name not in the corpus
    "She lived in a small house near the river. The end.",  # two sentences are not one
])
def test_near_misses_do_not_parse(sentence):
    assert story_templates.sentence_template(sentence) is None


def test_split_keeps_quotes_and_returns_the_unfinished_tail():
    text = ('"What is this!" said Nora. "Can we keep it?" asked Max. '
            '"Yes," said Nora, "let us take care of it." Tog')
    complete, unfinished = story_templates.split_sentences(text)
    assert complete == ['"What is this!" said Nora.', '"Can we keep it?" asked Max.',
                        '"Yes," said Nora, "let us take care of it."']
    assert unfinished == "Tog"
    assert story_templates.parsed_sentences(text) == [True, True, True]


def test_noise_without_a_sentence_counts_as_one_failure_and_bad_input_is_named():
    assert story_templates.parsed_sentences("gift lam lam Rosa") == [False]
    assert story_templates.parsed_sentences("") == [False]
    with pytest.raises(TypeError, match="sentence must be a str"):
        story_templates.sentence_template(None)
    with pytest.raises(TypeError, match="text must be a str"):
        story_templates.split_sentences(b"The end.")
