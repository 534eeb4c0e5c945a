"""The report's extracted lines, scanned once: noise dropped, pages numbered, adjacency and page starts remembered.

Running headers, bare page numbers, footnote links and "Source: Deloitte" captions carry no content; a line
starting with a single space (or a form feed, for other readers) opens a page, and so does the line right after a
removed page number or running header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RUNNING_HEADER_RE = re.compile(r"^.{2,40}\s*\|\s*(第[一二三四五六七八九十\d]+节|摘要).*$")
PAGE_NUMBER_RE = re.compile(r"^\d{1,3}$")
URL_LINE_RE = re.compile(r"^(?:https?://\S+\s*)+$")  # footnote links: a reference, not content
CAPTION_RE = re.compile(r"\s*Source:\s*Deloitte\s*")
MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")


def is_noise(line: str) -> bool:
    """Running headers, bare page numbers and footnote links carry no content."""
    return bool(RUNNING_HEADER_RE.match(line) or PAGE_NUMBER_RE.match(line) or URL_LINE_RE.match(line))


def strip_captions(line: str) -> str:
    return CAPTION_RE.sub("", line).strip()


@dataclass
class Line:
    """A content line with the layout facts cleaning needs."""

    text: str
    page: int
    tight: bool  # no blank line between this line and the previous content line
    markdown_heading: int = 0
    after_noise: bool = False  # a page number, running header or caption was removed just before this line
    page_break: bool = False  # opens a page: a page mark, or right after a removed page number or running header


def scan_lines(raw: str, *, page_marks: bool) -> list[Line]:
    """Drop noise, number pages (single-space marks or form feeds), remember which lines were adjacent."""
    lines: list[Line] = []
    page = 0
    title = ""
    removed = False
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
            text = strip_captions(line_text)
            if not text or (page_marks and (is_noise(text) or text == title)):
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
                )
            )
            broke = False
            removed = text != line_text  # a caption cut from this line's end lies between it and the next
            blank_since_last = False
    return lines
