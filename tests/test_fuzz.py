"""Property tests: the offset invariants that citations rely on hold for any mixed Chinese/English/markup text,
marker parsing and verification never fail on arbitrary model output, and no upload name escapes the corpus."""

import tempfile
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answering.verify import parse_markers, verify
from assistant.answering.verify.support import lexical_overlaps
from assistant.errors import BadUpload
from assistant.ingest.chunk import chunk_document, chunk_sentences
from assistant.ingest.clean import LAYOUTS, clean
from assistant.ingest.documents import add_document
from assistant.ingest.load import SUPPORTED_SUFFIXES
from assistant.settings import PathSettings, Settings

FUZZ = settings(max_examples=100, deadline=None)
PIECES = [
    "\n", "\n\n", "\f", " ", "\t", "\u3000", "# ", "## ", "### ", "- ", "* ", "1. ", "|", " | ",
    "。", "！", "？", "；", "，", "、", ".", "!", "?", ";", ",", "…", "：", "“", "”", "\"", "'", "（", "）",
    "第1页", "Page 3 of 9", "- 12 -", "图1：", "表2", "摘要", "生成式AI", "企业", "投资", "100亿美元", "3.5%", "2024年",
    "OpenAI", "Microsoft", "generative AI", "e.g.", "U.S.", "$10 billion", "<p>", "</p>", "<br>", "**", "`code`",
    "[1]", "[2, 3]", "【1】", "[^1]", "\u200b", "\r\n",
]
WORDS = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=12)
DOCUMENT_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), WORDS), max_size=120).map("".join)
SOURCE = """# 摘要

微软对OpenAI的投资是100亿美元，这是迄今最大的一笔。谷歌对Anthropic的投资是3亿美元。

## 成本

生成式AI查询的成本可能是传统搜索的10倍。Generative AI queries may cost ten times more than a conventional search.
"""
SOURCE_DOC = clean(SOURCE, "source.md")
SOURCE_CHUNKS = chunk_document(SOURCE_DOC, max_chars=100, overlap_chars=0)
SOURCE_SENTENCES = {chunk.id: chunk_sentences(SOURCE_DOC, chunk) for chunk in SOURCE_CHUNKS}
ANSWER_PIECES = [*PIECES, *(s.text for sentences in SOURCE_SENTENCES.values() for s in sentences), "[0]", "[9]", "[1-3]"]
NAME_PIECES = [
    "../", "..\\", "/", "\\", "C:\\", "//server/share/", "~", ".", "..", " ", "con", "NUL", "com1", "lpt9",
    ".txt", ".md", ".pdf", ".html", ".TXT", "report", "报告", "\x00", "\n", "\u202e", "\udcff", "%2e%2e%2f",
]
FILE_NAMES = st.builds(  # hostile path pieces around a name that often passes, so both outcomes are exercised
    "{}{}{}".format,
    st.lists(st.one_of(st.sampled_from(NAME_PIECES), st.text(max_size=8)), max_size=8).map("".join),
    st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=10),
    st.sampled_from([*SUPPORTED_SUFFIXES, ".TXT", ".exe", ""]),
)


def lexical_similarity(claim: str, texts: Sequence[str]) -> list[float]:
    """Cheap and deterministic: these properties are about the verifier's invariants, not embedding quality."""
    return lexical_overlaps(claim, texts)


@FUZZ
@given(raw=DOCUMENT_TEXT, loader=st.sampled_from(sorted(LAYOUTS)), max_chars=st.integers(100, 600))
def test_chunks_and_sentences_are_exact_slices_of_the_cleaned_text(raw, loader, max_chars):
    document = clean(raw, "fuzz", layout=LAYOUTS[loader])
    for chunk in chunk_document(document, max_chars=max_chars, overlap_chars=max_chars // 5):
        assert chunk.text == document.text[chunk.start : chunk.end]
        for sentence in chunk_sentences(document, chunk):
            assert sentence.text == document.text[sentence.start : sentence.end]
            assert chunk.start <= sentence.start < sentence.end <= chunk.end


@FUZZ
@given(text=st.one_of(st.text(), st.lists(st.one_of(st.sampled_from(ANSWER_PIECES), st.text(max_size=6))).map("".join)))
def test_markers_always_lie_inside_the_text(text):
    for marker in parse_markers(text):
        assert 0 <= marker.start < marker.end <= len(text)
        assert marker.numbers


@FUZZ
@given(answer=st.lists(st.sampled_from(ANSWER_PIECES) | WORDS, max_size=40).map("".join), sources=st.integers(1, 2))
def test_every_citation_the_verifier_makes_is_verbatim_in_its_chunk(answer, sources):
    chunks = SOURCE_CHUNKS[:sources]
    verified = verify(answer, chunks, SOURCE_SENTENCES, lexical_similarity, min_support=0.07)
    texts = {chunk.id: chunk.text for chunk in chunks}
    for citation in verified.citations:
        assert citation.quote in texts[citation.chunk_id]
        assert citation.quote == SOURCE_DOC.text[citation.start : citation.end]
    numbers = {citation.n for citation in verified.citations}
    assert all(set(check.citations) <= numbers for check in verified.sentences)


@FUZZ
@given(filename=FILE_NAMES)
def test_no_upload_name_writes_outside_the_corpus(filename):
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        corpus = base / "corpus"
        settings = Settings(paths=PathSettings(corpus_dir=corpus, index_dir=base / "index"))
        try:
            doc_id = add_document(settings, filename, "生成式AI. Generative AI.".encode())
        except BadUpload:
            doc_id = None
        written = [path for path in base.rglob("*") if path.is_file()]
        assert all(path.parent == corpus for path in written)
        assert [path.name for path in written] == ([doc_id] if doc_id else [])


PROSE_LINES = st.lists(
    st.sampled_from([
        "生成式人工智能可以通过创建类似于其所训练的数据", "的新颖数据来模仿人类的创造过程。", "拓展市场 ● ●", "是 是 否 消费",
        "Amazon", "垂", "直", "供应商 描述 案例 主要客户", "每个用户", "模型层", "效率| 优化计划、研究和产品开发等任务",
        "微软对OpenAI的100亿美元投资和谷歌对Anthropic的3亿美", "元投资。", "第三节", "摘要", "，", "。", "22", "Source: Deloitte",
    ]),
    max_size=60,
)


@FUZZ
@given(lines=PROSE_LINES, separators=st.lists(st.sampled_from(["\n", "\n\n", "\n \n"]), min_size=60, max_size=60))
def test_every_chunk_and_quote_is_in_the_original_ignoring_whitespace(lines, separators):
    """The report's layout (page marks, tables, page numbers, captions): nothing quoted is invisible to the reader."""
    raw = " 标题\n\n" + "".join(line + sep for line, sep in zip(lines, separators))
    original = "".join(raw.split())
    document = clean(raw, "r.txt")
    for chunk in chunk_document(document, max_chars=120, overlap_chars=30):
        assert "".join(chunk.text.split()) in original
        for sentence in chunk_sentences(document, chunk):
            assert "".join(sentence.text.split()) in original
