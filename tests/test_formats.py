"""Format readers end to end: file on disk → load_corpus → clean_raw → chunks with real pages and sections."""

from __future__ import annotations

import io
import random
from pathlib import Path

import docx
import pytest
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from assistant.ingest.chunk import chunk_document, chunk_sentences
from assistant.ingest.clean import clean_raw
from assistant.ingest.formats.pdf import strip_running_lines
from assistant.ingest.load import load_corpus, load_file
from assistant.settings import ChunkSettings

REPORT = Path(__file__).resolve().parents[1] / "corpus" / "genai-enterprise-report.zh.txt"
FIXTURES = Path(__file__).parent / "fixtures"
FONT = "STSong-Light"  # reportlab's built-in CID font: renders Chinese without a font file
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

HEADER = "季度报告 Quarterly Report 2024"
# Every page's sentences; page 2's last line wraps onto page 3 mid-sentence.
PAGES = [
    ["生成式人工智能正在改变企业的工作方式。", "Page one explains why generative models matter to every team.",
     "第一页的最后一句介绍了研究的范围。"],
    ["第二页讨论了成本和收益。", "Inference costs fall quickly when models are distilled.",
     "许多企业正在使用大型语言模型改进"],
    ["客户服务的质量。", "Page three says that governance must come before scale.",
     "第三页总结了实施路线图。"],
]


