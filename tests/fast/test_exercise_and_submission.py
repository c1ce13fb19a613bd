from __future__ import annotations

import pytest

from grader import exercise, submission


def test_sin_exercise_is_complete(sin):
    assert sin.function == "get_derivative" and sin.primitive == "sin" and sin.derivative == "cos(u)"
    assert sin.max_score == 10
    assert sin.solution.is_file()
    assert set(sin.tolerances) == {"float64", "float32", "float16", "bfloat16"}


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(exercise.ExerciseError, match="known exercises: cos_square, log_sin, sin, sin_cos_norm"):
        exercise.load("tan")


def test_broken_exercise_file_is_an_instructor_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n')
    with pytest.raises(exercise.ExerciseError, match=r"bad\.toml"):
        exercise.load(bad)


def test_scan_points_at_lines_that_call_cos():
    source = b"import torch\n\ndef get_derivative(x):\n    y = x * 1\n    return torch.cos(y)\n"
    hits = submission.scan(source)
    assert [(h.line, h.name) for h in hits] == [(5, "cos")]
    assert hits[0].code == "return torch.cos(y)"


def test_scan_survives_unparsable_source():
    assert submission.scan(b"def f(:\n") == ()
    assert submission.scan(b"(" * 10_000) == ()


def test_read_rejects_what_is_not_a_solution_file(tmp_path):
    with pytest.raises(submission.SubmissionError, match="no such file"):
        submission.read(tmp_path / "missing.py")
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * (submission.MAX_SOURCE_BYTES + 1))
    with pytest.raises(submission.SubmissionError, match="larger than"):
        submission.read(big)
