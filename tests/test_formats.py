import json
import subprocess
import sys
from pathlib import Path

import pytest

from utils.instruction_data.formats import (
    FormatError,
    alpaca_prompt,
    alpaca_text,
    convert_file,
    convert_record,
    convert_records,
    detect_format,
    join_prompt,
    read_records,
    record_problems,
    side_file,
    sift_file,
    split_prompt,
    validate_file,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def user(text):
    return {"role": "user", "content": text}


def assistant(text, **extra):
    return {"role": "assistant", "content": text, **extra}


def system(text):
    return {"role": "system", "content": text}


ALPACA = [
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Name a colour.", "input": "", "output": "Red", "id": 7},
    {"instruction": "Greet the user.", "input": "", "output": "Hello!", "system": "Be brief."},
]
CHATS = [
    {"messages": [user("Hi"), assistant("Hello")]},
    {"messages": [system("Be kind."), user("Hi"), assistant("Hello", weight=0), user("Bye"),
                  assistant("Goodbye", weight=1)]},
    {"messages": [user("Summarise:\n\nA long text."), assistant("Short.", name="bot")]},
]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list) -> Path:
    return write_lines(path, [json.dumps(r) for r in records])


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "utils.instruction_data.formats", *map(str, args)],
                          cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


# ------------------------------------------------------------------------------------------ detection

@pytest.mark.parametrize("record, expected", [
    ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
    ({"instruction": "a", "chosen": "b", "rejected": "c"}, "alpaca-preference"),
    ({"messages": []}, "messages"),
    ({"prompt": "a", "completion": "b"}, "prompt-completion"),
    ({"prompt": [user("a")], "chosen": [assistant("b")], "rejected": [assistant("c")]}, "preference"),
    ({"instruction": "a"}, "alpaca"),  # detected by its key, so the missing output is named
])
def test_detect_format_by_keys(record, expected):
    assert detect_format(record) == expected


def test_detect_format_names_the_keys_it_expects():
    with pytest.raises(FormatError, match=r"fields \['question'\].*'messages'.*'instruction'"):
        detect_format({"question": "a"})
    with pytest.raises(FormatError, match="JSON array"):
        detect_format([1, 2])


# ------------------------------------------------------------------------------------ record checks

def test_valid_records_of_every_format_have_no_problems():
    valid = [*ALPACA, *CHATS,
             {"instruction": "Greet.", "chosen": "Hello!", "rejected": "Go away."},
             {"prompt": [user("2+2?")], "completion": [assistant("4")]},
             {"prompt": "2+2=", "completion": " 4"},
             {"prompt": [system("S"), user("2+2?")], "chosen": [assistant("4")],
              "rejected": [assistant("5")]},
             {"prompt": "2+2=", "chosen": " 4", "rejected": " 5"}]
    assert [record_problems(r) for r in valid] == [[]] * len(valid)


@pytest.mark.parametrize("messages, field, message", [
    ([{"role": "bot", "content": "Hi"}, assistant("Hello")], "messages[0].role", "unknown role 'bot'"),
    ([{"content": "Hi"}, assistant("Hello")], "messages[0].role", "missing"),
    ([user("   "), assistant("Hello")], "messages[0].content", "empty content"),
    ([user("Hi"), {"role": "assistant"}], "messages[1].content", "missing"),
    ([user("Hi"), {"role": "assistant", "content": 5}], "messages[1].content", "must be a string"),
    ([user("Hi")], "messages", "no assistant turn"),
    ([system("S"), user("Hi")], "messages", "no assistant turn"),
    ([assistant("Hello"), user("Hi"), assistant("Hello")], "messages[0].role",
     "wrong turn order: 'assistant' where the 'user' turn belongs"),
    ([user("Hi"), user("Hi again"), assistant("Hello")], "messages[1].role", "wrong turn order"),
    ([user("Hi"), system("S"), assistant("Hello")], "messages[1].role", "wrong turn order: 'system'"),
    ([user("Hi"), assistant("Hello"), user("More?")], "messages[2].role", "last turn is 'user'"),
    ([user("Hi"), assistant("Hello", weight=2)], "messages[1].weight", "must be 0"),
    ([user("Hi"), assistant("Hello", weight=True)], "messages[1].weight", "must be 0"),
    ([{"role": "user", "content": "Hi", "weight": 1}, assistant("Hello")], "messages[0].weight",
     "only assistant turns"),
    ([user("Hi"), assistant("Hello", tool_calls=[])], "messages[1].tool_calls", "unknown message field"),
    ([user("Hi"), "Hello"], "messages[1]", "expected an object"),
    ([], "messages", "holds no messages"),
])
def test_each_conversation_error_names_its_field(messages, field, message):
    problems = record_problems({"messages": messages})
    assert len(problems) == 1, problems  # one mistake, one report
    assert problems[0][0] == field and message in problems[0][1]


