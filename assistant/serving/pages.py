"""The page of a PDF behind a citation, rendered on the server with the quoted passage highlighted where it is.

pypdfium2 (PDFium, the engine of Chrome's PDF viewer) renders the page and reports each character's box, so the
highlight lands on the quote's real position: the quote comes from the cleaned text, whose whitespace differs from
the PDF's, so it is found in the page's own text with whitespace ignored and mapped back to those characters.
Nothing is fetched: the page is drawn from the file in the corpus.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import NotAPdf, UnknownPage

SCALE = 1.5  # 108 dpi: readable in the Sources panel, ~150 KB a page
HIGHLIGHT = (253, 224, 71, 110)  # translucent yellow over the text
MAX_QUOTE_CHARS = 2000


@dataclass(frozen=True)
class Box:
    """A highlighted rectangle in image pixels (origin top left)."""

    left: int
    top: int
    right: int
    bottom: int


def quote_boxes(pdf: Path, page_number: int, quote: str) -> tuple[list[Box], tuple[int, int]]:
    """The boxes covering ``quote`` on page ``page_number`` (1-based), one per run of characters on a line, in the
    pixels of the rendered page, and that image's size; no boxes when the page does not hold the quote."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        if not 1 <= page_number <= len(document):
            raise UnknownPage(pdf.name, page_number, len(document))
        page = document[page_number - 1]
        width, height = page.get_size()
        text = page.get_textpage()
        chars = text.get_text_range()
        kept = [i for i, char in enumerate(chars) if not char.isspace()]
        squeezed = "".join(chars[i] for i in kept)
        wanted = "".join(quote.split())[:MAX_QUOTE_CHARS]
        at = squeezed.find(wanted) if wanted else -1
        boxes: list[Box] = []
        if at >= 0:
            for i in kept[at : at + len(wanted)]:
                left, bottom, right, top = text.get_charbox(i)
                box = Box(int(left * SCALE), int((height - top) * SCALE), int(right * SCALE) + 1, int((height - bottom) * SCALE) + 1)
                boxes = _merged(boxes, box)
        return boxes, (int(width * SCALE), int(height * SCALE))
    finally:
        document.close()


def _merged(boxes: list[Box], box: Box) -> list[Box]:
    """Extend the last box when ``box`` continues its line, else start a new one."""
    if boxes:
        last = boxes[-1]
        middle = (box.top + box.bottom) / 2  # a full stop's box is short, but its middle is on the line
        if last.top <= middle <= last.bottom and box.left >= last.left:
            return [*boxes[:-1], Box(last.left, min(last.top, box.top), max(last.right, box.right), max(last.bottom, box.bottom))]
    return [*boxes, box]


def page_png(pdf: Path, page_number: int, quote: str) -> bytes:
    """Page ``page_number`` of ``pdf`` as a PNG, the quote's boxes painted over in translucent yellow."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    if pdf.suffix.lower() != ".pdf":
        raise NotAPdf(pdf.name)
    boxes, _ = quote_boxes(pdf, page_number, quote)
    document = pdfium.PdfDocument(str(pdf))
    try:
        image = document[page_number - 1].render(scale=SCALE).to_pil().convert("RGBA")
    finally:
        document.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for box in boxes:
        draw.rectangle((box.left - 2, box.top - 2, box.right + 2, box.bottom + 2), fill=HIGHLIGHT)
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
