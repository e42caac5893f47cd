"""Tests of utils.course_data.corpus: the generated stories, the shipped files and the word-share scores."""

from __future__ import annotations

import json
import random
import re

import pytest

from utils.course_data import corpus


def test_same_seed_gives_same_stories_and_other_seed_differs():
    assert corpus.generate_stories(5, seed=3) == corpus.generate_stories(5, seed=3)
    assert corpus.generate_stories(5, seed=3) != corpus.generate_stories(5, seed=4)


def test_stories_follow_the_plot_and_agree_in_gender():
    for story in corpus.generate_stories(200, seed=0):
        assert story.endswith("The end.")
        assert "\n" not in story  # one story per line in the shipped files
        hero = re.search(r"At the end of the day, (\w+) felt", story).group(1)
        he, his = {name: (he, his) for name, he, his in corpus.NAMES}[hero]
        assert f"{he.capitalize()} lived" in story, story
        assert f"{his} friend the" in story, story


def test_generate_story_uses_only_the_rng_it_is_given():
    random.seed(1)
    first = corpus.generate_story(random.Random(7))
    random.seed(2)
    assert corpus.generate_story(random.Random(7)) == first


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_story_count_is_refused_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="n must be (an integer|at least 1)"):
        corpus.generate_stories(bad)


def test_shipped_files_are_what_the_generator_writes(tmp_path):
    paths = corpus.write_corpus(tmp_path)
    for path in paths.values():
        shipped = corpus.CORPUS_DIR / path.name
        assert shipped.read_bytes() == path.read_bytes(), (
            f"data/corpus/{path.name} differs from the generator: run `python -m utils.course_data.corpus`")
    assert set(paths) == {"train", "valid", "parallel"}


def test_load_corpus_splits_are_disjoint_and_small():
    train, valid = corpus.load_corpus()
    assert (len(train), len(valid)) == (corpus.N_TRAIN, corpus.N_VALID)
    assert not set(train) & set(valid), "held-out stories must not repeat training stories"
    size = sum(p.stat().st_size for p in corpus.CORPUS_DIR.iterdir())
    assert size < 400 * 1024, "the shipped corpus should stay a few hundred KB"


def test_load_corpus_names_the_missing_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m utils.course_data.corpus"):
        corpus.load_corpus(tmp_path)
    (tmp_path / corpus.TRAIN_FILE).write_text("a story\n")
    (tmp_path / corpus.VALID_FILE).write_text("\n")
    with pytest.raises(ValueError, match=corpus.VALID_FILE):
        corpus.load_corpus(tmp_path)


def test_parallel_sentences_are_english_and_korean_pairs():
    pairs = corpus.load_parallel_sentences()
    assert len(pairs) == len(corpus.PARALLEL_SENTENCES) >= 10
    for pair in pairs:
        assert pair["english"].isascii()
        assert any("\uac00" <= ch <= "\ud7a3" for ch in pair["korean"]), pair  # Hangul syllables


def test_parallel_sentences_reject_a_wrong_field(tmp_path):
    (tmp_path / corpus.PARALLEL_FILE).write_text(json.dumps({"english": "Hi", "korea": "안녕"}) + "\n")
    with pytest.raises(ValueError, match="record 1: expected keys english and korean"):
        corpus.load_parallel_sentences(tmp_path)


def test_word_share_separates_corpus_text_from_noise():
    stories = corpus.generate_stories(50, seed=0)
    words = corpus.corpus_vocabulary(stories)
    assert corpus.known_word_share(stories[0], words) == 1.0
    assert corpus.known_word_share("qzx blorf the", words) == pytest.approx(1 / 3)
    assert corpus.known_word_share("!!! ...", words) == 0.0
    with pytest.raises(ValueError, match="vocabulary is empty"):
        corpus.known_word_share("the cat", set())


def test_pair_share_needs_words_in_corpus_order():
    stories = corpus.generate_stories(50, seed=0)
    pairs = corpus.corpus_word_pairs(stories)
    assert corpus.known_pair_share(stories[1], pairs) == 1.0
    shuffled = "end the said upon time river the a of"
    assert corpus.known_pair_share(shuffled, pairs) < 0.5
    assert corpus.known_pair_share("one", pairs) == 0.0
    with pytest.raises(ValueError, match="pairs is empty"):
        corpus.known_pair_share("the cat", set())