def make_pdf(pages: list[list[str]], *, header: str = "", bookmarks: tuple[tuple[int, int, str], ...] = (),
             encrypt: StandardEncryption | None = None) -> bytes:
    """One line per string, a running header on top and 'Page n of N' at the bottom of every page with text."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, encrypt=encrypt)
    for number, lines in enumerate(pages, 1):
        canvas.setFont(FONT, 11)
        for page, depth, title in bookmarks:
            if page == number:
                canvas.bookmarkPage(title)
                canvas.addOutlineEntry(title, title, level=depth)
        if header:
            canvas.drawString(72, 800, header)
        for row, line in enumerate(lines):
            canvas.drawString(72, 760 - 18 * row, line)
        if lines:
            canvas.drawString(260, 40, f"Page {number} of {len(pages)}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_pdf_chunks_and_sentences_cite_the_page_they_come_from(corpus):
    write(corpus, "q.pdf", make_pdf(PAGES, header=HEADER))
    documents, errors = load_corpus(corpus)
    assert errors == {} and documents[0].loader == "pdf"
    doc = clean_raw(documents[0])
    assert HEADER not in doc.text and "Page 3 of 3" not in doc.text
    assert "许多企业正在使用大型语言模型改进客户服务的质量。" in doc.text  # rejoined across the page break
    assert doc.page_at(doc.text.index("客户服务的质量")) == 3
    drawn_on = {line: n for n, lines in enumerate(PAGES, 1) for line in lines}
    chunks = chunk_document(doc, max_chars=100, overlap_chars=0)
    assert {c.page for c in chunks} == {1, 2, 3}
    for chunk in chunks:
        first_line = next(line for line in drawn_on if chunk.text.startswith(line))
        assert chunk.page == drawn_on[first_line]
    sentence = next(s for c in chunks for s in chunk_sentences(doc, c) if s.text.startswith("Page three"))
    assert sentence.page == 3


def test_pdf_bookmarks_become_sections_and_sub_headings(corpus):
    bookmarks = ((1, 0, "第一章 背景"), (2, 0, "第二章 成本"), (3, 1, "Roadmap"))
    pages = [["第一章 背景", *PAGES[0]], ["第二章 成本", *PAGES[1][:2]], PAGES[2][1:]]
    raw = load_file(write(corpus, "b.pdf", make_pdf(pages, bookmarks=bookmarks)), "b.pdf")
    by_page = {c.page: c for c in chunk_document(clean_raw(raw))}
    assert by_page[1].section == "第一章 背景"
    assert by_page[2].section == "第二章 成本" and "Inference costs" in by_page[2].text
    assert by_page[3].section_path == "第二章 成本 › Roadmap"


def test_running_lines_repeated_on_most_pages_and_page_numbers_are_dropped():
    pages = [
        ["Cover title", "Intro text one.", "1"],
        ["Annual Report 2024", "Body of page two.", "Table total 12", "Annual Report 2024 | 2"],
        ["Annual Report 2024", "Body of page three.", "- 3 -", "Annual Report 2024 | 3"],
        ["Annual Report 2024", "Body of page four.", "第 4 页", "Annual Report 2024 | 4"],
    ]
    assert strip_running_lines(pages) == [
        ["Cover title", "Intro text one."],
        ["Body of page two.", "Table total 12"],
        ["Body of page three."],
        ["Body of page four."],
    ]


def test_pdf_without_text_layer_is_rejected_with_a_reason(corpus):
    blank = io.BytesIO()
    canvas = Canvas(blank)
    canvas.rect(100, 100, 300, 400, fill=1)
    canvas.showPage()
    canvas.save()
    write(corpus, "scan.pdf", blank.getvalue())
    documents, errors = load_corpus(corpus)
    assert documents == []
    assert "no text found — OCR is not supported" in str(errors["scan.pdf"])


def test_corrupt_and_locked_pdfs_are_errors_while_the_good_file_beside_them_loads(corpus):
    write(corpus, "random.pdf", random.Random(7).randbytes(4096))
    write(corpus, "truncated.pdf", make_pdf(PAGES)[:600])
    write(corpus, "locked.pdf", make_pdf(PAGES, encrypt=StandardEncryption("secret")))
    write(corpus, "good.txt", "生成式人工智能可能会创造出一种更为深刻的人机关系。".encode())
    documents, errors = load_corpus(corpus)
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert set(errors) == {"random.pdf", "truncated.pdf", "locked.pdf"}
    assert "not a valid PDF" in str(errors["random.pdf"]) and "not a valid PDF" in str(errors["truncated.pdf"])
    assert "password-protected" in str(errors["locked.pdf"])


def test_pdf_locked_only_against_editing_opens_with_the_empty_password(corpus):
    lock = StandardEncryption("", ownerPassword="owner", canModify=0)
    raw = load_file(write(corpus, "owner.pdf", make_pdf(PAGES, encrypt=lock)), "owner.pdf")
    assert PAGES[2][2] in raw.text


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Enterprise AI 企业人工智能", level=0)
    document.add_paragraph("This paragraph introduces the study")
    document.add_heading("Costs", level=1)
    document.add_paragraph("Inference costs fall quickly.")
    document.add_heading("Details", level=2)
    document.add_paragraph("A query can cost ten times more than a search")
    document.add_paragraph("Distillation reduces the bill.")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Region"
    table.cell(0, 2).text = "Revenue"
    for column, text in enumerate(("EU", "Germany", "5")):
        table.cell(1, column).text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_headings_become_sections_and_paragraphs_stay_apart(corpus):
    raw = load_file(write(corpus, "r.docx", make_docx()), "r.docx")
    doc = clean_raw(raw)
    assert "This paragraph introduces the study\n" in doc.text  # no sentence end, yet not joined to the heading
    assert "A query can cost ten times more than a search\nDistillation" in doc.text
    assert "\nRegion | Revenue\nEU | Germany | 5" in doc.text
    chunk = next(c for c in chunk_document(doc) if "Distillation" in c.text)
    assert (chunk.section, chunk.heading) == ("Costs", "Details")
    assert doc.heading_at(doc.text.index("This paragraph")).section == "Enterprise AI 企业人工智能"


def test_damaged_docx_is_a_clear_error(corpus):
    write(corpus, "broken.docx", make_docx()[:500])
    write(corpus, "renamed.docx", b"plain text, not a zip archive")
    _, errors = load_corpus(corpus)
    assert all("not a valid DOCX" in str(errors[name]) for name in ("broken.docx", "renamed.docx"))


HTML = """<!doctype html><html><head><title>Site</title><style>p {color: red}</style>
<script>var secret = "SCRIPT-TEXT";</script></head>
<body><nav><a href="/">Home</a> NAV-TEXT</nav><header>Banner outside main</header>
<main><h1>Report</h1><p>Opening <b>bold</b> words,
  wrapped in source.</p><script>document.write("SCRIPT-TEXT")</script>
