"""Hybrid retrieval: dense chunk vectors, dense sentence vectors and BM25, fused by language-aware RRF.

Measured on the dev set (see README): BM25 over jieba tokens is strong for Chinese
questions and nearly useless for English ones against Chinese text, so the
lexical list is weighted by the question's language and, for English, restricted
to tokens that can match across languages (numbers, Latin names) plus dictionary
translations. Sentence vectors catch short facts that a 500-character chunk
vector dilutes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .crosslingual import english_to_chinese_terms
from .lexical import LexicalIndex, tokenize
from .settings import RetrieveSettings
from .types import Chunk, Hit, Sentence


COMMON_SHARE = 0.1


@dataclass
class Query:
    """A question prepared once for every retriever: its language, vector and lexical tokens."""

    text: str
    language: str
    vector: np.ndarray
    tokens: list[str]


def lexical_tokens(text: str, language: str, vocabulary: set[str]) -> list[str]:
    """Tokens worth matching against the corpus; English words become Chinese dictionary terms."""
    tokens = tokenize(text)
    if language == "zh":
        return tokens
    kept = [t for t in tokens if t in vocabulary]
    return kept + [t for t in english_to_chinese_terms(text) if t in vocabulary]


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal rank fusion over ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids):
            fused[chunk_id] += weight / (k + rank + 1)
    return fused


class SentenceIndex:
    """All sentence vectors in memory: one matrix product scores every sentence for a query."""

    def __init__(self, sentences: list[Sentence], vectors: np.ndarray) -> None:
        self.sentences = sentences
        self.vectors = vectors
        self.by_chunk: dict[str, list[int]] = defaultdict(list)
        for i, sentence in enumerate(sentences):
            self.by_chunk[sentence.chunk_id].append(i)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        return self.vectors @ vector if len(self.sentences) else np.zeros(0, dtype=np.float32)

    def best_per_chunk(self, scores: np.ndarray) -> dict[str, float]:
        return {cid: float(scores[idx].max()) for cid, idx in self.by_chunk.items()}


class HybridRetriever:
    """Fuses three rankings over one immutable index generation; safe to share between threads."""

    def __init__(
        self,
        chunks: list[Chunk],
        lexical: LexicalIndex,
        sentences: SentenceIndex,
        dense_search,
        settings: RetrieveSettings,
    ) -> None:
        self.chunks = {c.id: c for c in chunks}
        self.lowered_texts = [c.text.lower() for c in chunks]  # lowered once, not on every question
        self.lexical = lexical
        self.sentences = sentences
        self.dense_search = dense_search  # (vector, n) -> [(chunk_id, similarity)]
        self.settings = settings
        self.vocabulary = set(lexical.model.vocab_dict) if hasattr(lexical.model, "vocab_dict") else set()

    def is_common(self, word: str) -> bool:
        """Whether a word occurs in more than a tenth of the chunks (like 'AI' here): too generic to anchor on."""
        word = word.lower()
        return sum(word in text for text in self.lowered_texts) > COMMON_SHARE * len(self.lowered_texts)

    def prepare(self, text: str, language: str, vector: np.ndarray) -> Query:
        return Query(text, language, vector, lexical_tokens(text, language, self.vocabulary))

    def search(self, query: Query, k: int) -> list[Hit]:
        n = self.settings.candidates
        dense = self.dense_search(query.vector, n)
        dense_sim = dict(dense)
        sentence_best = self.sentences.best_per_chunk(self.sentences.scores(query.vector))
        sentence_rank = sorted(sentence_best, key=sentence_best.get, reverse=True)[:n]
        lexical = self.lexical.search(query.tokens, n)
        lexical_weight = self.settings.lexical_weight_zh if query.language == "zh" else self.settings.lexical_weight_en
        fused = rrf(
            [
                ([cid for cid, _ in dense], self.settings.dense_weight),
                (sentence_rank, self.settings.sentence_weight),
                ([cid for cid, _ in lexical], lexical_weight),
            ],
            self.settings.rrf_k,
        )
        order = sorted((cid for cid in fused if cid in self.chunks), key=lambda cid: fused[cid], reverse=True)[:k]
        return [
            Hit(
                chunk=self.chunks[cid],
                score=fused[cid],
                rank=rank + 1,
                dense_score=max(dense_sim.get(cid, 0.0), sentence_best.get(cid, 0.0)),
            )
            for rank, cid in enumerate(order)
        ]