@pytest.mark.parametrize("record, field, message", [
    ({"instruction": "Hi"}, "output", "missing"),
    ({"instruction": "", "output": "Hello"}, "instruction", "empty content"),
    ({"instruction": "Hi", "output": ["Hello"]}, "output", "must be a string, got a JSON array"),
    ({"messages": "Hi"}, "messages", "must be a list"),
    ({"instruction": "Hi", "chosen": "Same", "rejected": "Same"}, "rejected", "identical to 'chosen'"),
    ({"prompt": [user("a")], "chosen": [assistant("b")], "rejected": [assistant("b")]}, "rejected",
     "identical"),
    ({"prompt": [user("a")], "chosen": [assistant("b")], "rejected": [user("c")]}, "rejected[0].role",
     "wrong turn order"),
    ({"prompt": [user("a"), assistant("b")], "completion": [user("c"), assistant("d")]},
     "prompt[1].role", "the prompt ends with 'assistant'"),
    ({"prompt": "a", "chosen": [assistant("b")], "rejected": " c"}, "chosen", "must be a string"),
    ({"prompt": [user("a")]}, "completion", "missing"),
])
def test_each_record_error_names_its_field(record, field, message):
    problems = record_problems(record)
    assert len(problems) == 1, problems
    assert problems[0][0] == field and message in problems[0][1]


def test_expect_openai_flags_fields_outside_openai_format():
    record = {"messages": [user("Hi"), assistant("Hello")], "id": 3}
    assert record_problems(record) == []
    assert record_problems(record, expect="openai")[0][0] == "id"
    assert "where alpaca records were expected" in record_problems(record, expect="alpaca")[0][1]


# ------------------------------------------------------------------------------- rendering and joins

@pytest.mark.parametrize("content", ["Hi", "Summarise:\n\nText", "A\n\n", "\n\nB", "A\n\n\nB",
                                     "A\n\nB\n\nC", ""])
def test_split_then_join_gives_back_any_user_turn(content):
    assert join_prompt(*split_prompt(content)) == content


def test_join_then_split_gives_back_instruction_and_input():
    assert split_prompt(join_prompt("Translate.", "cheese\n\nbread")) == ("Translate.", "cheese\n\nbread")
    assert split_prompt(join_prompt("Translate.", "")) == ("Translate.", "")


def test_alpaca_prompt_has_the_alpaca_sections_in_order():
    with_input = alpaca_prompt("Add.", "2 and 3")
    positions = [with_input.index(s) for s in ("Below is an instruction", "### Instruction:\nAdd.",
                                               "### Input:\n2 and 3", "### Response:\n")]
    assert positions == sorted(positions) and with_input.endswith("### Response:\n")
    assert "### Input:" not in alpaca_prompt("Add.")
    assert alpaca_prompt("Add.", system="Be brief.").startswith("Be brief.\n\nBelow is an instruction")
    assert alpaca_text(ALPACA[0]) == alpaca_prompt("Add the numbers.", "2 and 3") + "5"


# -------------------------------------------------------------------------------------- conversions

def with_text(record):
    return {**record, "text": alpaca_text(record)}


@pytest.mark.parametrize("record", ALPACA)
def test_alpaca_to_messages_to_alpaca_is_exact(record):
    messages = convert_record(with_text(record), "messages")
    assert "text" not in messages and messages.get("id") == record.get("id")
    assert convert_record(messages, "alpaca") == with_text(record)


def test_alpaca_becomes_system_user_assistant_turns():
    assert convert_record(ALPACA[2], "messages")["messages"] == [
        system("Be brief."), user("Greet the user."), assistant("Hello!")]
    assert convert_record(ALPACA[0], "openai") == {
        "messages": [user("Add the numbers.\n\n2 and 3"), assistant("5")]}


