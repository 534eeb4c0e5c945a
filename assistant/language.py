"""Question language: decides the framing language of answers and the weights of fusion."""

from __future__ import annotations

import re

CJK = "\u3400-\u9fff\uf900-\ufaff"
"""Han characters (CJK Unified Ideographs, Extension A, Compatibility Ideographs), for use inside a regex class."""
CJK_RE = re.compile(f"[{CJK}]")
LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> str:
    """'zh' when Chinese characters outweigh Latin words (a CJK character carries about a word), else 'en'."""
    return "zh" if len(CJK_RE.findall(text)) >= len(LATIN_WORD_RE.findall(text)) and CJK_RE.search(text) else "en"


QUESTION_END_RE = re.compile(r"[?？][\s\"'”’」』)）\]]*$|[吗呢][。.!！]?[\s\"'”’」』)）\]]*$")


def is_question(sentence: str) -> bool:
    """An interrogative sentence asks, it does not state: never evidence, whoever wrote it (an FAQ, an injection)."""
    return bool(QUESTION_END_RE.search(sentence.strip()))
