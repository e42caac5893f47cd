"""The course's pretraining corpus: short animal stories generated from templates and word lists.

The stories are written by this module from a fixed seed, so the corpus is offline, small and
identical on every machine. Their structure is regular enough that a model of a few million
parameters learns it in minutes on a CPU, which is what notebook 01 needs to show a loss that
falls and generations that turn from noise into story-like text. The module also holds a short
English/Korean parallel sentence list (written for the course) for counting what tokens cost.

Example:
    >>> from utils.course_data import corpus
    >>> stories = corpus.generate_stories(3, seed=0)
    >>> stories[0].endswith("The end.")
    True
    >>> train, valid = corpus.load_corpus()   # the shipped files under data/corpus/
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from utils.core.checks import check_positive_int
from utils.core.jsonl import read_jsonl, write_atomic, write_jsonl
from utils.core.runtime import REPO_ROOT

CORPUS_DIR = REPO_ROOT / "data" / "corpus"
TRAIN_FILE, VALID_FILE, PARALLEL_FILE = "stories_train.txt", "stories_valid.txt", "en_ko_sentences.jsonl"
SEED, N_TRAIN, N_VALID = 1234, 500, 40  # the shipped corpus; change them and rerun write_corpus()

# Word lists. Names carry their pronouns so the stories agree in gender.
NAMES = [("Tom", "he", "his"), ("Max", "he", "his"), ("Leo", "he", "his"), ("Sam", "he", "his"),
         ("Ben", "he", "his"), ("Finn", "he", "his"), ("Oscar", "he", "his"), ("Jack", "he", "his"),
         ("Lily", "she", "her"), ("Mia", "she", "her"), ("Anna", "she", "her"), ("Rosa", "she", "her"),
         ("Lucy", "she", "her"), ("Ella", "she", "her"), ("Nora", "she", "her"), ("Ruby", "she", "her")]
ANIMALS = ["cat", "dog", "rabbit", "fox", "bear", "mouse", "duck", "frog", "owl", "pig", "horse",
           "bird", "turtle", "squirrel", "goat", "lamb"]
SIZES = ["little", "small", "big", "young", "old", "tiny"]
TRAITS = ["brave", "kind", "shy", "curious", "happy", "clever", "sleepy", "funny", "gentle", "busy"]
HOMES = ["in a small house near the river", "in a hole under an old tree", "on a farm by the hill",
         "in a quiet forest", "near a big lake", "in a garden full of flowers",
         "at the edge of a green field", "in a warm barn"]
ACTIVITIES = ["play in the grass", "look at the clouds", "eat sweet apples", "sing little songs",
              "run in the sun", "read old books", "swim in the pond", "dig in the sand",
              "pick red berries", "build small towers"]
TIMES = ["morning", "evening", "afternoon", "day", "night"]
ADJECTIVES = ["shiny", "red", "blue", "strange", "soft", "golden", "heavy", "broken", "round", "green"]
OBJECTS = ["ball", "box", "key", "hat", "stone", "map", "kite", "cup", "shell", "bell"]
PLACES = ["under a bush", "by the river", "behind the barn", "on the path", "in the tall grass",
          "near the old well", "under the bridge", "at the top of the hill"]
EXCLAMATIONS = ["Look at this", "Wow", "What is this", "How pretty", "Oh my", "I found something"]
TOGETHER = ["played with the {obj} until the sun went down", "took the {obj} home and showed it to everyone",
            "looked for the owner of the {obj}", "put the {obj} in a safe place",
            "shared the {obj} with all their friends", "made up a new game with the {obj}"]
FEELINGS = [("happy", "smiled"), ("proud", "laughed"), ("tired", "yawned"), ("glad", "smiled"),
            ("calm", "sighed"), ("excited", "jumped")]
REACTIONS = ["smiled", "laughed", "nodded"]
LESSONS = ["It is more fun to share.", "A good friend is a great gift.",
           "Small things can bring big joy.", "It is good to be curious.",
           "Helping others feels good.", "Every day can bring something new."]

OPENINGS = ["Once upon a time, there was a {size} {animal} named {name}.",
            "There once was a {trait} {animal} called {name}.",
            "{name} was a {size} {animal} who was very {trait}."]
FIND_LINES = ["One day, {name} found a {adj} {obj} {place}.",
              "One {time}, {name} saw a {adj} {obj} {place}.",
              "One day, while walking {place}, {name} found a {adj} {obj}."]


def generate_story(rng: random.Random) -> str:
    """One story, drawn with ``rng``: a fixed plot (a find, a friend, an ending) in varied words.

    Example:
        >>> generate_story(random.Random(0)).endswith("The end.")
        True
    """
    name, he, his = rng.choice(NAMES)
    friend, friend_he, _ = rng.choice([n for n in NAMES if n[0] != name])
    animal, friend_animal = rng.sample(ANIMALS, 2)
    obj, adj, feeling = rng.choice(OBJECTS), rng.choice(ADJECTIVES), rng.choice(FEELINGS)
    words = dict(name=name, animal=animal, size=rng.choice(SIZES), trait=rng.choice(TRAITS),
                 adj=adj, obj=obj, place=rng.choice(PLACES), time=rng.choice(TIMES))
    sentences = [
        rng.choice(OPENINGS).format(**words),
        f"{he.capitalize()} lived {rng.choice(HOMES)}.",
        f"Every {words['time']}, {name} liked to {rng.choice(ACTIVITIES)}.",
        rng.choice(FIND_LINES).format(**words),
        f'"{rng.choice(EXCLAMATIONS)}!" said {name}.',
        f"{he.capitalize()} ran to {friend}, {his} friend the {friend_animal}.",
        f'"Can we keep it?" asked {friend}. "Yes," said {name}, "let us take care of it."',
        f"Together, {name} and {friend} {rng.choice(TOGETHER).format(obj=obj)}.",
        f"At the end of the day, {name} felt {feeling[0]} and {feeling[1]}.",
        f"{rng.choice(LESSONS)} The end.",
    ]
    if rng.random() < 0.5:  # an optional middle sentence so not every story has the same length
        reaction = rng.choice(REACTIONS)
        sentences.insert(6, f"{friend} looked at the {obj} and {friend_he} {reaction}.")
    return " ".join(sentences)


def generate_stories(n: int, seed: int = SEED) -> list[str]:
    """``n`` stories from ``seed``; the same arguments always give the same stories.

    Example:
        >>> generate_stories(2, seed=1) == generate_stories(2, seed=1)
        True
    """
    check_positive_int(n, "n")
    rng = random.Random(seed)
    return [generate_story(rng) for _ in range(n)]


# Written for the course: everyday sentences and their Korean translations, for token counting.
PARALLEL_SENTENCES = [
    ("The weather is nice today.", "오늘은 날씨가 좋습니다."),
    ("Where is the nearest train station?", "가장 가까운 기차역이 어디에 있나요?"),
    ("I would like to order a cup of coffee.", "커피 한 잔 주문하고 싶어요."),
    ("Please send me the report by Friday.", "금요일까지 보고서를 보내 주세요."),
    ("Thank you very much for your help.", "도와주셔서 정말 감사합니다."),
    ("My sister is learning to play the piano.", "제 여동생은 피아노 치는 법을 배우고 있어요."),
    ("The meeting has been moved to three o'clock.", "회의가 세 시로 옮겨졌습니다."),
    ("Can you recommend a good restaurant near here?", "이 근처에 좋은 식당을 추천해 주실 수 있나요?"),
    ("I forgot my umbrella at home.", "우산을 집에 두고 왔어요."),
    ("The children are playing in the park.", "아이들이 공원에서 놀고 있어요."),
    ("How much does this book cost?", "이 책은 얼마예요?"),
    ("Fine-tuning adapts a pretrained model to a new task.",
     "미세 조정은 사전 학습된 모델을 새로운 작업에 맞게 조정합니다."),
]


def write_corpus(folder: Path = CORPUS_DIR, n_train: int = N_TRAIN, n_valid: int = N_VALID,
                 seed: int = SEED) -> dict[str, Path]:
    """Write the train and validation stories (one per line) and the parallel sentences.

    The validation stories come from the same generator after the training ones, so they are
    new stories from the same distribution (held out, not copies). Run
    ``python -m utils.course_data.corpus`` to rebuild the shipped files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stories = generate_stories(n_train + n_valid, seed=seed)
    paths = {"train": folder / TRAIN_FILE, "valid": folder / VALID_FILE, "parallel": folder / PARALLEL_FILE}
    write_atomic(paths["train"], (story + "\n" for story in stories[:n_train]))
    write_atomic(paths["valid"], (story + "\n" for story in stories[n_train:]))
    write_jsonl(({"english": en, "korean": ko} for en, ko in PARALLEL_SENTENCES), paths["parallel"])
    return paths


