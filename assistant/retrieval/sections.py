"""Questions about a part of the report: "第三节", "section 3", "the summary", "the conclusion", "the table of vendors".

A reference to a section restricts retrieval to that section's chunks, so every quote
comes from the part the user named. A summary intent ("总结", "key points") asks for the
section's most central sentences instead of the ones closest to the question's wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.types import Chunk

CHINESE_NUMERALS = "一二三四五六七八九十"
CONCLUSION_CHUNKS = 2  # the report's outlook: the closing prose chunks of its last section
NUMBERED_RE = re.compile(r"第\s*([一二三四五六七八九十]|\d{1,2})\s*[节章部]|\b(?:section|chapter|part)\s+(\d{1,2}|one|two|three|four|five)\b", re.I)
ENGLISH_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
ABSTRACT_RE = re.compile(r"摘要|\b(?:the|its|report's) (?:executive )?summary\b|\bexecutive summary\b|\babstract\b", re.I)
CONCLUSION_RE = re.compile(
    r"结论|结语|展望|(?:什么|哪些|哪几个|几个|四个|主要)预测|预测(?:有哪些|是什么)"
    r"|\bconclu(?:sion|des?|ding)\b|\boutlook\b|\bpredictions\b",
    re.I,
)
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


def section_reference(question: str) -> SectionFilter | None:
    """The part of the report a question names, if any."""
    match = NUMBERED_RE.search(question)
    if match:
        raw = (match.group(1) or match.group(2)).lower()
        number = int(raw) if raw.isdigit() else ENGLISH_NUMBERS.get(raw) or CHINESE_NUMERALS.index(raw) + 1
        return SectionFilter(f"第{numeral(number)}节", number=number)
    if VENDOR_TABLE_RE.search(question):
        return SectionFilter("vendor tables", role="vendors")
    if ABSTRACT_RE.search(question):
        return SectionFilter("摘要", role="abstract")
    if CONCLUSION_RE.search(question):
        return SectionFilter("conclusion", role="conclusion")
    return None


def wants_summary(question: str) -> bool:
    return bool(SUMMARY_RE.search(question))


def numbered_sections(chunks: list[Chunk]) -> list[str]:
    """The report's numbered sections in document order."""
    return list(dict.fromkeys(c.section for c in sorted(chunks, key=lambda c: c.start) if re.match(r"第.{1,3}节", c.section)))


def main_sections(chunks: list[Chunk]) -> list[str]:
    """Sections a whole-report summary covers: the abstract and the numbered sections (not "about us" pages)."""
    return [s for s in dict.fromkeys(c.section for c in sorted(chunks, key=lambda c: c.start)) if s == "摘要" or re.match(r"第.{1,3}节", s)]
