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


def test_ascii_marks_end_a_sentence_only_before_a_capital_and_abbreviations_never():
    vim = "请输入 <ESC>   :q!   <回车> 放弃所有改动。下一句。"
    assert [vim[a:b] for a, b in split_sentences(vim)] == ["请输入 <ESC>   :q!   <回车> 放弃所有改动。", "下一句。"]
    english = "Stop! Then go. See e.g. the GPL. No. 3 applies; and more? Yes."
    assert [english[a:b] for a, b in split_sentences(english)] == [
        "Stop!", "Then go.", "See e.g. the GPL.", "No. 3 applies; and more?", "Yes."
    ]


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


def test_tables_become_chunks_of_their_own_quoted_by_whole_rows():
    from test_clean import VENDOR_TABLE

    from assistant.ingest.clean import clean as clean_text

    doc = clean_text(VENDOR_TABLE * 2, "r.txt")
    chunks = chunk_document(doc, max_chars=300, overlap_chars=60)
    tables = [c for c in chunks if c.kind == "table"]
    assert tables and all("供应商" in c.text for c in tables)
    assert all("虽然云服务提供商" not in c.text for c in tables)
    for chunk in tables:
        for sentence in chunk_sentences(doc, chunk):
            lines = doc.text.split("\n")
            assert all(line in lines for line in sentence.text.split("\n"))  # whole rows only


def test_the_micro_market_table_is_chunked_apart_and_quoted_by_rows_and_whole_sentences(report_text):
    from test_clean import micro_market_excerpt

    from assistant.ingest.clean import clean as clean_text

    doc = clean_text(micro_market_excerpt(report_text), "r.txt")
    chunks = chunk_document(doc, max_chars=300, overlap_chars=60)
    tables = [c for c in chunks if c.kind == "table"]
    prose = [c for c in chunks if c.kind == "prose"]
    assert tables and prose and all("低层次的供应商" not in c.text for c in tables)
    lines = doc.text.split("\n")
    for chunk in tables:
        for sentence in chunk_sentences(doc, chunk):
            assert all(line in lines for line in sentence.text.split("\n"))  # whole rows only
    quoted = [s.text for c in prose for s in chunk_sentences(doc, c)]
    assert quoted == ["这可能对模型和基础设施层产生影响。", "低层次的供应商可以通过创建定制基础设施、模型和服务来推动微市场创新，从而保持其相关性。"]
    original = "".join(micro_market_excerpt(report_text).split())
    assert all("".join(c.text.split()) in original for c in chunks)  # every chunk is a span of what the reader sees


def test_headings_captions_and_cut_sentences_are_never_quoted():
    from assistant.ingest.clean import clean as clean_text

    raw = " 标题文字\n\n摘要\n\n这是一段很长的正文，写满了一整行的宽度，\n\n22\n\n而且跨过了页码才结束。\n\n第二句话同样写满一整行的宽度并且结束。\n"
    doc = clean_text(raw, "r.txt")
    quoted = [s.text for c in chunk_document(doc, max_chars=200) for s in chunk_sentences(doc, c)]
    assert quoted == ["第二句话同样写满一整行的宽度并且结束。"]
