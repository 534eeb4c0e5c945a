"""A document's lines, scanned once: noise dropped, pages numbered, adjacency and page starts remembered.

What carries no content is found by its shape and by repetition, never by its words: running headers (the
title line again, alone or before a "|"), bare page numbers, footnote links, and captions (a short "label: value"
line that recurs, such as a figure's source credit, cut wherever it stands). In an extracted PDF's text a line
starting with a single space opens a page (form feeds elsewhere), and so does the line right after a removed page
number or running header. Rule lines (``=====``, ``~~~~``) separate parts: they are dropped and the line after one
is marked, because what follows a rule is often a heading.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

PAGE_NUMBER_RE = re.compile(r"^\d{1,3}$")
URL_LINE_RE = re.compile(r"^(?:https?://\S+\s*)+$")  # footnote links: a reference, not content
MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
RULE_RE = re.compile(r"^([=~\-*_#+])\1{4,}$")  # a separator line of one repeated mark
FRAME_RE = re.compile(r"^([=*])\s+(.*?)\s+\1$")  # "=  title  =": a framed line keeps its inside
# "Source: Acme", "资料来源：某机构"; a name with a colon inside ("Co:here") is no label.
CAPTION_SHAPE_RE = re.compile(r"^[^:：。！？]{2,20}(?::\s+|：\s*)[^:：。！？]{1,30}$")
CAPTION_REPEATS = 3  # a "label: value" line this frequent is a running caption, not content


def captions(raw: str) -> tuple[str, ...]:
    """Recurring short "label: value" lines (a figure's source credit on every figure), longest first."""
    counts = Counter(line.strip() for line in raw.splitlines() if CAPTION_SHAPE_RE.match(line.strip()))
    return tuple(sorted((text for text, n in counts.items() if n >= CAPTION_REPEATS), key=len, reverse=True))


def strip_captions(line: str, found: tuple[str, ...]) -> str:
    """The line without the recurring captions, wherever they stand in it."""
    for caption in found:
        line = line.replace(caption, "")
    return line.strip()


def is_running_header(line: str, title: str) -> bool:
    """The document's title repeated at the top of a page, alone or before "| part name"."""
    return bool(title) and (line == title or (line.startswith(title) and line[len(title) :].lstrip().startswith("|")))


def is_noise(line: str) -> bool:
    """Bare page numbers and footnote links carry no content."""
    return bool(PAGE_NUMBER_RE.match(line) or URL_LINE_RE.match(line))


def unframed(line: str) -> str:
    """A line's text without a frame of one mark at both ends ("=  Vim tutor  =" → "Vim tutor")."""
    framed = FRAME_RE.match(line)
    return framed.group(2) if framed else line


@dataclass
class Line:
    """A content line with the layout facts cleaning needs."""

    text: str
    page: int
    tight: bool  # no blank line between this line and the previous content line
    markdown_heading: int = 0
    after_noise: bool = False  # a page number, running header or caption was removed just before this line
    page_break: bool = False  # opens a page: a page mark, or right after a removed page number or running header
    after_rule: bool = False  # a rule line (=====, ~~~~) stands just before this line
    indent: int = 0  # leading spaces (tabs expanded): a centred line is a title's shape in plain text


def scan_lines(raw: str, *, page_marks: bool) -> list[Line]:
    """Drop noise, number pages (single-space marks or form feeds), remember which lines were adjacent."""
    lines: list[Line] = []
    page = 0
    title = ""
    removed = False
    ruled = False
    found = captions(raw)
    for number, page_text in enumerate([raw] if page_marks else raw.split("\f"), 1):
        blank_since_last = True
        broke = True
        for raw_line in page_text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if not raw_line.strip():
                blank_since_last = True
                continue
            if page_marks and raw_line.startswith(" ") and not raw_line.startswith("  "):
                page += 1
                blank_since_last = True  # a new page never continues the previous line as a table row
                broke = True
            page = max(page, number)
            line_text = raw_line.replace("\u00a0", " ").replace("\ufeff", "").strip()
            if RULE_RE.match(line_text):
                ruled = blank_since_last = True
                continue
            text = unframed(strip_captions(line_text, found))
            if not text or (page_marks and (is_noise(text) or is_running_header(text, title))):
                removed = True
                broke = broke or bool(text) and not URL_LINE_RE.match(text)  # a page's foot or head, not a footnote link
                continue
            title = title or text  # the title line repeats on later pages as a running header
            md = MD_HEADING_RE.match(text) if not page_marks else None
            lines.append(
                Line(
                    text=md.group(2) if md else text,
                    page=page,
                    tight=not blank_since_last,
                    markdown_heading=len(md.group(1)) if md else 0,
                    after_noise=removed,
                    page_break=broke,
                    after_rule=ruled,
                    indent=len(raw_line.expandtabs(8)) - len(raw_line.expandtabs(8).lstrip()),
                )
            )
            broke = ruled = False
            removed = text != line_text  # a caption cut from this line's end lies between it and the next
            blank_since_last = False
    return lines
