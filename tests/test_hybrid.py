"""Hybrid retrieval over the real report index."""

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.indexing.lexical import LexicalIndex
from assistant.indexing.rows import StoredChunk
from assistant.ingest.chunk import normalize
from assistant.retrieval.hybrid import COMMON_SHARE, HybridRetriever, rrf
from assistant.retrieval.sentences import SentenceIndex, top_indices
from assistant.settings import RetrieveSettings
from assistant.types import Chunk


def test_rrf_rewards_agreement_and_respects_weights():
    fused = rrf([(["a", "b"], 1.0), (["b", "c"], 1.0)], k=60)
    assert max(fused, key=fused.get) == "b"
    weighted = rrf([(["a"], 1.0), (["c"], 0.1)], k=60)
    assert weighted["a"] > weighted["c"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=60), st.integers(0, 70))
def test_top_indices_matches_a_stable_full_sort(values, n):
    scores = np.asarray(values, dtype=np.float32)  # few distinct values: many ties
    expected = sorted(range(len(values)), key=lambda i: values[i], reverse=True)[:n]
    assert top_indices(scores, n).tolist() == expected


def _found(hits, evidence: str) -> bool:
    return any(normalize(evidence) in normalize(h.chunk.text) for h in hits)


def test_chinese_question_finds_its_evidence(report_assistant):
    hits = report_assistant.retrieve("微软对OpenAI的投资金额是多少？", k=5)
    assert _found(hits, "微软对OpenAI的100亿美元投资")
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]


def test_english_question_finds_chinese_evidence(report_assistant):
    hits = report_assistant.retrieve("How much more can a generative AI query cost than a conventional index query?", k=5)
    assert _found(hits, "查询/提示的成本可能高达索引查询的十倍")


def test_english_lexical_tokens_are_limited_to_cross_language_matches(report_assistant):
    retriever = report_assistant.retriever()
    query = retriever.prepare("Which data-security standards such as HIPAA apply?", "en", report_assistant.embedder.query("x"))
    assert "hipaa" in query.tokens
    assert "standards" not in query.tokens  # English words never occur in the Chinese text


def test_hits_carry_metadata_for_citations(report_assistant):
    hit = report_assistant.retrieve("德勤数智研究院是哪个品牌体系的重要组成力量？", k=1)[0]
    assert hit.chunk.doc_id == "genai-enterprise-report.zh.txt"
    assert hit.chunk.section and hit.chunk.page >= 1


class MatrixVectors:
    """Sentence vectors in memory with exact nearest neighbours: the ANN index's contract, without the approximation."""

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.ids, self.matrix = ids, vectors
        self.requested: list[int] = []

    def count(self) -> int:
        return len(self.ids)

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]:
        self.requested.append(n)
        order = np.argsort(-(self.matrix @ vector), kind="stable")[:n]
        return [self.ids[i] for i in order], self.matrix[order]

    def vectors(self, ids: list[str]) -> np.ndarray:
        where = {sid: i for i, sid in enumerate(self.ids)}
        return self.matrix[[where[sid] for sid in ids]]


def _retriever(texts: list[str], sentences: SentenceIndex | None = None) -> HybridRetriever:
    chunks = [Chunk(f"c{i}", "doc.txt", text, 0, len(text), i, 1, "s") for i, text in enumerate(texts)]
    lexical = LexicalIndex.build([c.id for c in chunks], texts)
    empty = SentenceIndex([], MatrixVectors([], np.zeros((0, 2), np.float32)))
    return HybridRetriever(chunks, lexical, sentences or empty, lambda vector, n: [], RetrieveSettings())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abAB 中,", max_size=12), min_size=1, max_size=25), st.text(alphabet="abAB", min_size=1, max_size=3))
def test_is_common_counts_the_chunks_whose_text_contains_the_word(texts, word):
    naive = sum(word.lower() in text.lower() for text in texts) > COMMON_SHARE * len(texts)
    assert _retriever(texts).is_common(word) == naive


def test_is_common_agrees_with_a_scan_of_the_report(report_assistant):
    retriever = report_assistant.retriever()
    texts = [c.text.lower() for c in retriever.chunks.values()]
    words = set(re.findall(r"[a-z]+", " ".join(texts)))
    words |= {w[1:] for w in words if len(w) > 1} | {"zzz"}
    common = {w for w in words if retriever.is_common(w)}
    assert "ai" in common
    assert common == {w for w in words if sum(w in t for t in texts) > COMMON_SHARE * len(texts)}


def _index(rows: list[tuple[int, int]], dead: int = 0) -> tuple[SentenceIndex, MatrixVectors]:
    """One two-character sentence per row (chunk, value), chunks in order of first appearance, plus dead rows."""
    owners = list(dict.fromkeys(chunk for chunk, _ in rows))
    stored, ids, vectors = [], [], []
    for chunk in owners:
        values = [value for c, value in rows if c == chunk]
        text = "句子" * len(values)
        layout = ";".join(f"{2 * k},{2 * k + 2},0" for k in range(len(values)))
        stored.append(StoredChunk(f"c{chunk}.row", Chunk(f"c{chunk}", "d.txt", text, 0, len(text), chunk, 1, "s"), layout))
        ids += [f"c{chunk}.row:{k}" for k in range(len(values))]
        vectors += [[float(value), 1.0] for value in values]
    ids += [f"gone{k}.row:0" for k in range(dead)]  # rows of another generation, scoring above everything
    vectors += [[100.0, 1.0]] * dead
    source = MatrixVectors(ids, np.asarray(vectors, dtype=np.float32).reshape(-1, 2))
    return SentenceIndex(stored, source), source


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(-3, 3)), min_size=1, max_size=40), st.integers(1, 10), st.integers(0, 30))
def test_sentence_ranking_is_each_chunks_best_sentence_ties_in_stored_order(rows, n, dead):
    index, _ = _index(rows, dead)
    query = np.asarray([1.0, 0.0], dtype=np.float32)
    best: dict[str, float] = {}
    for chunk, value in rows:
        best[f"c{chunk}"] = max(best.get(f"c{chunk}", value), value)
    assert index.ranked_chunks(query, n) == sorted(best, key=best.get, reverse=True)[:n]  # dead rows never rank
    assert all(index.best_of(cid, query) == value for cid, value in best.items())


def test_sentence_search_fetches_more_when_dead_rows_crowd_the_neighbours():
    index, source = _index([(i, 1) for i in range(5)], dead=200)
    assert index.ranked_chunks(np.asarray([1.0, 0.0], dtype=np.float32), 3) == ["c0", "c1", "c2"]
    assert source.requested[0] > 10 * 3  # scaled by the dead share up front
    assert index.sentences[4].text == "句子" and index.by_chunk["c4"] == [4]
