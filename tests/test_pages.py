"""The PDF page behind a citation: rendered by PDFium, the quote highlighted at its real position (a PDF made here,
so the positions are known), over the API as well."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from assistant.errors import UnknownPage
from assistant.service import Assistant
from assistant.serving.api.app import create_app
from assistant.serving.pages import SCALE, Box, page_png, quote_boxes
from assistant.settings import LimitSettings, PathSettings, Settings

WIDTH, HEIGHT = 595, 842
FONT, SIZE = "Helvetica", 11
LINES = [
    "Annual report of the example company.",
    "Revenue grew in every region last year.",
    "Microsoft invested ten billion dollars in OpenAI.",
    "The board approved the Lighthouse plan in March.",
]


def baseline(row: int) -> float:
    return 760 - 18 * row


def make_pdf(path: Path) -> None:
    canvas = Canvas(str(path), pagesize=(WIDTH, HEIGHT))
    canvas.setFont(FONT, SIZE)
    canvas.drawString(72, 800, "Cover page")
    canvas.showPage()
    canvas.setFont(FONT, SIZE)
    for row, line in enumerate(LINES):
        canvas.drawString(72, baseline(row), line)
    canvas.showPage()
    canvas.save()


def expected(row: int) -> Box:
    """Where line ``row`` is printed, in the rendered image's pixels (the font's cap height up, descenders down)."""
    right = 72 + stringWidth(LINES[row], FONT, SIZE)
    return Box(int(72 * SCALE), int((HEIGHT - baseline(row) - SIZE) * SCALE), int(right * SCALE), int((HEIGHT - baseline(row) + 3) * SCALE))


def overlap(a: Box, b: Box) -> float:
    """Intersection over union."""
    w = max(0, min(a.right, b.right) - max(a.left, b.left))
    h = max(0, min(a.bottom, b.bottom) - max(a.top, b.top))
    area = lambda r: (r.right - r.left) * (r.bottom - r.top)  # noqa: E731
    return w * h / (area(a) + area(b) - w * h)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "corpus" / "annual-report.pdf"
    path.parent.mkdir()
    make_pdf(path)
    return path


def test_the_highlight_covers_the_quote_where_it_is_printed(pdf):
    boxes, size = quote_boxes(pdf, 2, "Microsoft invested ten billion\ndollars in OpenAI.")  # cleaned text's whitespace
    assert size == (int(WIDTH * SCALE), int(HEIGHT * SCALE))
    assert len(boxes) == 1 and overlap(boxes[0], expected(2)) > 0.6, (boxes, expected(2))
    two_lines, _ = quote_boxes(pdf, 2, f"{LINES[2]} {LINES[3]}")
    assert [overlap(b, expected(row)) > 0.6 for b, row in zip(two_lines, (2, 3))] == [True, True] and len(two_lines) == 2
    assert quote_boxes(pdf, 1, LINES[2])[0] == []  # not on that page: the page is shown without a highlight
    with pytest.raises(UnknownPage, match="pages 1 to 2"):
        quote_boxes(pdf, 3, LINES[2])


def yellowish(pixel: tuple[int, int, int]) -> bool:
    red, green, blue = pixel
    return red > 200 and green > 180 and blue < 210 and red - blue > 40


def share_yellow(image: Image.Image, box: Box) -> float:
    pixels = [image.getpixel((x, y)) for x in range(box.left, box.right, 3) for y in range(box.top, box.bottom, 2)]
    return sum(map(yellowish, pixels)) / len(pixels)


def test_the_rendered_page_is_yellow_over_the_quote_and_nowhere_else(pdf):
    image = Image.open(io.BytesIO(page_png(pdf, 2, LINES[2]))).convert("RGB")
    assert abs(image.size[0] - WIDTH * SCALE) <= 1 and abs(image.size[1] - HEIGHT * SCALE) <= 1  # PDFium rounds up
    assert share_yellow(image, expected(2)) > 0.5  # the background of the quoted line is highlighted
    assert share_yellow(image, expected(0)) == 0 and share_yellow(image, expected(3)) == 0  # its neighbours are not


def test_the_api_serves_the_page_and_explains_what_it_cannot(pdf, tmp_path):
    (tmp_path / "corpus" / "notes.txt").write_text("Plain text.\n", encoding="utf-8")
    settings = Settings(paths=PathSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"),
                        limits=LimitSettings(rate_per_minute=0))
    api = TestClient(create_app(Assistant(settings)))
    page = api.get("/api/documents/annual-report.pdf/pages/2.png", params={"quote": LINES[2]})
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert share_yellow(Image.open(io.BytesIO(page.content)).convert("RGB"), expected(2)) > 0.5
    missing = api.get("/api/documents/annual-report.pdf/pages/7.png")
    assert missing.status_code == 404 and "pages 1 to 2" in missing.json()["detail"]
    text = api.get("/api/documents/notes.txt/pages/1.png")
    assert text.status_code == 422 and "not a PDF" in text.json()["detail"]
    for outside in ("../corpus/annual-report.pdf", "nowhere.pdf"):
        assert api.get(f"/api/documents/{outside}/pages/1.png").status_code == 404
