"""Headings of plain text, read from the document's own shape: numbering, rules, centring and capitals.

Plain text has no markup, so a heading is a short line standing alone (blank lines around it) that is also
numbered as a part ("第一讲第一节：移动光标", "Lesson 2", "11. Patents."), written in capitals ("TERMS AND
CONDITIONS"), centred, or placed right after a rule line. A numbered line that reads as a sentence ("1. 请按下
<ESC> 键。", "2. Press x to delete.") is a list step, not a heading.
"""

from __future__ import annotations

import re

from assistant.ingest.lines import Line
from assistant.language import NUMBERED_HEADING_RE, SECTION_LABEL_RE

HEADING_MAX_CHARS = 64
CENTRED_INDENT = 8  # leading spaces of a centred title in fixed-width text (paragraphs indent two or four)
SENTENCE_MARKS_RE = re.compile(r"[。！？；!?;]")
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")
TITLE_WORD_MIN = 4  # shorter words ("of", "the", "and") are lower-case in a title
CAPITALISED_SHARE = 0.6
CLAUSE_MARKS_RE = re.compile(r"[，,：:]")  # "4. 保存文件并退出，按这些键： :wq" is a step, however short


def is_title_like(text: str) -> bool:
    """Short and not a sentence: no sentence punctuation inside, no full stop after a lower-case word."""
    if len(text) > HEADING_MAX_CHARS or SENTENCE_MARKS_RE.search(text):
        return False
    words = [w for w in WORD_RE.findall(text) if len(w) >= TITLE_WORD_MIN]
    if text.rstrip().endswith(".") and words:  # "11. Patents." is a title, "2. Press x to delete." a step
        return sum(w[0].isupper() for w in words) / len(words) >= CAPITALISED_SHARE
    return not text.rstrip().endswith((",", "，", "、", ":", "："))


def is_capitals(text: str) -> bool:
    """A line of capital Latin words: "TERMS AND CONDITIONS"."""
    words = WORD_RE.findall(text)
    return len(words) >= 2 and all(w.isupper() for w in words)


def is_plain_heading(lines: list[Line], i: int) -> bool:
    """Whether line ``i`` of plain text is a heading (see the module's docstring)."""
    line = lines[i]
    following = lines[i + 1] if i + 1 < len(lines) else None
    standalone = not line.tight and (following is None or not following.tight)
    if not standalone or not is_title_like(line.text):
        return False
    if SECTION_LABEL_RE.match(line.text):
        return True
    if NUMBERED_HEADING_RE.match(line.text):  # a bare number: a step unless it is a short name ("11. Patents.")
        return not CLAUSE_MARKS_RE.search(line.text)
    return is_capitals(line.text) or line.after_rule or line.indent >= CENTRED_INDENT
