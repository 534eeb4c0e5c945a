"""Hybrid retrieval: dense chunk vectors, dense sentence vectors and BM25, fused by language-aware RRF.

Measured on the dev set (see README): BM25 over jieba tokens is strong for Chinese
questions and nearly useless for English ones against Chinese text, so the
lexical list is weighted by the question's language and, for English, restricted
to tokens that can match across languages (numbers, Latin names) plus dictionary
translations. Sentence vectors catch short facts that a 500-character chunk
vector dilutes; they are searched through the store's ANN index, not held in memory.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

import numpy as np

from assistant.indexing.lexical import LexicalIndex, tokenize
from assistant.indexing.rows import StoredChunk, parse_layout
from assistant.retrieval.crosslingual import english_to_chinese_terms
from assistant.settings import RetrieveSettings
from assistant.types import Chunk, Hit, Sentence

COMMON_SHARE = 0.1
LATIN_RUN_RE = re.compile(r"[a-z]+")


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


def top_indices(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest values, largest first, ties in index order (as a stable sort), without sorting all."""
    if 0 < n < len(values):
        threshold = np.partition(values, len(values) - n)[len(values) - n]
        candidates = np.flatnonzero(values >= threshold)
    else:
        candidates = np.arange(len(values))
    return candidates[np.argsort(-values[candidates], kind="stable")][:n]