@pytest.mark.parametrize("record", CHATS)
def test_messages_to_openai_to_messages_is_exact_and_keeps_weights(record):
    openai = convert_record(record, "openai")
    assert openai == record and openai is not record
    assert convert_record(openai, "messages") == record


def test_single_exchange_messages_to_alpaca_to_messages_is_exact():
    record = CHATS[2] | {"messages": [user("Summarise:\n\nA long text."), assistant("Short.")]}
    alpaca = convert_record(record, "alpaca")
    assert (alpaca["instruction"], alpaca["input"]) == ("Summarise:", "A long text.")
    assert convert_record(alpaca, "messages") == record


def test_instruction_with_a_blank_line_comes_back_split_as_documented():
    record = {"instruction": "Write a poem.\n\nMake it rhyme.", "input": "", "output": "Roses..."}
    back = convert_record(convert_record(record, "messages"), "alpaca")
    assert (back["instruction"], back["input"]) == ("Write a poem.", "Make it rhyme.")


def test_prompt_completion_converts_to_chat_and_alpaca():
    conversational = {"prompt": [user("2+2?")], "completion": [assistant("4")]}
    assert convert_record(conversational, "messages") == {"messages": [user("2+2?"), assistant("4")]}
    assert convert_record({"prompt": "2+2?", "completion": "4"}, "alpaca")["output"] == "4"


def test_alpaca_preference_to_trl_and_back_is_exact():
    record = {"instruction": "Greet.", "input": "a friend", "chosen": "Hello!", "rejected": "Go.",
              "system": "Be kind.", "id": 1}
    trl = convert_record(record, "preference")
    assert trl == {"prompt": [system("Be kind."), user("Greet.\n\na friend")],
                   "chosen": [assistant("Hello!")], "rejected": [assistant("Go.")], "id": 1}
    assert convert_record(trl, "preference") == trl
    assert convert_record(trl, "alpaca") == record


def test_string_preference_becomes_conversational():
    trl = convert_record({"prompt": "2+2=", "chosen": " 4", "rejected": " 5"}, "preference")
    assert trl == {"prompt": [user("2+2=")], "chosen": [assistant(" 4")], "rejected": [assistant(" 5")]}


@pytest.mark.parametrize("record, to, field, message", [
    (CHATS[1], "alpaca", "messages[2].weight", "no place for a message's 'weight'"),
    ({"messages": [user("a"), assistant("b"), user("c"), assistant("d")]}, "alpaca", "messages",
     "a conversation of 2 exchanges"),
    ({"messages": [user("Hi"), assistant("Hello")], "id": 3}, "openai", "id", "takes only 'messages'"),
    ({"instruction": "a", "chosen": "b", "rejected": "c"}, "messages", "rejected", "would be lost"),
    ({"prompt": [user("a")], "chosen": [assistant("b")], "rejected": [assistant("c")]}, "openai",
     "rejected", "would be lost"),
    (ALPACA[0], "preference", "", "need a 'chosen' and a 'rejected'"),
    ({"prompt": [user("a"), assistant("b"), user("c")], "chosen": [assistant("d")],
      "rejected": [assistant("e")]}, "alpaca", "prompt", "3 turns"),
    ({"messages": [user("Hi")]}, "messages", "messages", "no assistant turn"),
    ({"messages": [user("Hi"), assistant("Hello")], "instruction": "x"}, "alpaca", "instruction",
     "would clash"),
])
def test_conversion_errors_name_the_field(record, to, field, message):
    with pytest.raises(FormatError, match=message) as caught:
        convert_record(record, to)
    assert caught.value.field == field


def test_convert_record_leaves_its_input_alone_and_rejects_unknown_targets():
    record = json.loads(json.dumps(CHATS[1]))
    convert_record(record, "messages")["messages"][0]["content"] = "changed"
    assert record == CHATS[1]
    with pytest.raises(ValueError, match="use one of alpaca, messages, openai, preference"):
        convert_record(record, "sharegpt")


def test_convert_records_lists_every_failing_record():
    with pytest.raises(FormatError) as caught:
        convert_records([ALPACA[0], {"messages": [user("Hi")]}, ALPACA[1], {"foo": 1}], "messages")
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("record 2, field 'messages': no assistant turn")
    assert lines[1].startswith("record 4: cannot tell the format")


