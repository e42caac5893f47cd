"""Which sentences of a text follow the corpus's story templates: a parser built from the word lists
and sentence shapes of ``utils.course_data.corpus``.

Notebook 01 judges a model's samples by the share of their sentences that parse: a sentence parses
when it has the shape of one of the generator's sentences with every slot filled from that slot's
word list (a name where a name goes, an animal where an animal goes). Agreement between slots
(the pronoun of a name, a hero who stays the same) is not checked: the measure asks whether each
sentence is well formed in the corpus's grammar, not whether the story holds together.

Example:
    >>> from utils.course_data import story_templates
    >>> story_templates.sentence_template("One day, Nora found a shiny bell by the river.")
    'find'
    >>> story_templates.sentence_template("One day, Nora found a river by the bell.") is None
    True
    >>> story_templates.split_sentences('"Oh my!" said Tom. He ran to Mia, his frie')
    (['"Oh my!" said Tom.'], 'He ran to Mia, his frie')
"""

from __future__ import annotations

import re
import string

from utils.course_data import corpus

# Each slot of a template and the words that may fill it (from the generator's lists).
SLOTS = {
    "name": [name for name, _, _ in corpus.NAMES], "animal": corpus.ANIMALS, "size": corpus.SIZES,
    "trait": corpus.TRAITS, "home": corpus.HOMES, "activity": corpus.ACTIVITIES, "time": corpus.TIMES,
    "adj": corpus.ADJECTIVES, "obj": corpus.OBJECTS, "place": corpus.PLACES, "excl": corpus.EXCLAMATIONS,
    "feeling": [feeling for feeling, _ in corpus.FEELINGS],
    "feeling_verb": [verb for _, verb in corpus.FEELINGS],
    "reaction": corpus.REACTIONS, "He": ["He", "She"], "he": ["he", "she"], "his": ["his", "her"],
    "lesson": [lesson.removesuffix(".") for lesson in corpus.LESSONS],
    "together": [line.format(obj="{obj}") for line in corpus.TOGETHER],
}

# The sentence shapes of corpus.generate_story, by name (two names in a sentence: {name} twice).
TEMPLATES = {
    **{f"opening {i + 1}": line for i, line in enumerate(corpus.OPENINGS)},
    "home": "{He} lived {home}.",
    "routine": "Every {time}, {name} liked to {activity}.",
    **{("find" if i == 0 else f"find {i + 1}"): line for i, line in enumerate(corpus.FIND_LINES)},
    "exclamation": '"{excl}!" said {name}.',
    "friend": "{He} ran to {name}, {his} friend the {animal}.",
    "question": '"Can we keep it?" asked {name}.',
    "answer": '"Yes," said {name}, "let us take care of it."',
    "look": "{name} looked at the {obj} and {he} {reaction}.",
    "together": "Together, {name} and {name} {together}.",
    "ending": "At the end of the day, {name} felt {feeling} and {feeling_verb}.",
    "lesson": "{lesson}.",
    "the end": "The end.",
}

# A sentence ends at . ! or ? (with its closing quote, if any) before a space and then a capital
# letter or an opening quote: '"Oh my!" said Tom.' is one sentence, its '!"' is followed by ' said'.
SENTENCE_END = re.compile(r'(?<=[.!?])\s+(?=["A-Z])|(?<=[.!?]")\s+(?=["A-Z])')


def _pattern(template: str) -> str:
    """A template as a regular expression: literal text escaped, each slot an alternation."""
    parts = []
    for literal, slot, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if slot is not None:
            if slot not in SLOTS:
                raise KeyError(f"template {template!r} has the slot {{{slot}}}, which SLOTS does not define")
            parts.append("(?:" + "|".join(_pattern(word) for word in SLOTS[slot]) + ")")
    return "".join(parts)


PATTERNS = {name: re.compile(_pattern(template)) for name, template in TEMPLATES.items()}


def sentence_template(sentence: str) -> str | None:
    """The name of the template ``sentence`` parses as (the whole sentence, spaces at the ends
    ignored), or None when it parses as none.

    Example:
        >>> sentence_template("Together, Max and Lily put the kite in a safe place.")
        'together'
        >>> sentence_template("Together, Max and Lily put the kite in a safe place") is None  # no full stop
        True
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    sentence = sentence.strip()
    for name, pattern in PATTERNS.items():
        if pattern.fullmatch(sentence):
            return name
    return None


def split_sentences(text: str) -> tuple[list[str], str]:
    """The complete sentences of ``text``, and what is left after the last one (an unfinished
    sentence, cut off by a length limit, or "").

    Example:
        >>> split_sentences("The end. Once upon")
        (['The end.'], 'Once upon')
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    pieces = [piece.strip() for piece in SENTENCE_END.split(text.strip()) if piece and piece.strip()]
    if pieces and not re.search(r'[.!?]"?$', pieces[-1]):
        return pieces[:-1], pieces[-1]
    return pieces, ""


def parsed_sentences(text: str) -> list[bool]:
    """For each complete sentence of ``text``, whether it parses as a corpus template. A text with
    no complete sentence counts as one sentence that does not parse, so noise scores 0, not nothing.

    Example:
        >>> parsed_sentences("The end. The the end. Once")
        [True, False]
        >>> parsed_sentences("zq fox lamb")
        [False]
    """
    complete, _ = split_sentences(text)
    if not complete:
        return [False]
    return [sentence_template(sentence) is not None for sentence in complete]
