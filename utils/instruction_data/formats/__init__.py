"""Instruction-data formats: detect them, validate them, convert between them, from Python or a shell.

This package is the course's one tool for instruction-data files; every name below is importable
from ``utils.instruction_data.formats``. Its modules, by concern:

============= ==========================================================================
schema        format names and fields, FormatError, Problem (one problem, where and what)
checks        detect_format and record_problems: one record's format and its problems
prompts       join_prompt, split_prompt, alpaca_prompt, alpaca_text
converters    one record to another format: convert_record, convert_records
files         read_records, validate_file, write_records (atomic, via utils.core.jsonl)
sifting       what --skip-invalid keeps and drops, and its side file of dropped records
conversion    convert_file: a whole file, all or nothing, or with skip_invalid
cli           the command line; ``__main__`` runs it
============= ==========================================================================

The formats, one record each (a file holds one format, as JSONL or as one JSON array):

================= =======================================================================
alpaca            ``{"instruction", "input", "output"}`` plus the rendered ``text``; an optional
                  ``system`` holds a system message (Alpaca itself has none).
alpaca-preference ``{"instruction", "input", "chosen", "rejected"}`` (answers as strings).
messages          ``{"messages": [{"role", "content"}, ...]}`` (TRL's conversational
                  language-modeling type).
openai            ``messages`` as OpenAI's chat fine-tuning JSONL takes it: roles system, user,
                  assistant, at least one assistant turn, an optional ``weight`` of 0 or 1 on an
                  assistant turn (0: not trained on), and no record field but ``messages``.
prompt-completion TRL's ``{"prompt", "completion"}``, as message lists or as strings (read only).
preference        TRL's conversational preference type ``{"prompt": [user turn], "chosen":
                  [assistant turn], "rejected": [assistant turn]}``; the string form is read too.
================= =======================================================================

The format of each record is told by its keys (``detect_format``): ``messages`` → messages,
``instruction`` → alpaca (alpaca-preference when it has ``chosen`` or ``rejected``), ``prompt`` →
preference when it has ``chosen`` or ``rejected``, else prompt-completion. The rules a record must
follow are in ``checks``; the conversion rules, chosen so that nothing is lost silently, in
``converters``. Two records with identical content (key order aside) are duplicates. Validation
(``validate_file``) reports every problem of a file: bad JSON, each record's problems, a record
whose format differs from the file's first record, and each duplicate (naming the earlier copy).

Command line (exit status 0 when all is well, 1 when a problem was reported)::

    python -m utils.instruction_data.formats validate FILE [--expect FORMAT] [--skip-invalid]
    python -m utils.instruction_data.formats convert IN OUT --to {alpaca,messages,openai,preference}
                                                     [--force] [--skip-invalid]

``convert`` writes nothing unless every record converts (duplicates are kept, and counted in the
summary); it never modifies IN, refuses to write over IN at all and over an existing OUT unless
``--force``, writes through a temporary file renamed into place, and writes JSONL (a JSON array
when OUT ends in ``.json``). Problems name the 1-based line of a JSONL file, or the 1-based
element of a JSON array (the line, for a syntax error in the array), and the field.

``convert --skip-invalid`` writes the records that are valid and convert, and drops the others:
each dropped record's problems go to stderr as ``IN: line L, field 'F': reason``, and the records
into the side file ``OUT.dropped.jsonl`` (one JSON object each: ``line`` or ``element``,
``field``, ``reason``, ``other_problems``, and the ``record`` as read, or the ``text`` of a line
that is not JSON), written atomically and refused if it exists unless ``--force``. It prints
``wrote N records to OUT; dropped M (see OUT.dropped.jsonl)`` and exits 0; when no record is
left it writes nothing, not even the side file, and exits 1. ``validate --skip-invalid`` writes
nothing: after the problems it says how many records ``convert --skip-invalid`` would keep and
drop, and exits 0 when it would keep any (convert may drop more: records its target has no place
for). In Python: ``convert_file(IN, OUT, to, skip_invalid=True)`` and ``sift_file(FILE)``.

References: Alpaca layout, Taori et al., Stanford Alpaca (2023),
https://github.com/tatsu-lab/stanford_alpaca; TRL dataset formats,
https://huggingface.co/docs/trl/dataset_formats; OpenAI chat fine-tuning data,
https://platform.openai.com/docs/guides/fine-tuning.

Example:
    >>> from utils.instruction_data.formats import convert_record
    >>> record = {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}
    >>> convert_record(record, "messages")["messages"][0]
    {'role': 'user', 'content': 'Add the numbers.\\n\\n2 and 3'}
    >>> convert_record(convert_record(record, "messages"), "alpaca")["input"]
    '2 and 3'
"""

from utils.instruction_data.formats.checks import CHECKS, detect_format, record_problems
from utils.instruction_data.formats.cli import main
from utils.instruction_data.formats.conversion import Conversion, convert_file
from utils.instruction_data.formats.converters import (
    CONVERTERS,
    alpaca_preference_to_trl,
    alpaca_to_messages,
    convert_record,
    convert_records,
    messages_to_alpaca,
    prompt_completion_to_messages,
    to_openai,
    trl_preference_to_alpaca,
)
from utils.instruction_data.formats.files import (
    FileReport,
    Loaded,
    duplicate_problems,
    read_records,
    validate_file,
    validate_loaded,
    write_records,
)
from utils.instruction_data.formats.prompts import alpaca_prompt, alpaca_text, join_prompt, split_prompt
from utils.instruction_data.formats.schema import (
    ALPACA_KEYS,
    ALPACA_PREAMBLE,
    ALPACA_PREAMBLE_WITH_INPUT,
    ALPACA_PREFERENCE_KEYS,
    FORMATS,
    MESSAGE_KEYS,
    ORDER_RULE,
    PARAGRAPH,
    PREFERENCE_KEYS,
    ROLES,
    TARGETS,
    FormatError,
    Problem,
)
from utils.instruction_data.formats.sifting import (
    Dropped,
    Sifted,
    side_file,
    sift_file,
    sift_records,
    write_dropped,
)

__all__ = [
    "ALPACA_KEYS", "ALPACA_PREAMBLE", "ALPACA_PREAMBLE_WITH_INPUT", "ALPACA_PREFERENCE_KEYS", "CHECKS",
    "CONVERTERS", "FORMATS", "MESSAGE_KEYS", "ORDER_RULE", "PARAGRAPH", "PREFERENCE_KEYS", "ROLES",
    "TARGETS", "Conversion", "Dropped", "FileReport", "FormatError", "Loaded", "Problem", "Sifted",
    "alpaca_preference_to_trl", "alpaca_prompt", "alpaca_text", "alpaca_to_messages", "convert_file",
    "convert_record", "convert_records", "detect_format", "duplicate_problems", "join_prompt", "main",
    "messages_to_alpaca", "prompt_completion_to_messages", "read_records", "record_problems",
    "side_file", "sift_file", "sift_records", "split_prompt", "to_openai", "trl_preference_to_alpaca",
    "validate_file", "validate_loaded", "write_dropped", "write_records",
]
