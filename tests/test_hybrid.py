"""Hybrid retrieval over the real report index."""

import copy
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from matrix_vectors import MatrixVectors

from assistant.indexing.lexical import LexicalIndex
from assistant.ingest.chunk import normalize
from assistant.retrieval.hybrid import COMMON_SHARE, HybridRetriever, rrf, with_leaders
from assistant.retrieval.sentences import SentenceIndex
from assistant.settings import RetrieveSettings
from assistant.types import Chunk


def test_rrf_rewards_agreement_and_respects_weights():
    fused = rrf([(["a", "b"], 1.0), (["b", "c"], 1.0)], k=60)
    assert max(fused, key=fused.get) == "b"
    weighted = rrf([(["a"], 1.0), (["c"], 0.1)], k=60)
    assert weighted["a"] > weighted["c"]


def test_each_rankings_leader_takes_one_of_the_last_places_among_the_k():
    order = ["a", "b", "c", "d", "e", "f", "x"]
    kept = with_leaders(order, [["x", "a"], ["a"], ["f", "b"], []], k=5)
    assert kept == ["a", "b", "c", "x", "f", "d", "e"]
    assert sorted(kept) == sorted(order)  # nothing lost, nothing added


def test_leaders_already_among_the_k_or_unknown_change_nothing():
    order = ["a", "b", "c"]
    assert with_leaders(order, [["b"], ["c", "a"]], k=3) == order
    assert with_leaders(order, [["z"]], k=2) == order  # not a fused candidate (another document, a dead row)
    assert with_leaders(order, [["c"]], k=1) == order  # the fused best stays first


def test_the_passage_bm25_ranks_first_is_returned_though_the_vectors_rank_it_low(report_assistant):
    retriever, query = report_assistant.prepare("计算成本会限制企业采用生成式AI吗？")
    leader = retriever.lexical.search(query.tokens, 1)[0][0]
    assert leader in [h.chunk.id for h in retriever.search(query, 5)]
    plain = copy.copy(retriever)
    plain.settings = retriever.settings.model_copy(update={"keep_leaders": False})
    assert leader not in [h.chunk.id for h in plain.search(query, 5)]  # RRF alone puts it below fifth


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


def _retriever(texts: list[str], sentences: SentenceIndex | None = None, sections: list[str] | None = None) -> HybridRetriever:
    sections = sections or ["s"] * len(texts)
    chunks = [Chunk(f"c{i}", "doc.txt", text, 10 * i, 10 * i + len(text), i, 1, sections[i]) for i, text in enumerate(texts)]
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


def _scoped(question: str, ranked: list[str]) -> list[str]:
    sections = ["摘要", "第一节 解密", "第三节 商机", "第三节 商机", "第四节 采用", "第四节 采用", "第四节 采用"]
    retriever = _retriever([f"句子{i}。" for i in range(len(sections))], sections=sections)
    return retriever.scope(retriever.prepare(question, "zh", np.zeros(2)), ranked)


def test_a_question_naming_two_parts_is_scoped_to_both_with_the_best_of_each_first():
    ranked = ["c3", "c2", "c1", "c0", "c4"]
    assert _scoped("摘要和第三节讲了什么？", ranked) == ["c0", "c3", "c2"]
    assert _scoped("第三节讲了什么？", ranked) == ["c3", "c2"]
    assert _scoped("摘要和第二节讲了什么？", ranked) == ["c0"]  # a part with no chunk adds nothing


def test_the_conclusion_is_a_section_named_so_never_the_last_one():
    ranked = ["c4", "c6", "c1", "c0", "c5"]
    assert _scoped("报告在开头和结论里都提到了什么？", ranked) == ["c0"]  # this document has no conclusion section
    assert _scoped("微软投资了多少？", ranked) == ranked  # no part named: no scope
