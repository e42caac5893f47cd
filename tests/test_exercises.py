from utils.core.exercises import check, is_correct


def test_numbers_within_tolerance(capsys):
    assert is_correct("loss", 10.80, 10.8049, tolerance=0.01)
    assert not is_correct("loss", 10.0, 10.8, tolerance=0.01, hint="use ln")
    out = capsys.readouterr().out
    assert "Correct: loss" in out and "off by -0.8" in out and "Hint: use ln" in out


def test_unanswered_and_exact_values(capsys):
    assert not is_correct("tokens", ..., 12)
    assert is_correct("role", "assistant", "assistant")
    assert not is_correct("flag", True, 1)  # a bool is not accepted as a number
    check("role", "user", "assistant")
    out = capsys.readouterr().out
    assert "Not answered yet" in out and "you gave 'user'" in out
