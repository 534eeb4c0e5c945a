"""Follow-up questions without a model: carry the previous question's key terms into an elliptical one.

"那第二个呢？" or "and in 2025?" retrieve nothing useful as typed. When a question
is short or leans on a reference ("it", "那", "第二个"), the content words of the
previous standalone question are appended, so retrieval sees the full topic.
LLM mode rewrites follow-ups with a condense prompt instead (see prompts.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.indexing.lexical import tokenize
from assistant.language import CJK, detect_language
from assistant.types import Turn

ELLIPTICAL_ZH = re.compile(r"^(那|那么|还有|另外|此外|而|和|以及)|[它其这那]些?(个|种|项|家)?[呢的]|第[一二三四五六七八九十\d]+[个种项点条家]|前者|后者|上述|呢[？?]?$")
ELLIPTICAL_EN = re.compile(
    r"^(and|or|but|what about|how about|also|then)\b|\b(it|its|they|them|their|this|that|these|those|the (first|second|third|last|former|latter)( one)?)\b",
    re.I,
)
SHORT = {"zh": 8, "en": 4}  # content length below which a question cannot stand alone (characters / words)
QUESTION_WORDS = frozenset("what which who whom whose when where why how much many 哪些 什么 多少 如何 为什么 是否 谁".split())


def is_elliptical(question: str, language: str) -> bool:
    text = question.strip()
    if language == "zh":
        core = re.sub(f"[^{CJK}A-Za-z0-9]", "", text)
        return bool(ELLIPTICAL_ZH.search(text)) or len(core) <= SHORT["zh"]
    return bool(ELLIPTICAL_EN.search(text)) or len(re.findall(r"[A-Za-z0-9]+", text)) <= SHORT["en"]


def key_terms(question: str) -> list[str]:
    """Content words of a question, in order, without duplicates or question words."""
    return list(dict.fromkeys(t for t in tokenize(question) if t not in QUESTION_WORDS and len(t) > 1))


def condense_offline(question: str, history: Sequence[Turn]) -> str:
    """The question to retrieve with: unchanged when it stands alone, else enriched with the previous topic."""
    if not history:
        return question
    previous = condense_offline(history[-1][0], history[:-1])
    if not is_elliptical(question, detect_language(question)):
        return question
    carried = [t for t in key_terms(previous) if t not in question.lower()]
    return f"{question} ({' '.join(carried)})" if carried else question