def load_corpus(folder: Path = CORPUS_DIR) -> tuple[list[str], list[str]]:
    """The shipped (train, valid) stories, one string per story.

    Example:
        >>> train, valid = load_corpus()
        >>> len(train) > len(valid) > 0
        True
    """
    folder = Path(folder)
    splits = []
    for name in (TRAIN_FILE, VALID_FILE):
        path = folder / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: rebuild the corpus with "
                                    "`python -m utils.course_data.corpus`")
        stories = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not stories:
            raise ValueError(f"{path} holds no stories: rebuild it with `python -m utils.course_data.corpus`")
        splits.append(stories)
    return splits[0], splits[1]


def load_parallel_sentences(folder: Path = CORPUS_DIR) -> list[dict[str, str]]:
    """The English/Korean pairs as ``[{"english": ..., "korean": ...}, ...]``."""
    path = Path(folder) / PARALLEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: rebuild the corpus with "
                                    "`python -m utils.course_data.corpus`")
    pairs = read_jsonl(path)
    for number, record in enumerate(pairs, 1):
        if set(record) != {"english", "korean"}:
            raise ValueError(f"{path} record {number}: expected keys english and korean, got "
                             f"{sorted(record)}; rebuild it with `python -m utils.course_data.corpus`")
    return pairs


