"""HTML: the visible text of the main content, one line per block element, h1-h6 as Markdown headings.

Walked as a flat sequence of nodes (never recursively), so arbitrarily deep nesting cannot overflow the stack.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.exceptions import ParserRejectedMarkup

from assistant.errors import UnreadableContent
from assistant.ingest.formats.text import reject_binary

DROPPED = ("head", "script", "style", "nav", "footer", "template", "noscript", "svg")
BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html",
    "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
})
HEADING_LEVELS = {f"h{n}": n for n in range(1, 7)}
CELLS = frozenset({"td", "th"})
CELL_SEPARATOR = " | "


def read_html(data: bytes) -> tuple[str, str]:
    """Bytes go to BeautifulSoup so a declared ``<meta charset>`` is honoured before any guessing."""
    reject_binary(data)
    try:
        soup = BeautifulSoup(data, "html.parser")
    except ParserRejectedMarkup as exc:
        raise UnreadableContent.damaged("HTML", exc) from exc
    for tag in soup.find_all(DROPPED):
        tag.extract()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    return "\n".join(block_lines(root)), soup.original_encoding or ""


def block_lines(root: Tag) -> list[str]:
    """Text grouped by nearest enclosing block; inline markup (links, emphasis) stays inside its block's line."""
    block_of: dict[int, Tag] = {id(root): root}
    lines: list[tuple[Tag, list[str]]] = []
    for node in root.descendants:
        if isinstance(node, Tag):
            parent_block = block_of[id(node.parent)]
            block_of[id(node)] = node if node.name in BLOCKS else parent_block
            if node.name == "br":
                lines.append((parent_block, []))
            elif node.name in CELLS and lines and lines[-1][0] is parent_block and "".join(lines[-1][1]).strip():
                lines[-1][1].append(CELL_SEPARATOR)  # a row's later cells; empty cells are skipped
        elif type(node) is NavigableString:  # comments, doctypes and CDATA are subclasses
            block = block_of[id(node.parent)]
            if not lines or lines[-1][0] is not block:
                lines.append((block, []))
            lines[-1][1].append(str(node))
    rendered = []
    for block, parts in lines:
        text = " ".join("".join(parts).split())
        level = HEADING_LEVELS.get(block.name, 0)
        if text.strip(" |"):
            rendered.append(f"{'#' * level} {text}" if level else text)
    return rendered