def rrf(rankings: list[tuple[list[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal rank fusion over ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids):
            fused[chunk_id] += weight / (k + rank + 1)
    return fused


class SentenceVectorSource(Protocol):
    """Where sentence vectors live (the store's sentence collection): searched approximately, fetched by id."""

    def count(self) -> int: ...

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]: ...

    def vectors(self, ids: list[str]) -> np.ndarray: ...


class SentenceIndex:
    """The live sentences' positions in memory; their vectors stay in the store, searched through its ANN index.

    Only compact arrays are held per sentence (owner chunk, span, page); a ``Sentence`` is made from its
    chunk's text when asked for. Ranking chunks by their best sentence asks the ANN index for the nearest
    sentence rows, skips dead ones and re-scores the rest exactly; it fetches more until ``n`` chunks are
    found, which makes the top ``n`` exact whenever the ANN neighbours are.
    """

    def __init__(self, stored: Sequence[StoredChunk], source: SentenceVectorSource, cache_rows: int = 20_000) -> None:
        self._chunks = [s.chunk for s in stored]
        self._row_index = {s.row: i for i, s in enumerate(stored)}
        layouts = [parse_layout(s.layout) for s in stored]
        self._first = np.fromiter(accumulate((len(x) for x in layouts), initial=0), np.intp, len(stored) + 1)
        spans = np.asarray([span for x in layouts for span in x], dtype=np.int32).reshape(-1, 3)
        self._spans = spans
        self._owner = np.repeat(np.arange(len(stored), dtype=np.int32), np.diff(self._first))
        self._rows = [s.row for s in stored]
        self.chunk_ids = [c.id for c, x in zip(self._chunks, layouts) if x]
        self._chunk_index = {c.id: i for i, c in enumerate(self._chunks)}
        self.sentences = _Sentences(self)
        self.by_chunk = _ChunkRows(self)
        self.source = source
        self._stored = max(source.count(), len(spans))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_rows = cache_rows
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._spans)

    def sentence(self, i: int) -> Sentence:
        chunk = self._chunks[self._owner[i]]
        a, b, page = (int(v) for v in self._spans[i])
        return Sentence(chunk.id, chunk.text[a:b], chunk.start + a, chunk.start + b, chunk.page + page)

    def rows_of(self, chunk_id: str) -> list[int]:
        i = self._chunk_index.get(chunk_id)
        return [] if i is None else list(range(self._first[i], self._first[i + 1]))

    def _id(self, i: int) -> str:
        owner = int(self._owner[i])
        return f"{self._rows[owner]}:{i - self._first[owner]}"

    def _live_row(self, sentence_id: str) -> int | None:
        row, _, k = sentence_id.rpartition(":")
        owner = self._row_index.get(row)
        return None if owner is None else int(self._first[owner]) + int(k)

    def _vectors(self, rows: list[int]) -> np.ndarray:
        """Vectors of these sentences, from a small cache of immutable rows or one request for the rest."""
        with self._lock:
            missing = [i for i in dict.fromkeys(rows) if i not in self._cache]
        if missing:
            self._remember(missing, self.source.vectors([self._id(i) for i in missing]))
        with self._lock:
            return np.vstack([self._cache[i] for i in rows])

    def _remember(self, rows: list[int], vectors: np.ndarray) -> None:
        with self._lock:
            for i, vector in zip(rows, vectors):
                self._cache[i] = vector
                self._cache.move_to_end(i)
            while len(self._cache) > self._cache_rows:
                self._cache.popitem(last=False)

    def scores_of(self, rows: list[int], vector: np.ndarray) -> np.ndarray:
        """Exact scores of a few sentences: the answerer needs the retrieved chunks', not all of them."""
        return self._vectors(rows) @ vector if rows else np.zeros(0, dtype=np.float32)

    def best_of(self, chunk_id: str, vector: np.ndarray) -> float:
        """The chunk's best sentence score; 0.0 for a chunk without sentences."""
        rows = self.rows_of(chunk_id)
        return float(self.scores_of(rows, vector).max()) if rows else 0.0

    def ranked_chunks(self, vector: np.ndarray, n: int) -> list[str]:
        """The ``n`` chunks whose best sentence scores highest, best first, ties in stored order."""
        if not len(self._spans) or n <= 0:
            return []
        # Ten sentences per wanted chunk, scaled up by the share of dead rows in the collection.
        want = min(self._stored, -(-10 * n * self._stored // len(self._spans)))
        while True:
            ids, vectors = self.source.nearest(vector, want)
            live = [(self._live_row(sid), v) for sid, v in zip(ids, vectors)]
            rows = [i for i, _ in live if i is not None]
            if rows:
                self._remember(rows, [v for i, v in live if i is not None])
            owners = self._owner[rows]
            if len(set(owners.tolist())) >= n or want >= self._stored or len(ids) < want:
                break
            want = min(self._stored, 2 * want)
        if not rows:
            return []
        scores = np.vstack([v for i, v in live if i is not None]) @ vector
        chunks, inverse = np.unique(owners, return_inverse=True)
        best = np.full(len(chunks), -np.inf, dtype=scores.dtype)
        np.maximum.at(best, inverse, scores)
        return [self._chunks[chunks[i]].id for i in top_indices(best, n)]


class _Sentences(Sequence[Sentence]):
    """``index.sentences[i]``: made on access, so 900k sentences cost arrays, not objects."""

    def __init__(self, index: SentenceIndex) -> None:
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self.index.sentence(j) for j in range(*i.indices(len(self)))]
        return self.index.sentence(i)


class _ChunkRows(Mapping[str, list[int]]):
    """``index.by_chunk[chunk_id]``: the rows of a chunk's sentences, contiguous in stored order."""

    def __init__(self, index: SentenceIndex) -> None:
        self.index = index

    def __getitem__(self, chunk_id: str) -> list[int]:
        rows = self.index.rows_of(chunk_id)
        if not rows:
            raise KeyError(chunk_id)
        return rows

    def __iter__(self) -> Iterator[str]:
        return iter(self.index.chunk_ids)

    def __len__(self) -> int:
        return len(self.index.chunk_ids)


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
        # Latin-letter runs of every lowered chunk, chunks separated by NUL: is_common scans this, not the Chinese text.
        runs = [" ".join(LATIN_RUN_RE.findall(c.text.lower())) + "\0" for c in chunks]
        self._latin_runs = "".join(runs)
        self._latin_starts = list(accumulate((len(r) for r in runs), initial=0))[:-1]
        self.lexical = lexical
        self.sentences = sentences
        self.dense_search = dense_search  # (vector, n) -> [(chunk_id, similarity)]
        self.settings = settings
        self.vocabulary = set(lexical.model.vocab_dict) if hasattr(lexical.model, "vocab_dict") else set()

    def is_common(self, word: str) -> bool:
        """Whether a Latin-letter word occurs in more than a tenth of the chunks (like 'AI' here): too generic to anchor on.

        Counts the chunks whose lowered text contains the word, as a substring. Such an occurrence
        lies inside one run of Latin letters, so scanning the runs alone gives the same count.
        """
        word = word.lower()
        if not LATIN_RUN_RE.fullmatch(word):
            raise ValueError(f"is_common takes a word of Latin letters, not {word!r}")
        limit = COMMON_SHARE * len(self._latin_starts)
        count, position = 0, self._latin_runs.find(word)
        while position >= 0 and count <= limit:
            count += 1
            chunk = bisect_right(self._latin_starts, position)  # the next chunk's index
            if chunk == len(self._latin_starts):
                break
            position = self._latin_runs.find(word, self._latin_starts[chunk])
        return count > limit

    def prepare(self, text: str, language: str, vector: np.ndarray) -> Query:
        return Query(text, language, vector, lexical_tokens(text, language, self.vocabulary))

    def search(self, query: Query, k: int) -> list[Hit]:
        n = self.settings.candidates
        dense = self.dense_search(query.vector, n)
        dense_sim = dict(dense)
        sentence_rank = self.sentences.ranked_chunks(query.vector, n)
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
                dense_score=max(dense_sim.get(cid, 0.0), self.sentences.best_of(cid, query.vector)),
            )
            for rank, cid in enumerate(order)
        ]
