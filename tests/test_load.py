"""Loading: encodings are detected, bad files give one clear error each and never stop the others."""

import pytest

from assistant.errors import BadDocument
from assistant.ingest.formats.text import decode
from assistant.ingest.load import SUPPORTED_SUFFIXES, discover, load_corpus, load_file

TEXT = "生成式人工智能可能会创造出一种更为深刻的人机关系。"


def test_utf8_gbk_gb18030_and_utf16_are_decoded():
    assert decode(TEXT.encode("utf-8")) == (TEXT, "utf-8")
    assert decode(TEXT.encode("gbk"))[0] == TEXT
    assert decode(TEXT.encode("gb18030"))[0] == TEXT
    assert decode(TEXT.encode("utf-16"))[0] == TEXT
    assert decode(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))[0] == TEXT


def test_discover_finds_supported_formats_sorted_and_ignores_the_rest(corpus):
    supported = ["a.txt", "b.md", "c.PDF", "d.docx", "e.html", "f.htm", "g.markdown"]
    for name in [*supported, "h.png", "i.doc", "j", ".hidden.txt"]:
        (corpus / name).write_bytes(b"x")
    assert [p.name for p in discover(corpus)] == supported
    assert {p.suffix.lower() for p in discover(corpus)} == set(SUPPORTED_SUFFIXES)


def test_empty_and_binary_files_are_clear_errors(corpus):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\n ", encoding="utf-8")
    (corpus / "empty.pdf").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (corpus / "good.txt").write_text(TEXT, encoding="gbk")
    documents, errors = load_corpus(corpus)
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert all("the file is empty" in str(errors[name]) for name in ("empty.txt", "blank.md", "empty.pdf"))
    assert "binary" in str(errors["binary.txt"])


def test_missing_file_raises_bad_document(corpus):
    with pytest.raises(BadDocument, match="Cannot read"):
        load_file(corpus / "nope.txt", "nope.txt")


def test_unsupported_file_named_directly_is_a_clear_error(corpus):
    (corpus / "slides.pptx").write_bytes(b"PK")
    with pytest.raises(BadDocument, match=r"only \.txt, .* files are supported"):
        load_file(corpus / "slides.pptx", "slides.pptx")
