"""Chunking: size limits, sentence integrity, offsets and deterministic ids."""

from assistant.ingest.chunk import (
    chunk_document,
    chunk_id,
    chunk_sentences,
    normalize,
    pack,
    split_long,
    split_sentences,
)
from assistant.ingest.clean import clean


def test_chinese_and_english_sentences_split_after_terminators():
    text = "第一句。第二句！“第三句？”English one. English two"
    spans = [text[a:b] for a, b in split_sentences(text)]
    assert spans == ["第一句。", "第二句！", "“第三句？”", "English one.", "English two"]


def test_decimal_points_do_not_end_sentences():
    text = "增长了1.5倍。下一句"
    assert [text[a:b] for a, b in split_sentences(text)] == ["增长了1.5倍。", "下一句"]


def test_long_sentence_is_cut_at_a_comma_within_the_limit():
    text = "甲" * 30 + "，" + "乙" * 30
    pieces = split_long(text, 0, len(text), 40)
    assert [text[a:b] for a, b in pieces] == ["甲" * 30 + "，", "乙" * 30]


def test_pack_never_exceeds_the_limit_and_overlaps():
    spans = [(i * 10, i * 10 + 10) for i in range(10)]
    chunks = pack(spans, max_chars=30, overlap_chars=10)
    assert all(b - a <= 30 for a, b in chunks)
    assert chunks[0] == (0, 30) and chunks[1][0] == 20  # the last sentence is repeated


def test_chunks_of_the_report_respect_limits_and_map_back(report_text):
    doc = clean(report_text, "report.txt")
    chunks = chunk_document(doc, max_chars=500, overlap_chars=80)
    assert 20 < len(chunks) < 100
    for c in chunks:
        assert len(c.text) <= 500
        assert doc.text[c.start : c.end] == c.text
        assert c.section
    assert len({c.id for c in chunks}) == len(chunks)


def test_chunks_never_cut_a_sentence_that_fits(report_text):
    doc = clean(report_text, "report.txt")
    sentences = {doc.text[a:b] for a, b in split_sentences(doc.text) if b - a <= 500}
    chunk_texts = [c.text for c in chunk_document(doc)]
    assert all(any(s in t for t in chunk_texts) for s in sentences)


def test_ids_are_content_derived_and_stable():
    assert chunk_id("a.txt", "同样的 文本") == chunk_id("a.txt", "同样的文本")
    assert chunk_id("a.txt", "文本") != chunk_id("b.txt", "文本")
    assert chunk_id("a.txt", "文本", 1) != chunk_id("a.txt", "文本")
    doc = clean(" 标题\n\n摘要\n\n" + "这是一句足够长的话。" * 80, "r.txt")
    assert [c.id for c in chunk_document(doc)] == [c.id for c in chunk_document(doc)]


def test_editing_one_sentence_keeps_other_chunk_ids(report_text):
    before = chunk_document(clean(report_text, "r.txt"))
    edited = report_text.replace("微软对OpenAI的100亿美元投资", "微软对OpenAI的120亿美元投资")
    after = chunk_document(clean(edited, "r.txt"))
    changed = {c.id for c in before} ^ {c.id for c in after}
    assert 0 < len(changed) <= 6


def test_smaller_limits_give_more_chunks(report_text):
    doc = clean(report_text, "r.txt")
    assert len(chunk_document(doc, max_chars=300)) > len(chunk_document(doc, max_chars=500))


def test_chunk_sentences_skip_headings_and_fragments(report_text):
    doc = clean(report_text, "r.txt")
    first = chunk_document(doc)[0]
    sentences = chunk_sentences(doc, first)
    assert sentences and all(doc.text[s.start : s.end] == s.text for s in sentences)
    assert all(s.text != "摘要" and len(normalize(s.text)) >= 4 for s in sentences)
