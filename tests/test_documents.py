"""Uploads into and removals from a real corpus folder under tmp_path, read back by the real loader."""

import io
import re
import unicodedata
import zipfile
from pathlib import Path

import pytest
from docx import Document
from reportlab.pdfgen import canvas

from assistant.errors import BadUpload, UnknownDocument, UploadTooLarge
from assistant.ingest.documents import MB, add_document, remove_document, safe_name
from assistant.ingest.load import load_corpus
from assistant.settings import LimitSettings, PathSettings, Settings

DOC = "# 摘要\n\n微软对OpenAI的投资是100亿美元。\n\nMicrosoft invested $10 billion in OpenAI.\n"


def settings_for(corpus: Path, **limits: float) -> Settings:
    return Settings(paths=PathSettings(corpus_dir=corpus, index_dir=corpus.parent / "index"), limits=LimitSettings(**limits))


def pdf_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def docx_bytes(text: str) -> bytes:
    document = Document()
    document.add_heading("Summary", level=1)
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("report.md", DOC.encode()),
        ("报告.txt", DOC.encode("gb18030")),
        ("report.pdf", pdf_bytes("Microsoft invested 10 billion dollars in OpenAI.")),
        ("report.docx", docx_bytes("Microsoft invested 10 billion dollars in OpenAI.")),
        ("page.html", b"<html><body><main><p>Microsoft invested in OpenAI.</p></main></body></html>"),
    ],
)
def test_an_upload_lands_in_the_corpus_and_the_loader_reads_it(corpus, filename, data):
    doc_id = add_document(settings_for(corpus), filename, data)
    assert doc_id == filename
    assert (corpus / doc_id).read_bytes() == data
    assert (corpus / doc_id).stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in corpus.iterdir()) == [filename]  # no temporary file left behind
    documents, errors = load_corpus(corpus)
    assert not errors and [d.doc_id for d in documents] == [doc_id]
    assert "Microsoft" in documents[0].text


@pytest.mark.parametrize(
    ("filename", "stored"),
    [
        ("folder/sub/a.md", "a.md"),
        ("C:\\Users\\owner\\a.md", "a.md"),
        ("  spaced name.md ", "spaced name.md"),
        (unicodedata.normalize("NFD", "café.md"), unicodedata.normalize("NFC", "café.md")),
        ("年度报告 2024.md", "年度报告 2024.md"),
    ],
)
def test_names_lose_their_folders_and_are_nfc(filename, stored):
    assert safe_name(filename) == stored


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("", "has no file name"),
        ("uploads/", "has no file name"),
        ("a\x00b.md", "control or invisible characters"),
        ("evil\u202edm.txt", "control or invisible characters"),
        pytest.param("a" * 118 + ".md", "too long (121 characters", id="name-over-120-characters"),
        pytest.param("报" * 90 + ".md", "93 characters, 273 bytes", id="cjk-name-over-255-bytes"),
        (".env.md", "starts with a dot"),
        ("a?b.md", "contains one of"),
        ("COM1.report.md", "reserved for a device"),
        ("aux .txt", "reserved for a device"),
        ("report.exe", "not a supported document"),
        ("report.md.", "not a supported document"),
    ],
)
def test_unusable_names_are_refused_with_the_reason(filename, message):
    with pytest.raises(BadUpload, match=re.escape(message)):
        safe_name(filename)


def test_a_same_named_upload_is_a_new_edition_and_a_near_namesake_is_refused(corpus):
    settings = settings_for(corpus)
    add_document(settings, "report.md", DOC.encode())
    add_document(settings, "report.md", (DOC + "新增一句。\n").encode())
    assert (corpus / "report.md").read_text(encoding="utf-8").endswith("新增一句。\n")
    with pytest.raises(BadUpload, match="only in letter case"):
        add_document(settings, "Report.MD", DOC.encode())
    assert [p.name for p in corpus.iterdir()] == ["report.md"]


def test_a_folder_in_the_way_is_not_replaced(corpus):
    (corpus / "report.md").mkdir()
    with pytest.raises(BadUpload, match="not a regular file"):
        add_document(settings_for(corpus), "report.md", DOC.encode())
    assert (corpus / "report.md").is_dir()


def test_limits_on_size_count_and_corpus_total(corpus):
    small = settings_for(corpus, max_upload_mb=0.01, max_documents=2, max_corpus_mb=0.015)
    with pytest.raises(UploadTooLarge, match="MAX_UPLOAD_MB"):
        add_document(small, "big.md", b"x" * (int(0.01 * MB) + 1))
    add_document(small, "a.md", b"a" * int(0.008 * MB))
    with pytest.raises(UploadTooLarge, match="MAX_CORPUS_MB"):
        add_document(small, "b.md", b"b" * int(0.008 * MB))
    add_document(small, "a.md", b"a" * int(0.009 * MB))  # replacing counts the new edition, not both
    add_document(small, "b.md", b"b" * int(0.005 * MB))
    with pytest.raises(UploadTooLarge, match="holds 2 documents and the limit is 2"):
        add_document(small, "c.md", b"c")
    assert sorted(p.name for p in corpus.iterdir()) == ["a.md", "b.md"]


def test_a_docx_that_unpacks_to_far_more_than_the_limit_is_refused_unread(corpus):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (11 * MB))
    bomb = buffer.getvalue()
    assert len(bomb) < 0.1 * MB
    with pytest.raises(UploadTooLarge, match="unpacks to more than 10 MB"):
        add_document(settings_for(corpus, max_upload_mb=1), "bomb.docx", bomb)
    assert not any(corpus.iterdir())


def test_remove_deletes_only_documents_of_the_corpus(corpus, tmp_path):
    settings = settings_for(corpus)
    add_document(settings, "a.md", DOC.encode())
    (corpus / "sub").mkdir()
    (corpus / "sub" / "b.md").write_text(DOC, encoding="utf-8")
    outside = tmp_path / "outside.md"
    outside.write_text(DOC, encoding="utf-8")
    (corpus / "link.md").symlink_to(outside)
    for doc_id in ("../outside.md", str(outside), "link.md", "missing.md", "sub", "sub/../a.md"):
        with pytest.raises(UnknownDocument, match="no document"):
            remove_document(settings, doc_id)
    assert outside.exists() and (corpus / "a.md").exists()
    remove_document(settings, "sub/b.md")
    remove_document(settings, "a.md")
    assert sorted(p.name for p in corpus.rglob("*")) == ["link.md", "sub"]
