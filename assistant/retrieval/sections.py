"""Questions about parts of the report: "第三节", "section 3", "the summary", "the conclusion", "the table of vendors".

A reference to a section restricts retrieval to that section's chunks, so every quote
comes from the part the user named; a question may name several ("摘要和第三节", "at the
start of the report and in the vendor tables"), and then the scope is their union. A summary
intent ("总结", "key points") asks for the section's most central sentences instead of the
ones closest to the question's wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.types import Chunk

CHINESE_NUMERALS = "一二三四五六七八九十"
CONCLUSION_CHUNKS = 2  # the report's outlook: the closing prose chunks of its last section
ENGLISH_NUMBER = r"\d{1,2}|one|two|three|four|five"
NUMBERED_RE = re.compile(
    rf"第\s*([{CHINESE_NUMERALS}]|\d{{1,2}})\s*[节章部]|\b(?:sections?|chapters?|parts?)\s+((?:(?:{ENGLISH_NUMBER})\s*(?:,|and|&)\s*)*(?:{ENGLISH_NUMBER}))\b",
    re.I,
)
NUMBER_WORD_RE = re.compile(ENGLISH_NUMBER, re.I)
ENGLISH_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
ABSTRACT_RE = re.compile(
    r"摘要|(?:报告|文章)?(?:开头|开篇)|\b(?:the|its|report's) (?:executive )?summary\b(?!\s+of\b)|\bexecutive summary\b|\babstract\b"
    r"|\b(?:start|beginning|opening) of the report\b",
    re.I,
)
CONCLUSION_RE = re.compile(r"结论|结语|结尾|\bconclu(?:sion|des?|ding)\b|\b(?:end of the report|outlook)\b", re.I)
# Predictions are what the report's close is about; with a section named they are that section's content instead.
PREDICTIONS_RE = re.compile(r"展望|(?:什么|哪些|哪几个|几个|四个|主要)预测|预测(?:有哪些|是什么)|\bpredictions\b", re.I)
VENDOR_TABLE_RE = re.compile(r"供应商表|供应商的?表格|\btables? of (?:vendors|providers|suppliers)\b|\bvendor tables?\b", re.I)
SUMMARY_RE = re.compile(
    r"总结|概括|概述|归纳|主要观点|核心观点|要点|\bsummar(?:y|ize|ise)\b|\bkey (?:points|takeaways|predictions)\b"
    r"|\boverview\b|\bmain (?:points|ideas|arguments)\b|\bgist\b",
    re.I,
)


@dataclass(frozen=True)
class SectionFilter:
    """Which chunks a question is about: a section by number or role, or the report's vendor tables."""

    label: str
    number: int = 0  # 第N节
    role: str = ""  # "abstract", "conclusion" or "vendors"

    def matches(self, chunk: Chunk, numbered: list[str]) -> bool:
        if self.role == "vendors":
            return chunk.kind == "table" and "供应商 描述" in chunk.text
        if self.role == "abstract":
            return chunk.section == "摘要"
        if self.role == "conclusion":  # the report has no conclusion section: its outlook closes the last one
            return bool(numbered) and chunk.section == numbered[-1]
        return chunk.section.startswith(f"第{numeral(self.number)}节")


def numeral(number: int) -> str:
    return CHINESE_NUMERALS[number - 1] if 1 <= number <= len(CHINESE_NUMERALS) else str(number)


@dataclass(frozen=True)
class SectionScope:
    """The parts a question names, bound to the report's numbered sections (the conclusion is the last one)."""

    parts: tuple[SectionFilter, ...] = ()
    numbered: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "+".join(part.label for part in self.parts)

    def part_of(self, chunk: Chunk) -> int | None:
        """The index of the first named part the chunk belongs to, or None."""
        return next((i for i, part in enumerate(self.parts) if part.matches(chunk, list(self.numbered))), None)


def number_of(raw: str) -> int:
    raw = raw.lower()
    return int(raw) if raw.isdigit() else ENGLISH_NUMBERS.get(raw) or CHINESE_NUMERALS.index(raw) + 1


def section_references(question: str) -> tuple[SectionFilter, ...]:
    """Every part of the report a question names, in the order it names them, each once."""
    found: list[tuple[int, SectionFilter]] = []
    for match in NUMBERED_RE.finditer(question):
        numbers = [match.group(1)] if match.group(1) else NUMBER_WORD_RE.findall(match.group(2))
        for raw in numbers:
            number = number_of(raw)
            found.append((match.start(), SectionFilter(f"第{numeral(number)}节", number=number)))
    for pattern, part in (
        (VENDOR_TABLE_RE, SectionFilter("vendor tables", role="vendors")),
        (ABSTRACT_RE, SectionFilter("摘要", role="abstract")),
        (CONCLUSION_RE, SectionFilter("conclusion", role="conclusion")),
    ):
        match = pattern.search(question)
        if match:
            found.append((match.start(), part))
    prediction = PREDICTIONS_RE.search(question)
    if prediction and not found:
        found.append((prediction.start(), SectionFilter("conclusion", role="conclusion")))
    return tuple(dict.fromkeys(part for _, part in sorted(found, key=lambda item: item[0])))


def wants_summary(question: str) -> bool:
    return bool(SUMMARY_RE.search(question))


def numbered_sections(chunks: list[Chunk]) -> list[str]:
    """The report's numbered sections in document order."""
    return list(dict.fromkeys(c.section for c in sorted(chunks, key=lambda c: c.start) if re.match(r"第.{1,3}节", c.section)))


def main_sections(chunks: list[Chunk]) -> list[str]:
    """Sections a whole-report summary covers: the abstract and the numbered sections (not "about us" pages)."""
    return [s for s in dict.fromkeys(c.section for c in sorted(chunks, key=lambda c: c.start)) if s == "摘要" or re.match(r"第.{1,3}节", s)]
