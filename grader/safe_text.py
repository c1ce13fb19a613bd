"""Student text made safe once, where it enters the parent; every report can then render it as is.

What a submission prints, raises or names may hold anything: escape sequences that clear the TA's
screen or paint a fake score, a newline that forges a line of our feedback ("Likely cause: ..."),
a carriage return that overwrites one, bidirectional overrides that reorder what a reader sees,
lone surrogates that no UTF-8 file can hold. Each such character becomes a visible stand-in (the
Unicode control pictures: ESC shows as ␛), so a TA still sees that something was there.
"""

from __future__ import annotations

_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}
_REPLACED = [*range(0x80, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
             *range(0xD800, 0xE000), 0xFFFE, 0xFFFF]
# Multi-line text (printed output, a traceback's message) keeps newlines and tabs.
_MULTI_LINE = {**_PICTURES, **dict.fromkeys(_REPLACED, "\ufffd"), 0x2028: "\n", 0x2029: "\n"}
del _MULTI_LINE[ord("\n")], _MULTI_LINE[ord("\t")]
# One line (a name, a type, a headline): a newline shows as ␤ and can never start a line of ours.
_ONE_LINE = {**_MULTI_LINE, ord("\n"): "\u2424", ord("\t"): " ", 0x2028: "\u2424", 0x2029: "\u2424"}


def text(raw: str, limit: int) -> str:
    """Multi-line student text: newlines and tabs kept, every other control neutralised, at most
    `limit` characters (an ellipsis marks a cut)."""
    return _cut(raw.replace("\r\n", "\n").translate(_MULTI_LINE), limit)


def line(raw: str, limit: int) -> str:
    """One line of student text (a name, a type, a line of code), at most `limit` characters."""
    return _cut(raw.replace("\r\n", "\n").translate(_ONE_LINE), limit)


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: max(0, limit - 1)] + "…"
