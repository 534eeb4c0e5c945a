"""Questions about parts of a document: "第三节", "section 9", "第五讲", "Lesson 2", "the abstract", "the conclusion".

A reference to a numbered part restricts retrieval to the chunks of the sections whose heading carries that
number (labels are read by ``language.section_labels``: 第N节/章/讲/条, "Section N", a bare "N." heading), so
every quote comes from the part the user named; a question may name several parts, and then the scope is their
union. The abstract and the conclusion are found by their headings' names (摘要, Summary, 结论, Conclusion), never
by position. A summary intent ("总结", "key points") asks for a section's most central sentences instead of the
ones closest to the question's wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.language import SectionLabel, heading_labels, section_label_spans
from assistant.types import Chunk

ABSTRACT_RE = re.compile(
    r"摘要|概要|(?:报告|文章|文档)?(?:开头|开篇)|\b(?:the|its) (?:executive )?summary\b(?!\s+(?:of|at|in|for)\b)|\bexecutive summary\b"
    r"|\babstract\b|\b(?:start|beginning|opening) of the (?:report|document)\b",
    re.I,
)
CONCLUSION_RE = re.compile(r"结论|结语|\bconclu(?:sion|des?|ding)\b", re.I)
ABSTRACT_HEADING_RE = re.compile(r"^(?:摘要|概要|Summary|Abstract|Executive Summary)$", re.I)
CONCLUSION_HEADING_RE = re.compile(r"^(?:结论|结语|总结|Conclusions?|Closing Remarks)$", re.I)
SUMMARY_RE = re.compile(
    r"总结|概括|概述|归纳|主要观点|核心观点|要点|\bsummar(?:y|ize|ise)\b|\bkey (?:points|takeaways)\b"
    r"|\boverview\b|\bmain (?:points|ideas|arguments)\b|\bgist\b",
    re.I,
)
ROLE_HEADINGS = {"abstract": ABSTRACT_HEADING_RE, "conclusion": CONCLUSION_HEADING_RE}


@dataclass(frozen=True)
class SectionFilter:
    """Which chunks a question is about: a numbered part (a path of labels, "第一讲第二节") or a named role."""

    label: str
    path: tuple[SectionLabel, ...] = ()
    role: str = ""  # "abstract" or "conclusion"

    def matches(self, chunk: Chunk) -> bool:
        if self.role:
            return bool(ROLE_HEADINGS[self.role].match(chunk.section.strip()))
        labels = heading_labels(chunk.section)
        return all(any(have.answers(wanted) for have in labels) for wanted in self.path)


@dataclass(frozen=True)
class SectionScope:
    """The parts a question names."""

    parts: tuple[SectionFilter, ...] = ()

    @property
    def label(self) -> str:
        return "+".join(part.label for part in self.parts)

    def part_of(self, chunk: Chunk) -> int | None:
        """The index of the first named part the chunk belongs to, or None."""
        return next((i for i, part in enumerate(self.parts) if part.matches(chunk)), None)


def section_references(question: str) -> tuple[SectionFilter, ...]:
    """Every part a question names, in the order it names them, each once; adjacent labels ("第一讲第二节") form
    one path."""
    found: list[tuple[int, SectionFilter]] = []
    paths: list[tuple[int, int, list[SectionLabel]]] = []
    for start, end, label in section_label_spans(question):
        if paths and start == paths[-1][1]:
            paths[-1] = (paths[-1][0], end, [*paths[-1][2], label])
        else:
            paths.append((start, end, [label]))
    found = [(start, SectionFilter(path_label(path), path=tuple(path))) for start, _, path in paths]
    for pattern, role in ((ABSTRACT_RE, "abstract"), (CONCLUSION_RE, "conclusion")):
        match = pattern.search(question)
        if match:
            found.append((match.start(), SectionFilter(role, role=role)))
    return tuple(dict.fromkeys(part for _, part in sorted(found, key=lambda item: item[0])))


def path_label(path: list[SectionLabel]) -> str:
    """A part's label, the same however the question wrote it: "第三节", "section 3" and "第3节" are all "节3"."""
    return "/".join(f"{label.unit or '#'}{label.number}" for label in path)


def wants_summary(question: str) -> bool:
    return bool(SUMMARY_RE.search(question))


def main_sections(chunks: list[Chunk]) -> list[str]:
    """Sections a whole-document summary covers, in document order: the numbered ones and the abstract (not
    unnumbered pages such as an "about us" page)."""
    ordered = dict.fromkeys(c.section for c in sorted(chunks, key=lambda c: (c.doc_id, c.start)))
    return [s for s in ordered if heading_labels(s) or ABSTRACT_HEADING_RE.match(s.strip())]
