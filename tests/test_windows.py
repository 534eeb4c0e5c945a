"""Evidence windows: neighbours merged, sections labelled, the token budget respected, coverage over repetition."""

from __future__ import annotations

import numpy as np

from assistant.answering.evidence.windows import estimate_tokens, select_windows
from assistant.retrieval.sentences import SentenceIndex, in_memory_index
from assistant.types import Chunk, Hit, Sentence

TEXTS = [
    "微软对OpenAI投资了100亿美元。",
    "这笔投资让微软获得了模型的使用权。",
    "云服务商也因此从中受益良多。",
    "另一方面，芯片供应商的收入也在增长。",
    "英伟达的数据中心业务增长了三倍。",
    "报告认为这种趋势将持续。",
]


def build(texts: list[str], vectors: np.ndarray, section: str = "摘要") -> tuple[SentenceIndex, Chunk, list[Sentence]]:
    """One chunk of consecutive sentences separated by nothing, with the given sentence vectors."""
    text = "".join(texts)
    chunk = Chunk("c1", "report.txt", text, 100, 100 + len(text), 0, 3, section, "投资")
    sentences, cursor = [], chunk.start
    for t in texts:
        sentences.append(Sentence("c1", t, cursor, cursor + len(t), 3))
        cursor += len(t)
    return in_memory_index([chunk], sentences, vectors), chunk, sentences


def ranked_by(scores: list[float], sentences: list[Sentence], chunk: Chunk) -> list[tuple[float, Sentence, Hit]]:
    hit = Hit(chunk, 1.0, 1)
    return sorted(((s, sentence, hit) for s, sentence in zip(scores, sentences)), key=lambda item: item[0], reverse=True)


def orthogonal(n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)


def test_a_window_brings_the_neighbouring_sentences_verbatim_with_its_section():
    index, chunk, sentences = build(TEXTS, orthogonal(6))
    windows = select_windows(ranked_by([0.9, 0.1, 0.1, 0.1, 0.1, 0.1], sentences, chunk), index, budget_tokens=60)
    assert len(windows) == 1
    window = windows[0]
    assert [s.text for s in window.sentences] == TEXTS[:2]  # the first sentence has no predecessor
    assert window.source.text == TEXTS[0] + TEXTS[1]
    assert chunk.text[window.source.start - chunk.start : window.source.end - chunk.start] == window.source.text
    assert window.source.section_path == "摘要 › 投资" and window.source.id == "c1"


def test_windows_that_touch_merge_into_one():
    index, chunk, sentences = build(TEXTS, orthogonal(6))
    windows = select_windows(ranked_by([0.9, 0.1, 0.85, 0.1, 0.1, 0.1], sentences, chunk), index, budget_tokens=500)
    texts = [w.source.text for w in windows]
    assert texts[0] == "".join(TEXTS[:4])  # sentences 0-1 and 1-3 overlap: one window, no repeated sentence
    assert sum(t.count(TEXTS[1]) for t in texts) == 1


def test_the_budget_is_respected_and_a_window_shrinks_to_its_sentence_when_needed():
    index, chunk, sentences = build(TEXTS, orthogonal(6))
    ranked = ranked_by([0.9, 0.5, 0.5, 0.5, 0.88, 0.5], sentences, chunk)
    for budget in (30, 45, 60, 80, 120):
        windows = select_windows(ranked, index, budget_tokens=budget)
        assert windows and sum(w.tokens for w in windows) <= max(budget, windows[0].tokens)
    small = select_windows(ranked, index, budget_tokens=25)
    assert [s.text for w in small for s in w.sentences] == [TEXTS[0]]


def test_a_near_duplicate_loses_to_a_sentence_about_another_part_of_the_question():
    vectors = orthogonal(6)
    vectors[1] = vectors[0]  # sentence 1 says what sentence 0 says
    index, chunk, sentences = build(TEXTS, vectors)
    ranked = ranked_by([0.9, 0.89, 0.1, 0.1, 0.8, 0.1], sentences, chunk)
    windows = select_windows(ranked, index, budget_tokens=500, reach=0)
    assert [w.sentences[0].text for w in windows[:2]] == [TEXTS[0], TEXTS[4]]


def test_question_tokens_not_yet_covered_earn_a_place():
    index, chunk, sentences = build(TEXTS, orthogonal(6))
    ranked = ranked_by([0.9, 0.1, 0.82, 0.1, 0.8, 0.1], sentences, chunk)
    windows = select_windows(ranked, index, budget_tokens=60, query_tokens=["微软", "英伟达"], reach=0)
    assert [w.sentences[0].text for w in windows] == [TEXTS[0], TEXTS[4]]


def test_seeds_come_first_alone_even_when_they_score_low_and_the_rest_fill_the_budget():
    index, chunk, sentences = build(TEXTS, orthogonal(6))
    ranked = ranked_by([0.9, 0.1, 0.1, 0.1, 0.1, 0.3], sentences, chunk)
    seeds = [("report.txt", sentences[5].start, sentences[5].end)]  # the extractive answer quoted the last sentence
    windows = select_windows(ranked, index, budget_tokens=55, seeds=seeds)
    assert [s.text for s in windows[-1].sentences] == [TEXTS[5]]  # a seed is centred alone: more seeds fit
    assert [s.text for w in windows for s in w.sentences] == [TEXTS[0], TEXTS[5]]  # the best one still has a window
    assert sum(w.tokens for w in windows) <= 55
    unseeded = select_windows(ranked, index, budget_tokens=55)
    assert TEXTS[5] not in [s.text for w in unseeded for s in w.sentences]


def test_token_estimates_count_chinese_digits_and_latin_text_differently():
    assert estimate_tokens("微软" * 10) < estimate_tokens("1234567890" * 2)
    assert 12 <= estimate_tokens("The report does not appear to cover this question at all, sadly.") <= 20
