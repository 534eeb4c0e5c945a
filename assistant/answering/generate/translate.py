"""English answers over Chinese text by translation: the extractive quotes, or a verified Chinese digest.

Asked to answer an English question from Chinese sources, the bundled 1.5B model drops or
garbles the specifics the sources give (keyword recall 0.56 on the English dev questions,
against 0.78 for the Chinese quotes the extractive answerer picks) and reads ~550 prompt
tokens first. Translating those quotes is a task it does well: with one line per quote and
its number kept, the English answer holds what the quotes hold (0.78), the prompt is a third
as long, and every line is checked against the window that contains its quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.answering.generate.prompts import Message, build_quotes_translation_messages, build_translation_messages
from assistant.answering.verify.quantities import SCALES
from assistant.answering.evidence.windows import Window
from assistant.language import CJK, detect_language, section_label_spans
from assistant.types import Answer, Citation

MARKER_RE = re.compile(r"\[(\d+)\]")  # the verifier's canonical markers
CHINESE_AMOUNT_RE = re.compile(r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(万亿|亿|万)(美元|元|人民币)?")
ENGLISH_SCALES = tuple((SCALES[name], name) for name in ("trillion", "billion", "million", "thousand"))
CURRENCIES = {"美元": " US dollars", "元": " yuan", "人民币": " yuan"}
BULLETS_RE = re.compile(r"\s*(?:•\s*)+")
ENGLISH_UNITS = {"节": "Section", "章": "Chapter", "讲": "Lesson", "条": "Section", "部": "Part"}
HAN_BREAK_RE = re.compile(f"(?<=[{CJK}])\\s+(?=[{CJK}])")  # a PDF line break inside a Chinese word


def english_amount(value: float) -> str:
    """2e11 → "200 billion", 3e8 → "300 million", 2.5e9 → "2.5 billion": the largest English scale that fits."""
    for scale, name in ENGLISH_SCALES:
        if value >= scale:
            return f"{value / scale:,.2f}".rstrip("0").rstrip(".") + f" {name}"
    return f"{value:,.0f}"


def translation_line(quote: str) -> str:
    """A quote as one line for the translation prompt: table cells joined by "；" instead of line breaks and the
    table's "• • • •" marks (which column a use case falls in, lost once a row is one line), amounts and section
    references in English."""
    cells = BULLETS_RE.split(HAN_BREAK_RE.sub("", " ".join(quote.split())))  # the split takes the spaces around marks
    return sections_in_english(amounts_in_english("；".join(cell for cell in cells if cell)))


def sections_in_english(text: str) -> str:
    """Section references written as the English reader will look for them (见第2节 → 见 Section 2).

    The 1.5B drops a parenthesised "（见第2节）" from its translation, the one place a sentence says where a topic
    is covered; given "Section 2" it keeps it. The figure stays, so the line verifies against the quote.
    """
    for start, end, label in reversed(section_label_spans(text)):
        if text[start] == "第":
            text = f"{text[:start]} {ENGLISH_UNITS.get(label.unit, 'Section')} {label.number} {text[end:]}"
    return text


def amounts_in_english(text: str) -> str:
    """Chinese amounts written in English scales (2,000亿美元 → 200 billion US dollars) before a model translates them.

    The 1.5B turns 2,000亿美元 into "$20 billion" and 20亿美元 into "$20 billion" although its prompt explains 亿;
    given the converted figure it copies it. The verifier compares figures across units, so the line still checks
    against the original quote.
    """

    def convert(match: re.Match[str]) -> str:
        value = float(match.group(1).replace(",", "")) * SCALES[match.group(2)]
        return english_amount(value) + CURRENCIES.get(match.group(3) or "", "")

    return CHINESE_AMOUNT_RE.sub(convert, text)


def renumber_markers(text: str, numbers: Mapping[int, int]) -> str:
    """Canonical ``[n]`` markers mapped through ``numbers``; a marker it does not map is dropped."""
    return MARKER_RE.sub(lambda m: f"[{numbers[int(m.group(1))]}]" if int(m.group(1)) in numbers else "", text)


def window_numbers(citations: Sequence[Citation], windows: Sequence[Window]) -> dict[int, int] | None:
    """Each citation's number mapped to the window (numbered from 1) that holds its quote; None when one lies in none."""
    numbers = {}
    for citation in citations:
        holder = next(
            (n for n, w in enumerate(windows, start=1)
             if w.source.doc_id == citation.source and w.source.start <= citation.start and citation.end <= w.source.end),
            None,
        )
        if holder is None:
            return None
        numbers[citation.n] = holder
    return numbers


def translation_prompt(chinese: Answer, windows: Sequence[Window]) -> list[Message] | None:
    """The prompt that turns a verified Chinese digest into the English one over the same ``windows``.

    Its markers are renumbered to the windows that hold each quote, so the translation cites the
    sources the verifier checks it against; None when a quote lies in none of them.
    """
    numbers = window_numbers(chinese.citations, windows)
    return None if numbers is None else build_translation_messages(renumber_markers(chinese.text, numbers))


def quotes_prompt(extractive: Answer, windows: Sequence[Window]) -> list[Message] | None:
    """The prompt that translates the extractive answer's quotes, one numbered line each, into the asker's language."""
    numbers = window_numbers(extractive.citations, windows)
    if not numbers:
        return None
    lines = [(translation_line(c.quote), numbers[c.n]) for c in extractive.citations]
    return build_quotes_translation_messages(lines, extractive.language)


def needs_translation(extractive: Answer) -> bool:
    """Whether the quotes are in the other language than the question: Chinese quotes for an English reader, or
    English quotes (an English document) for a Chinese reader."""
    quotes = " ".join(c.quote for c in extractive.citations)
    return bool(quotes) and extractive.language in ("zh", "en") and detect_language(quotes) != extractive.language