WORD = re.compile(r"[A-Za-z]+")


def corpus_vocabulary(stories: list[str]) -> set[str]:
    """Every word (letters only, lower-cased) that occurs in ``stories``."""
    return {word.lower() for story in stories for word in WORD.findall(story)}


def known_word_share(text: str, vocabulary: set[str]) -> float:
    """Share of the words in ``text`` that are words of the corpus: near 0 for noise, near 1 for
    corpus-like text. A text with no words at all scores 0.

    Example:
        >>> known_word_share("the cat zzqx", {"the", "cat"})
        0.6666666666666666
    """
    if not vocabulary:
        raise ValueError("vocabulary is empty: build it with corpus_vocabulary(stories)")
    words = [word.lower() for word in WORD.findall(text)]
    if not words:
        return 0.0
    return sum(word in vocabulary for word in words) / len(words)


def corpus_word_pairs(stories: list[str]) -> set[tuple[str, str]]:
    """Every pair of neighbouring words (lower-cased, punctuation ignored) in ``stories``."""
    pairs = set()
    for story in stories:
        words = [word.lower() for word in WORD.findall(story)]
        pairs.update(zip(words[:-1], words[1:], strict=True))
    return pairs


def known_pair_share(text: str, pairs: set[tuple[str, str]]) -> float:
    """Share of the neighbouring-word pairs in ``text`` that also occur in the corpus: stricter
    than ``known_word_share``, since random words seldom stand where the corpus puts them. A text
    with fewer than two words scores 0.

    Example:
        >>> known_pair_share("the cat sat", {("the", "cat")})
        0.5
    """
    if not pairs:
        raise ValueError("pairs is empty: build it with corpus_word_pairs(stories)")
    words = [word.lower() for word in WORD.findall(text)]
    if len(words) < 2:
        return 0.0
    return sum(pair in pairs for pair in zip(words[:-1], words[1:], strict=True)) / (len(words) - 1)


if __name__ == "__main__":
    for split, path in write_corpus().items():
        print(f"{split}: {path.relative_to(REPO_ROOT)} ({path.stat().st_size / 1024:.0f} KB)")
