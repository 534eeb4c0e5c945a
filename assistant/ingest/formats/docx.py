"""DOCX: paragraphs and tables in document order; Title and Heading styles become Markdown headings."""

from __future__ import annotations

import re
from io import BytesIO

from docx import Document
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from assistant.errors import UnreadableContent

HEADING_STYLE_RE = re.compile(r"^(?:Title|Heading ([1-9]))$")
CELL_SEPARATOR = " | "


def read_docx(data: bytes) -> tuple[str, str]:
    try:
        document = Document(BytesIO(data))
        lines = [line for block in document.iter_inner_content() for line in block_lines(block)]
    except Exception as exc:  # zipfile, lxml and python-docx each signal a damaged file in their own way
        raise UnreadableContent.damaged("DOCX", exc) from exc
    return "\n".join(lines), ""


def block_lines(block: Paragraph | Table) -> list[str]:
    """One line per paragraph, one per table row with its cells separated by a bar."""
    if isinstance(block, Table):
        return [line for row in block.rows if (line := row_text(row.cells))]
    text = " ".join(block.text.split())
    if not text:
        return []
    level = heading_level(block)
    return [f"{'#' * level} {text}" if level else text]


def heading_level(paragraph: Paragraph) -> int:
    """Markdown level: Title and Heading 1 open sections (levels 1-2), deeper headings are sub-headings."""
    name = paragraph.style.name if paragraph.style is not None else ""
    match = HEADING_STYLE_RE.match(name or "")
    if match is None:
        return 0
    return min(int(match.group(1) or 0) + 1, 6)


def row_text(cells: list[_Cell]) -> str:
    """A merged cell is listed once per grid column it spans; it is written once."""
    distinct = [cell for i, cell in enumerate(cells) if i == 0 or cell is not cells[i - 1]]
    texts = [" ".join(cell.text.split()) for cell in distinct]
    return CELL_SEPARATOR.join(texts) if any(texts) else ""
