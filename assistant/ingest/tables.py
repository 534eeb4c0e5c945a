"""Which extracted lines belong to tables and figures rather than to prose.

A PDF's tables come out of its text as runs of short cells ("Amazon", "每分钟"),
rows of bullets ("拓展市场 ● ●"), header rows of space-separated labels
("产品 描述 价格 客户"), and vertical labels one character per line ("垂", "直").
Glued onto a neighbouring sentence they produce quotes that the reader never sees,
so cleaning keeps them as table blocks of their own, one row per line.
"""

from __future__ import annotations

import re

from assistant.language import CJK, CJK_RE

BULLETS = "●•"
BULLET_ROW_RE = re.compile(rf"[{BULLETS}]\s*$")
SENTENCE_PUNCTUATION_RE = re.compile(r"[，。；！？、：,;]")
CJK_TOKEN_RE = re.compile(f"^[{CJK}]+$")
CELL_MAX = 6  # a CJK line this short (and unfinished) is a table cell, never wrapped prose
MULTI_CELL_MIN = 3  # space-separated labels on one line without sentence punctuation: a header or data row
LABEL_SHARE = 0.6
PROSE_PARAGRAPH_MIN = 60  # an unfinished paragraph this long is still prose (cut by a page break)


def is_single_cjk(text: str) -> bool:
    return len(text) == 1 and bool(CJK_RE.match(text))


def is_table_row(text: str) -> bool:
    """A line that can only be part of a table or figure: bullets, bare names or numbers, a row of labels."""
    core = "".join(text.split())
    if not core or SENTENCE_PUNCTUATION_RE.search(text) and not BULLET_ROW_RE.search(text):
        return False
    if BULLET_ROW_RE.search(text) or not CJK_RE.search(core):  # bullet rows, Latin names, numbers, URLs
        return True
    return is_label_row(text)


def is_label_row(text: str) -> bool:
    """Several space-separated Chinese labels: a column-header or data row ("产品 描述 价格 客户")."""
    if SENTENCE_PUNCTUATION_RE.search(text):
        return False
    tokens = text.split()
    labels = sum(1 for token in tokens if CJK_TOKEN_RE.match(token))
    return labels >= MULTI_CELL_MIN and labels >= LABEL_SHARE * len(tokens)  # not prose spaced around Latin words


def is_short_cell(text: str, *, finished: bool) -> bool:
    """A line too short to be wrapped prose unless it finishes a sentence ("每个用户", "模型层")."""
    return len("".join(text.split())) <= CELL_MAX and not finished


def is_cell_row(text: str, *, finished: bool) -> bool:
    """A line of a table: a row only a table holds, or a cell too short to be prose. Cleaning (which lines form table
    blocks) and digests (which sentences may stand for a section) ask this one question, so they agree."""
    return is_table_row(text) or is_short_cell(text, finished=finished)


def is_prose_paragraph(text: str, *, finished: bool, has_table_line: bool) -> bool:
    """Prose ends a sentence (or is long enough to be prose cut by a page break) and holds no table-only line."""
    return not has_table_line and (finished or len("".join(text.split())) >= PROSE_PARAGRAPH_MIN)


def merge_spans(spans: list[tuple[int, int]], text: str) -> tuple[tuple[int, int], ...]:
    """Adjacent table paragraphs (separated only by a line break) form one table block."""
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and not text[merged[-1][1] : start].strip():
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)