<h2>Costs</h2><p>A query costs more<br>than a search.</p><noscript>NOSCRIPT-TEXT</noscript>
<h3>Cloud</h3><table><tr><th>Region</th> <th>Revenue</th></tr><tr><td>EU</td><td>5</td></tr></table>
<template>TEMPLATE-TEXT</template><!-- COMMENT-TEXT --></main>
<footer>FOOTER-TEXT</footer></body></html>"""


def test_html_keeps_main_text_and_headings_and_drops_code_and_chrome(corpus):
    raw = load_file(write(corpus, "page.html", HTML.encode()), "page.html")
    doc = clean_raw(raw)
    for dropped in ("SCRIPT-TEXT", "NAV-TEXT", "NOSCRIPT-TEXT", "TEMPLATE-TEXT", "COMMENT-TEXT", "FOOTER-TEXT",
                    "Banner", "<", "color"):
        assert dropped not in doc.text
    assert "Opening bold words, wrapped in source." in doc.text
    assert "A query costs more\nthan a search." in doc.text
    assert "Region | Revenue\nEU | 5" in doc.text
    assert doc.heading_at(doc.text.index("A query")).section == "Costs"
    chunk = next(c for c in chunk_document(doc) if "Region" in c.text)
    assert chunk.section_path == "Costs › Cloud"


def test_html_charset_is_honoured_and_body_is_used_without_main(corpus):
    page = '<html><head><meta charset="gbk"></head><body><p>生成式人工智能的应用。</p></body></html>'
    raw = load_file(write(corpus, "gbk.htm", page.encode("gbk")), "gbk.htm")
    assert (raw.text, raw.encoding, raw.loader) == ("生成式人工智能的应用。", "gbk", "html")


def test_deeply_nested_html_does_not_overflow_the_stack(corpus):
    depth = 5000
    page = "<html><body>" + "<div><span>" * depth + "the innermost text" + "</span></div>" * depth + "</body></html>"
    raw = load_file(write(corpus, "deep.html", page.encode()), "deep.html")
    assert clean_raw(raw).text == "the innermost text"


def test_html_without_visible_text_or_disguised_binary_is_rejected(corpus):
    write(corpus, "empty.html", b"<html><head><script>x = 1</script></head><body><nav>menu</nav></body></html>")
    write(corpus, "image.htm", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    _, errors = load_corpus(corpus)
    assert "no visible text" in str(errors["empty.html"])
    assert "binary" in str(errors["image.htm"])


@pytest.mark.parametrize("encoding", ["gbk", "utf-16", "utf-8-sig"])
def test_text_encodings_load_through_the_corpus(corpus, encoding):
    text = "生成式人工智能可能会创造出一种更为深刻的人机关系。Generative AI."
    write(corpus, "t.txt", text.encode(encoding))
    documents, errors = load_corpus(corpus)
    assert errors == {} and documents[0].text == text and documents[0].loader == "text"


def test_markdown_suffixes_use_the_markdown_layout(corpus):
    write(corpus, "notes.markdown", b"# Notes\n\n## Costs\n\nA query can cost ten times more.\n")
    raw = load_file(corpus / "notes.markdown", "notes.markdown")
    doc = clean_raw(raw)
    assert raw.loader == "markdown"
    assert doc.heading_at(doc.text.index("A query")).section == "Costs"


def test_the_report_keeps_its_chunk_ids():
    """The report's cleaned text must not move unnoticed: its chunk ids as recorded with cleaner v3 (a section title claims its page) and chunker v2."""
    settings = ChunkSettings()
    raw = load_file(REPORT, REPORT.name)
    chunks = chunk_document(clean_raw(raw), max_chars=settings.max_chars, overlap_chars=settings.overlap_chars)
    assert [c.id for c in chunks] == (FIXTURES / "report_chunk_ids.txt").read_text().split()


def test_a_docx_over_the_paragraph_cap_is_refused_with_a_clear_error(corpus, monkeypatch):
    import assistant.ingest.formats.docx as docx_format

    monkeypatch.setattr(docx_format, "MAX_PARAGRAPHS", 5)
    write(corpus, "long.docx", make_docx())
    _, errors = load_corpus(corpus)
    assert "more than the 5 a document may have; split it" in str(errors["long.docx"])


def test_docx_heading_levels_come_from_one_style_table():
    from assistant.ingest.formats.docx import heading_levels

    levels = heading_levels(docx.Document(io.BytesIO(make_docx())))
    assert levels["Title"] == 1 and levels["Heading1"] == 2 and levels["Heading2"] == 3 and "Normal" not in levels