# ------------------------------------------------------------------------------------ reading files

def test_read_records_numbers_jsonl_lines_and_skips_blank_ones(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", ['{"a": 1}', "", '{"a": 2', "  ", '{"a": 3}'])
    loaded = read_records(path)
    assert [n for n, _ in loaded.records] == [1, 5] and loaded.unit == "line"
    assert [(p.number, p.unit) for p in loaded.problems] == [(3, "line")]
    assert "bad JSON" in loaded.problems[0].message


def test_read_records_numbers_array_elements_and_reads_a_byte_order_mark(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("\ufeff" + json.dumps(ALPACA, indent=2), encoding="utf-8")
    loaded = read_records(path)
    assert loaded.unit == "element" and [n for n, _ in loaded.records] == [1, 2, 3]
    broken = write_lines(tmp_path / "b.json", ["[", '  {"a": 1},', '  {"a": }', "]"])
    (problem,) = read_records(broken).problems
    assert (problem.number, problem.unit) == (3, "line") and "read as one JSON array" in problem.message


def test_validate_file_reports_duplicates_with_both_numbers_and_mixed_formats(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [CHATS[0], ALPACA[0], CHATS[2], CHATS[0]])
    report = validate_file(path)
    assert report.records == 4 and report.format == "messages"
    assert [(p.number, p.message) for p in report.problems] == [
        (2, "record in alpaca format in a file of messages records (the first at line 1); keep one "
            "format per file."),
        (4, "duplicate: identical content to line 1; keep one.")]


# ----------------------------------------------------------------------------------- command line

ERROR_LINES = [
    json.dumps(CHATS[0]),
    '{"messages": [{"role": "user", "content": "Hi"}',
    json.dumps({"messages": [{"role": "bot", "content": "Hi"}, assistant("Hello")]}),
    json.dumps({"messages": [user(""), assistant("Hello")]}),
    json.dumps({"messages": [system("S"), user("Hi")]}),
    json.dumps({"messages": [user("Hi"), user("Hi"), assistant("Hello")]}),
    json.dumps(CHATS[0]),
]


def test_cli_validate_reports_every_problem_with_line_and_field(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", ERROR_LINES)
    before = path.read_bytes()
    result = cli("validate", path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.removeprefix(f"{path}: ").split(":")[0] for line in lines[:-1]] == [
        "line 2", "line 3, field 'messages[0].role'", "line 4, field 'messages[0].content'",
        "line 5, field 'messages'", "line 6, field 'messages[1].role'", "line 7"]
    for line, words in zip(lines, ["bad JSON", "unknown role 'bot'", "empty content", "no assistant turn",
                                   "wrong turn order", "duplicate: identical content to line 1"],
                           strict=False):
        assert words in line
    assert lines[-1] == f"{path}: 6 records (messages), 6 problems."
    assert path.read_bytes() == before


def test_cli_validate_reports_every_error_case_in_a_json_array_by_element(tmp_path):
    records = [json.loads(line) for i, line in enumerate(ERROR_LINES) if i != 1]  # all but the bad JSON
    path = tmp_path / "train.json"
    path.write_text(json.dumps(records, indent=2))
    before = path.read_bytes()
    result = cli("validate", path)
    assert result.returncode == 1 and path.read_bytes() == before
    lines = result.stdout.splitlines()
    assert [line.removeprefix(f"{path}: ").split(": ")[0] for line in lines[:-1]] == [
        "element 2 of the array, field 'messages[0].role'",
        "element 3 of the array, field 'messages[0].content'", "element 4 of the array, field 'messages'",
        "element 5 of the array, field 'messages[1].role'",
        "element 6 of the array"]
    assert "duplicate: identical content to element 1" in lines[-2]
    assert lines[-1] == f"{path}: 6 records (messages), 5 problems."


def test_cli_validate_passes_a_clean_array_and_numbers_its_elements(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([with_text(r) for r in ALPACA]))
    result = cli("validate", path)
    assert result.returncode == 0 and result.stdout == f"{path}: 3 records (alpaca), no problems.\n"
    path.write_text(json.dumps([ALPACA[0], {"instruction": "x", "output": ""}]))
    result = cli("validate", path, "--expect", "alpaca")
    assert result.returncode == 1
    assert f"{path}: element 2 of the array, field 'output': empty content" in result.stdout


def test_cli_validate_flags_an_empty_file_and_fields_outside_openai_format(tmp_path):
    empty = write_lines(tmp_path / "empty.jsonl", ["", "  "])
    result = cli("validate", empty)
    assert result.returncode == 1 and f"{empty}: line 1: the file holds no records" in result.stdout
    chats = write_jsonl(tmp_path / "chats.jsonl", [CHATS[0] | {"id": 1}])
    assert cli("validate", chats).returncode == 0
    result = cli("validate", chats, "--expect", "openai")
    assert result.returncode == 1
    assert f"{chats}: line 1, field 'id': not part of OpenAI's chat fine-tuning format" in result.stdout
    assert result.stdout.endswith("1 record (openai), 1 problem.\n")


def test_cli_round_trips_alpaca_messages_alpaca_and_messages_openai_messages(tmp_path):
    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [with_text(r) for r in ALPACA])
    chats = write_jsonl(tmp_path / "chats.jsonl", CHATS)
    steps = [(alpaca, "m.jsonl", "messages"), (tmp_path / "m.jsonl", "a.jsonl", "alpaca"),
             (chats, "o.jsonl", "openai"), (tmp_path / "o.jsonl", "c.jsonl", "messages")]
    for source, target, to in steps:
        result = cli("convert", source, tmp_path / target, "--to", to)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("converted 3 records from ")
    assert read_jsonl(tmp_path / "a.jsonl") == [with_text(r) for r in ALPACA]
    assert read_jsonl(tmp_path / "c.jsonl") == CHATS
    assert read_jsonl(tmp_path / "o.jsonl") == CHATS
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary file left behind
        "a.jsonl", "alpaca.jsonl", "c.jsonl", "chats.jsonl", "m.jsonl", "o.jsonl"]


def test_cli_converts_alpaca_preference_to_trl_preference(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", [{"instruction": "Greet.", "input": "",
                                                     "chosen": "Hello!", "rejected": "Go away."}])
    result = cli("convert", source, tmp_path / "dpo.json", "--to", "preference")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "dpo.json").read_text()) == [
        {"prompt": [user("Greet.")], "chosen": [assistant("Hello!")], "rejected": [assistant("Go away.")]}]


