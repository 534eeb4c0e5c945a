"""Loading: encodings are detected, bad files give one clear error each and never stop the others."""

import pytest

from assistant.errors import BadDocument
from assistant.load import decode, discover, load_corpus, load_file

TEXT = "生成式人工智能可能会创造出一种更为深刻的人机关系。"


def test_utf8_gbk_gb18030_and_utf16_are_decoded():
    assert decode(TEXT.encode("utf-8")) == (TEXT, "utf-8")
    assert decode(TEXT.encode("gbk"))[0] == TEXT
    assert decode(TEXT.encode("gb18030"))[0] == TEXT
    assert decode(TEXT.encode("utf-16"))[0] == TEXT
    assert decode(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))[0] == TEXT


def test_discover_finds_txt_and_md_sorted(corpus):
    (corpus / "b.md").write_text("# B", encoding="utf-8")
    (corpus / "a.txt").write_text("A", encoding="utf-8")
    (corpus / "c.pdf").write_bytes(b"%PDF")
    (corpus / ".hidden.txt").write_text("x", encoding="utf-8")
    assert [p.name for p in discover(corpus)] == ["a.txt", "b.md"]


def test_empty_and_binary_files_are_clear_errors(corpus):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (corpus / "good.txt").write_text(TEXT, encoding="gbk")
    documents, errors = load_corpus(corpus)
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert "empty" in str(errors["empty.txt"])
    assert "binary" in str(errors["binary.txt"])


def test_missing_file_raises_bad_document(corpus):
    with pytest.raises(BadDocument, match="Cannot read"):
        load_file(corpus / "nope.txt", "nope.txt")
