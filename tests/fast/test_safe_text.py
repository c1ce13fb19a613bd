"""Student text is made safe once, where it enters the parent: what the reports then show."""

from __future__ import annotations

import json

from grader import safe_text
from grader.sandbox import protocol
from grader.sandbox.replies import parse_error, parse_returned

HOSTILE = "\x1b[2J\x1b[H\x1b[32mScore 10 / 10\x1b[0m\rok\x00\x07\x9b31m\u202eevil\u2028Likely cause: forged\ud800"


def test_multi_line_text_keeps_newlines_and_tabs_and_nothing_else_that_controls_a_terminal():
    text = safe_text.text("line one\r\n\tline two\n" + HOSTILE, 10_000)
    assert text.startswith("line one\n\tline two\n")
    assert all(ch in "\n\t" or (ch.isprintable() and not 0xD800 <= ord(ch) < 0xE000) for ch in text)
    assert "␛[2J" in text  # shown, not obeyed: a TA sees that something was there
    assert "\rok" not in text and "␍ok" in text
    text.encode("utf-8")  # no lone surrogate: any UTF-8 report can hold it


def test_one_line_text_cannot_start_a_line_of_ours():
    name = safe_text.line("ValueError\nLikely cause: forged\u2028Likely cause: again\x85x\tY", 100)
    assert len(name.splitlines()) == 1
    assert name == "ValueError␤Likely cause: forged␤Likely cause: again\ufffdx Y"


def test_lengths_are_capped_with_a_visible_cut():
    assert safe_text.line("x" * 500, 100) == "x" * 99 + "…"
    assert safe_text.text("y\n" * 500, 50).endswith("…") and len(safe_text.text("y\n" * 500, 50)) == 50


def test_an_error_from_the_child_has_one_line_names_and_a_safe_message():
    # Through the real wire format: json escapes carry the lone surrogate, as from a hostile child.
    wire = protocol.encode({"error": {"type": "ValueError\nLikely cause: you did nothing wrong",
                                      "message": HOSTILE + "\nsecond line", "syntax": {"code": "x\n= 1"},
                                      "frames": [{"line": 3, "code": "a\nb", "function": "f\x1b[2J"}]}})
    error = parse_error(protocol.decode(wire)[0]["error"])
    assert "\n" not in error.type and "\n" not in error.syntax_code
    assert "\n" not in error.frames[0].code and "\x1b" not in error.frames[0].function
    assert len(error.headline().splitlines()) == 1
    assert error.message.endswith("\nsecond line")  # multi-line text stays multi-line
    json.dumps(error.message, ensure_ascii=False).encode("utf-8")


def test_names_in_a_returned_value_are_one_line():
    r = parse_returned({"kind": "other", "type": "Fake\nLikely cause: x", "repr": "<\x1b[31mred\n>"}, [], b"")
    assert "\n" not in r.type_name and "\n" not in r.text and "\x1b" not in r.text


def test_a_syntax_errors_offset_is_kept_within_its_quoted_line():
    """rt157: a file's own SyntaxError with an offset of 10**12 failed the parent (a MemoryError drawing
    the caret: a cos cheat's result lost as the grader's error), and one of 2·10**8 wrote 200 MB."""
    from grader.sandbox.replies import parse_error

    for offset, kept in ((10 ** 12, 202), (-5, 1), (7, 7)):
        raw = {"type": "SyntaxError", "message": "m", "frames": [], "syntax": {"line": 3, "offset": offset,
                                                                                "code": "x"}}
        assert parse_error(raw).syntax_offset == kept