def test_cli_round_trips_preference_pairs_between_alpaca_and_trl(tmp_path):
    pairs = [{"instruction": "Greet.", "input": "", "chosen": "Hello!", "rejected": "Go away."},
             {"instruction": "Add.", "input": "2 and 3", "chosen": "5", "rejected": "6",
              "system": "Be brief."}]
    source = tmp_path / "pairs.json"
    source.write_text(json.dumps(pairs))
    for args in [(source, tmp_path / "trl.jsonl"), (tmp_path / "trl.jsonl", tmp_path / "back.json")]:
        result = cli("convert", *args, "--to", "preference" if args[0] == source else "alpaca")
        assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "back.json").read_text()) == pairs


def test_cli_never_overwrites_input_and_needs_force_for_an_existing_output(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", CHATS)
    target = write_lines(tmp_path / "out.jsonl", ["my notes"])
    before = source.read_bytes()
    refused = cli("convert", source, target, "--to", "openai")
    assert refused.returncode == 1 and "exists; pass --force" in refused.stderr
    assert target.read_text() == "my notes\n"
    forced = cli("convert", source, target, "--to", "openai", "--force")
    assert forced.returncode == 0 and read_jsonl(target) == CHATS
    for args in ([], ["--force"]):
        same = cli("convert", source, source, "--to", "alpaca", *args)
        assert same.returncode == 1 and "is the input file" in same.stderr
    assert source.read_bytes() == before


def test_cli_convert_writes_nothing_when_a_record_fails(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [CHATS[0], CHATS[1], {"messages": [user("Hi")]}])
    before = source.read_bytes()
    result = cli("convert", source, tmp_path / "out.jsonl", "--to", "alpaca")
    assert result.returncode == 1
    assert f"{source}: line 2, field 'messages[2].weight': Alpaca records have no place" in result.stderr
    assert f"{source}: line 3, field 'messages': no assistant turn" in result.stderr
    assert "nothing written: 2 problems" in result.stderr
    assert not (tmp_path / "out.jsonl").exists() and source.read_bytes() == before


def test_cli_convert_keeps_duplicates_but_says_so(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [ALPACA[0], ALPACA[0]])
    result = cli("convert", source, tmp_path / "out.jsonl", "--to", "messages")
    assert result.returncode == 0 and "kept 1 duplicate (validate lists them)" in result.stdout
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 2


def test_cli_reports_a_missing_file_and_a_json_openai_output(tmp_path):
    missing = cli("validate", tmp_path / "nope.jsonl")
    assert missing.returncode == 1 and "No such file or directory" in missing.stderr
    source = write_jsonl(tmp_path / "in.jsonl", CHATS)
    json_out = cli("convert", source, tmp_path / "out.json", "--to", "openai")
    assert json_out.returncode == 1 and "takes JSONL" in json_out.stderr
    usage = cli("convert", source, tmp_path / "x.jsonl", "--to", "sharegpt")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_convert_file_refuses_empty_or_non_utf8_input_and_a_missing_folder(tmp_path):
    empty = write_lines(tmp_path / "empty.jsonl", [""])
    with pytest.raises(FormatError, match="holds no records"):
        convert_file(empty, tmp_path / "out.jsonl", "messages")
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"instruction": "Caf\u00e9", "output": "ok"}\n'.encode("latin-1"))
    with pytest.raises(FormatError, match="latin1.jsonl: not UTF-8 text .* at byte offset 20"):
        convert_file(latin1, tmp_path / "out.jsonl", "messages")
    source = write_jsonl(tmp_path / "in.jsonl", CHATS)
    with pytest.raises(FileNotFoundError, match="no_such_folder is not a folder; create it first"):
        convert_file(source, tmp_path / "no_such_folder" / "out.jsonl", "messages")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl", "in.jsonl", "latin1.jsonl"]


