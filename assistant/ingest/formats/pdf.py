"""PDF: the text layer page by page, so citations carry the real page number.

Each page's visual lines are separated by blank lines, the shape cleaning rejoins into
sentences; running headers and footers are dropped and bookmarks become headings.
"""

from __future__ import annotations

import re
from collections import Counter
from io import BytesIO

from pypdf import PdfReader
from pypdf.errors import DependencyError

from assistant.errors import UnreadableContent

EDGE_LINES = 2  # lines at the top and at the bottom of a page where running headers and footers sit
PAGE_NUMBER_RE = re.compile(
    r"^(?:page\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?$"  # 3, - 3 -, Page 3 of 9, 3 / 9
    r"|^第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?$",  # 第3页, 第 3 页 共 9 页
    re.IGNORECASE,
)
EDGE_NUMBER_RE = re.compile(r"^\d+|\d+$")
HEADING_MARKS = ("#", "###")  # top-level bookmarks become sections, nested ones sub-headings


def read_pdf(data: bytes) -> tuple[str, str]:
    try:
        reader = open_pdf(data)
        pages = [page_lines(page.extract_text()) for page in reader.pages]
        headings = bookmarks(reader)
    except UnreadableContent:
        raise
    except Exception as exc:  # pypdf signals a malformed file with many built-in exception types
        raise UnreadableContent.damaged("PDF", exc) from exc
    pages = strip_running_lines(pages)
    for index, titles in headings.items():
        if index < len(pages):
            pages[index] = mark_headings(pages[index], titles)
    return "\f".join("\n\n".join(lines) for lines in pages), ""


def open_pdf(data: bytes) -> PdfReader:
    """A reader ready for extraction; PDFs locked only against editing open with the empty password."""
    reader = PdfReader(BytesIO(data))
    if reader.is_encrypted:
        try:
            unlocked = reader.decrypt("")
        except DependencyError as exc:
            raise UnreadableContent(f"it is encrypted in a way this installation cannot open ({exc})") from exc
        if not unlocked:
            raise UnreadableContent("it is password-protected (save a copy without a password)")
    return reader


def page_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def edge_key(line: str) -> str:
    """Lines differing only in a leading or trailing number (where page numbers sit) are the same running line."""
    return EDGE_NUMBER_RE.sub("#", line.lower())


def edges(lines: list[str]) -> list[int]:
    return sorted({*range(min(EDGE_LINES, len(lines))), *range(max(len(lines) - EDGE_LINES, 0), len(lines))})


def strip_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers and lines repeated at the top or bottom of most pages (more than half, at least two)."""
    counts = Counter(key for lines in pages for key in {edge_key(lines[i]) for i in edges(lines)})
    threshold = max(2, sum(1 for lines in pages if lines) // 2 + 1)
    stripped = []
    for lines in pages:
        running = {i for i in edges(lines) if counts[edge_key(lines[i])] >= threshold or PAGE_NUMBER_RE.match(lines[i])}
        stripped.append([line for i, line in enumerate(lines) if i not in running])
    return stripped


def bookmarks(reader: PdfReader) -> dict[int, list[tuple[int, str]]]:
    """Bookmark titles with their nesting depth, by page index; walked without recursion (outlines nest freely)."""
    found: dict[int, list[tuple[int, str]]] = {}
    pending: list[tuple[object, int]] = [(item, 0) for item in reversed(reader.outline)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, list):  # the children of the bookmark before it
            pending.extend((child, depth + 1) for child in reversed(item))
            continue
        page = reader.get_destination_page_number(item)
        title = " ".join(str(item.title or "").split())
        if title and page is not None and page >= 0:
            found.setdefault(page, []).append((depth, title))
    return found


def mark_headings(lines: list[str], titles: list[tuple[int, str]]) -> list[str]:
    """Turn the line showing each bookmark title into a heading; a title not shown on the page opens it."""
    marked = list(lines)
    opening = []
    for depth, title in titles:
        heading = f"{HEADING_MARKS[min(depth, 1)]} {title}"
        key = "".join(title.split())
        at = next((i for i, line in enumerate(marked) if "".join(line.split()) == key), None)
        if at is None:
            opening.append(heading)
        else:
            marked[at] = heading
    return opening + marked
