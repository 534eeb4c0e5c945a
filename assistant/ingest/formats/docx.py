"""DOCX: paragraphs and tables in document order; Title and Heading styles become Markdown headings."""

from __future__ import annotations

import re
from io import BytesIO

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from assistant.errors import UnreadableContent

HEADING_STYLE_RE = re.compile(r"^(?:Title|Heading ([1-9]))$")
CELL_SEPARATOR = " | "
MAX_PARAGRAPHS = 200_000
"""More paragraphs than a very long book (about 3,000 pages); reading stays linear, but indexing would take hours."""


def read_docx(data: bytes) -> tuple[str, str]:
    try:
        document = Document(BytesIO(data))
        paragraphs = len(document.element.body.findall(".//" + qn("w:p")))
        if paragraphs > MAX_PARAGRAPHS:
            raise UnreadableContent(
                f"it has {paragraphs:,} paragraphs, more than the {MAX_PARAGRAPHS:,} a document may have; split it into parts"
            )
        levels = heading_levels(document)
        lines = [line for block in document.iter_inner_content() for line in block_lines(block, levels)]
    except UnreadableContent:
        raise
    except Exception as exc:  # zipfile, lxml and python-docx each signal a damaged file in their own way
        raise UnreadableContent.damaged("DOCX", exc) from exc
    return "\n".join(lines), ""


def heading_levels(document: DocxDocument) -> dict[str, int]:
    """Markdown level per heading style id, read once per document.

    ``Paragraph.style`` resolves the style through the whole styles part on every call (about 1.4 ms each), which
    made large documents effectively quadratic; one dictionary per document makes reading linear. Title and
    Heading 1 open sections (levels 1-2), deeper headings are sub-headings.
    """
    levels: dict[str, int] = {}
    for style in document.styles:
        match = HEADING_STYLE_RE.match(style.name or "")
        if match is not None and style.style_id:
            levels[style.style_id] = min(int(match.group(1) or 0) + 1, 6)
    return levels


def block_lines(block: Paragraph | Table, levels: dict[str, int]) -> list[str]:
    """One line per paragraph, one per table row with its cells separated by a bar."""
    if isinstance(block, Table):
        return [line for row in block.rows if (line := row_text(row.cells))]
    text = " ".join(block.text.split())
    if not text:
        return []
    level = levels.get(block._p.style or "", 0)  # the paragraph's style id, without resolving the style
    return [f"{'#' * level} {text}" if level else text]


def row_text(cells: list[_Cell]) -> str:
    """A merged cell is listed once per grid column it spans; it is written once."""
    distinct = [cell for i, cell in enumerate(cells) if i == 0 or cell is not cells[i - 1]]
    texts = [" ".join(cell.text.split()) for cell in distinct]
    return CELL_SEPARATOR.join(texts) if any(texts) else ""