# ------------------------------------------------------------------------ --skip-invalid (the issue)

SAME_ANSWERS, MISSING_FIELD = (3, 9, 15), 12  # 0-based: lines 4, 10 and 16, and line 13
DROPPED_LINES = [4, 10, 13, 16]


def issue_pairs() -> list[dict]:
    """Twenty Alpaca-style preference pairs like the issue's file: three with chosen == rejected,
    one without its rejected answer."""
    pairs = []
    for i in range(20):
        pair = {"instruction": f"Question {i}?", "input": "", "chosen": f"Good {i}", "rejected": f"Bad {i}"}
        if i in SAME_ANSWERS:
            pair["rejected"] = pair["chosen"]
        if i == MISSING_FIELD:
            del pair["rejected"]
        pairs.append(pair)
    return pairs


def valid_pairs() -> list[dict]:
    return [pair for line, pair in enumerate(issue_pairs(), start=1) if line not in DROPPED_LINES]


def read_side(target: Path) -> list[dict]:
    return read_jsonl(side_file(target))


def test_cli_refuses_the_issue_file_by_default_naming_each_record(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    before = source.read_bytes()
    result = cli("convert", source, tmp_path / "dpo.jsonl", "--to", "preference")
    assert result.returncode == 1
    for line in DROPPED_LINES:
        assert f"{source}: line {line}, field 'rejected': " in result.stderr
    assert "nothing written: 4 problems" in result.stderr
    assert "pass --skip-invalid (skip_invalid=True) to write the 16 valid records" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.jsonl"] and source.read_bytes() == before


def test_cli_skip_invalid_writes_the_valid_pairs_and_lists_the_dropped_ones(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    before = source.read_bytes()
    target = tmp_path / "dpo.jsonl"
    result = cli("convert", source, target, "--to", "preference", "--skip-invalid")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote 16 records to {target}; dropped 4 (see {target}.dropped.jsonl)\n"
    same = "identical to 'chosen': a preference pair needs two different answers."
    assert result.stderr.splitlines() == [
        f"{source}: line 4, field 'rejected': {same}", f"{source}: line 10, field 'rejected': {same}",
        f"{source}: line 13, field 'rejected': missing; add it.",
        f"{source}: line 16, field 'rejected': {same}"]
    assert read_jsonl(target) == [convert_record(pair, "preference") for pair in valid_pairs()]
    side = read_side(target)
    assert [(e["line"], e["field"], e["other_problems"]) for e in side] == [
        (line, "rejected", []) for line in DROPPED_LINES]
    assert [e["reason"] for e in side] == [same, same, "missing; add it.", same]
    assert [e["record"] for e in side] == [issue_pairs()[line - 1] for line in DROPPED_LINES]
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary file left behind
        "dpo.jsonl", "dpo.jsonl.dropped.jsonl", "pairs.jsonl"]


def test_cli_skip_invalid_never_overwrites_a_side_file_without_force(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    target = tmp_path / "dpo.jsonl"
    side = write_lines(side_file(target), ["my notes"])
    refused = cli("convert", source, target, "--to", "preference", "--skip-invalid")
    assert refused.returncode == 1
    assert f"{side} (the side file of dropped records, named after OUT) exists; pass --force" in (
        refused.stderr)
    assert side.read_text() == "my notes\n" and not target.exists()
    forced = cli("convert", source, target, "--to", "preference", "--skip-invalid", "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(read_jsonl(target)) == 16 and len(read_side(target)) == 4


def test_cli_skip_invalid_writes_nothing_when_every_record_is_invalid(tmp_path):
    pairs = [issue_pairs()[line - 1] for line in DROPPED_LINES]
    source = write_lines(tmp_path / "bad.jsonl", [json.dumps(pair) for pair in pairs] + ["not json"])
    before = source.read_bytes()
    result = cli("convert", source, tmp_path / "dpo.jsonl", "--to", "preference", "--skip-invalid")
    assert result.returncode == 1 and result.stdout == ""
    assert f"{source}: line 5: bad JSON" in result.stderr
    assert "nothing written: no record is valid (5 problems); fix them and convert again." in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"] and source.read_bytes() == before


def test_cli_validate_skip_invalid_counts_what_convert_would_keep_and_writes_nothing(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    result = cli("validate", source, "--skip-invalid")
    assert result.returncode == 0
    assert f"{source}: line 13, field 'rejected': missing; add it." in result.stdout
    assert f"{source}: --skip-invalid would keep 16 records and drop 4 " in result.stdout
    assert cli("validate", source).returncode == 1  # without the flag, any problem still fails
    bad = write_jsonl(tmp_path / "bad.jsonl", [issue_pairs()[3]])
    nothing = cli("validate", bad, "--skip-invalid")
    assert nothing.returncode == 1 and "would keep 0 records and drop 1 " in nothing.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "pairs.jsonl"]


def test_convert_file_skip_invalid_through_python(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    before = source.read_bytes()
    target = tmp_path / "dpo.json"
    with pytest.raises(FormatError) as refused:
        convert_file(source, target, "preference")
    for line in DROPPED_LINES:
        assert f"{source}: line {line}, field 'rejected': " in str(refused.value)
    assert not target.exists()
    done = convert_file(source, target, "preference", skip_invalid=True)
    assert (done.records, len(done.dropped), done.dropped_file) == (16, 4, side_file(target))
    assert [(d.number, d.problems[0].field) for d in done.dropped] == [(n, "rejected") for n in DROPPED_LINES]
    assert json.loads(target.read_text()) == [convert_record(pair, "preference") for pair in valid_pairs()]
    assert [e["line"] for e in read_side(target)] == DROPPED_LINES  # the side file is JSONL all the same
    with pytest.raises(FileExistsError, match="dpo.json exists; pass --force"):
        convert_file(source, target, "preference", skip_invalid=True)
    assert convert_file(source, target, "preference", force=True, skip_invalid=True).records == 16
    assert [n for n, _ in sift_file(source).kept] == [n for n in range(1, 21) if n not in DROPPED_LINES]
    assert source.read_bytes() == before


def test_convert_file_skip_invalid_keeps_a_side_file_and_refuses_all_invalid_input(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    side = write_lines(side_file(tmp_path / "dpo.jsonl"), ["my notes"])
    with pytest.raises(FileExistsError, match="dropped.jsonl .*exists; pass --force"):
        convert_file(source, tmp_path / "dpo.jsonl", "preference", skip_invalid=True)
    assert side.read_text() == "my notes\n" and not (tmp_path / "dpo.jsonl").exists()
    bad = write_jsonl(tmp_path / "bad.jsonl", [issue_pairs()[3]])
    with pytest.raises(FormatError, match="line 1, field 'rejected'.*\nnothing written: no record is valid"):
        convert_file(bad, tmp_path / "out.jsonl", "preference", skip_invalid=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.jsonl", "dpo.jsonl.dropped.jsonl", "pairs.jsonl"]


def test_convert_file_removes_its_side_file_when_the_output_cannot_be_written(tmp_path):
    source = write_jsonl(tmp_path / "pairs.jsonl", issue_pairs())
    target = tmp_path / "out.jsonl"
    target.mkdir()  # a folder where the output should go: replacing it fails after the side file
    with pytest.raises(OSError):
        convert_file(source, target, "preference", force=True, skip_invalid=True)
    assert not side_file(target).exists()


BROKEN_CHAT = {"messages": [{"role": "bot", "content": "Hi"}, assistant("Hello")]}
TWO_EXCHANGES = {"messages": [user("a"), assistant("b"), user("c"), assistant("d")]}
LONG_PROMPT = {"prompt": [user("a"), assistant("b"), user("c")], "chosen": [assistant("d")],
               "rejected": [assistant("e")]}


@pytest.mark.parametrize("name, to, kept, dropped", [
    # Chat to Alpaca, from a JSON array: a bad role, a second exchange, a record of another format.
    ("chats.json", "alpaca", [CHATS[0], {"messages": [user("Name a colour."), assistant("Red")]}],
     [(2, "messages[0].role", BROKEN_CHAT), (3, "messages", TWO_EXCHANGES), (4, "", ALPACA[0])]),
    # Alpaca to messages: an empty output, and a line that is not JSON (kept as its text).
    ("alpaca.jsonl", "messages", [ALPACA[0], ALPACA[1]],
     [(2, "output", {"instruction": "x", "output": ""}), (3, "", '{"instruction": "y"')]),
    # Chat to OpenAI: a field OpenAI's format has no place for, and a chat with no answer.
    ("chats.jsonl", "openai", [CHATS[0], CHATS[1]],
     [(2, "id", CHATS[0] | {"id": 1}), (3, "messages", {"messages": [user("Hi")]})]),
    # TRL preference to Alpaca: a multi-turn prompt has no Alpaca form.
    ("trl.jsonl", "alpaca", [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}],
     [(2, "prompt", LONG_PROMPT)]),
    # Prompt-completion to messages: a completion missing.
    ("pc.jsonl", "messages", [{"prompt": "2+2?", "completion": "4"}],
     [(1, "completion", {"prompt": "1+1?"})]),
])
def test_cli_skip_invalid_works_for_every_target(tmp_path, name, to, kept, dropped):
    source = write_source(tmp_path / name, in_file_order(kept, dropped))
    before = source.read_bytes()
    target = tmp_path / "out.jsonl"
    result = cli("convert", source, target, "--to", to, "--skip-invalid")
    assert result.returncode == 0, result.stderr
    records = f"{len(kept)} record" + "s" * (len(kept) != 1)
    assert result.stdout == f"wrote {records} to {target}; dropped {len(dropped)} (see {side_file(target)})\n"
    unit = "element" if name.endswith(".json") else "line"
    for (number, field, _), line in zip(dropped, result.stderr.splitlines(), strict=True):
        where = f"element {number} of the array" if unit == "element" else f"line {number}"
        assert line.startswith(f"{source}: {where}" + (f", field '{field}': " if field else ": "))
    assert read_jsonl(target) == [convert_record(record, to) for record in kept]
    side = read_side(target)
    assert [(e[unit], e["field"], e.get("record", e.get("text"))) for e in side] == dropped
    assert source.read_bytes() == before


def in_file_order(kept: list, dropped: list) -> list:
    """The file's records: each dropped one at its 1-based number, the kept ones in the gaps."""
    at = {number: record for number, _, record in dropped}
    rest = iter(kept)
    return [at[n] if n in at else next(rest) for n in range(1, len(kept) + len(dropped) + 1)]


def write_source(path: Path, records: list) -> Path:
    """A JSON array for .json, else JSONL; a string record is written as the raw line it holds."""
    if path.suffix == ".json":
        path.write_text(json.dumps(records), encoding="utf-8")
        return path
    return write_lines(path, [r if isinstance(r, str) else json.dumps(r) for r in records])

