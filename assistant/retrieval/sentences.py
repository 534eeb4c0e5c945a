"""Best-sentence search: sentence vectors stay in their store (segments on disk, or Chroma) and are fetched per question.

``SentenceIndex`` knows where each quotable sentence sits (compact arrays built from the manifest's row
layouts) and asks a ``SentenceVectorSource`` for neighbours and vectors; ``InMemoryVectors`` is the
same contract over a matrix, for small collections built in code.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import numpy as np

from assistant.indexing.store.rows import (
    StoredChunk,
    layout_spans,
    row_id,
    sentence_ids,
    sentence_layout,
)
from assistant.language import is_evidence
from assistant.types import Chunk, Sentence


def top_indices(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest values, largest first, ties in index order (as a stable sort), without sorting all."""
    if 0 < n < len(values):
        threshold = np.partition(values, len(values) - n)[len(values) - n]
        candidates = np.flatnonzero(values >= threshold)
    else:
        candidates = np.arange(len(values))
    return candidates[np.argsort(-values[candidates], kind="stable")][:n]


class SentenceVectorSource(Protocol):
    """Where sentence vectors live (segments beside a local index, or the store's sentence collection): searched
    approximately, fetched by id. ``cover`` names the live rows and their sentence counts before any search."""

    def cover(self, rows: Mapping[str, int]) -> None: ...

    def count(self) -> int: ...

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]: ...

    def vectors(self, ids: list[str]) -> np.ndarray: ...


class SentenceIndex:
    """The live sentences' positions in memory; their vectors stay in the store, searched through its index.

    Only compact arrays are held per sentence (owner chunk, span, page); a ``Sentence`` is made from its
    chunk's text when asked for. Ranking chunks by their best sentence asks the ANN index for the nearest
    sentence rows, skips dead ones and re-scores the rest exactly; it fetches more until ``n`` chunks are
    found, which makes the top ``n`` exact whenever the ANN neighbours are.
    """

    def __init__(self, stored: Sequence[StoredChunk], source: SentenceVectorSource, cache_rows: int = 20_000) -> None:
        self._chunks = [s.chunk for s in stored]
        self._row_index = {s.row: i for i, s in enumerate(stored)}
        counts, spans = layout_spans([s.layout for s in stored])
        self._first = np.zeros(len(stored) + 1, dtype=np.intp)
        np.cumsum(counts, out=self._first[1:])
        self._spans = spans
        self._owner = np.repeat(np.arange(len(stored), dtype=np.int32), np.diff(self._first))
        self._rows = [s.row for s in stored]
        self.chunk_ids = [c.id for c, n in zip(self._chunks, counts.tolist()) if n]
        self._chunk_index = {c.id: i for i, c in enumerate(self._chunks)}
        self.sentences = _Sentences(self)
        self.by_chunk = _ChunkRows(self)
        self.source = source
        source.cover(dict(zip(self._rows, counts.tolist())))
        self._stored = max(source.count(), len(spans))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_rows = cache_rows
        self._lock = threading.Lock()
        # A sentence that asks is the closest thing to a question, and no evidence: an FAQ or an injection that
        # restates the question must not rank its chunk above the one that answers it. Decided on first use.
        self._excluded = np.full(len(spans), -1, dtype=np.int8)

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

    def vectors_of(self, rows: list[int]) -> np.ndarray:
        """The stored vectors of these sentences (the verifier and windows reuse them instead of re-embedding)."""
        return self._vectors(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def vectors_by_text(self) -> Mapping[str, np.ndarray]:
        """Stored sentence vectors looked up by sentence text, so the verifier never re-embeds an indexed sentence."""
        return _VectorsByText(self)

    def not_evidence(self, rows: list[int]) -> np.ndarray:
        """Which of these sentences are never evidence: questions, and orders addressed to the assistant."""
        index = np.asarray(rows, dtype=np.intp)
        unknown = index[self._excluded[index] < 0]
        for i in unknown.tolist():
            self._excluded[i] = not is_evidence(self.sentence(i).text)
        return self._excluded[index].astype(bool)

    def scores_of(self, rows: list[int], vector: np.ndarray) -> np.ndarray:
        """Exact scores of a few sentences (sentences that are never evidence score -1): the answerer needs the retrieved chunks', not all."""
        if not rows:
            return np.zeros(0, dtype=np.float32)
        scores = self._vectors(rows) @ vector
        scores[self.not_evidence(rows)] = -1.0
        return scores

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
        scores[self.not_evidence(rows)] = -1.0
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


class _VectorsByText(Mapping[str, np.ndarray]):
    """``{sentence text: stored vector}``, its text index built on first use and vectors fetched per lookup."""

    def __init__(self, index: SentenceIndex) -> None:
        self.index = index
        self._rows: dict[str, int] | None = None

    def _by_text(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {self.index.sentence(i).text: i for i in range(len(self.index))}
        return self._rows

    def __getitem__(self, text: str) -> np.ndarray:
        return self.index.vectors_of([self._by_text()[text]])[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_text())

    def __len__(self) -> int:
        return len(self._by_text())


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


class InMemoryVectors:
    """Sentence vectors in a matrix with exact nearest neighbours: the ``SentenceVectorSource`` contract in memory."""

    def __init__(self, ids: list[str], vectors: np.ndarray) -> None:
        self.ids, self.matrix = ids, vectors
        self._where = {sid: i for i, sid in enumerate(ids)}

    def cover(self, rows: Mapping[str, int]) -> None:
        """Nothing to prepare: every row is in the matrix."""

    def count(self) -> int:
        return len(self.ids)

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]:
        order = np.argsort(-(self.matrix @ vector), kind="stable")[:n]
        return [self.ids[i] for i in order], self.matrix[order]

    def vectors(self, ids: list[str]) -> np.ndarray:
        return self.matrix[[self._where[sid] for sid in ids]]


def in_memory_index(chunks: Sequence[Chunk], sentences: Sequence[Sentence], vectors: np.ndarray) -> SentenceIndex:
    """A ``SentenceIndex`` over chunks and their sentences (in chunk order) with one vector per sentence."""
    stored, ids, rows = [], [], []
    for chunk in chunks:
        own = [i for i, s in enumerate(sentences) if s.chunk_id == chunk.id]
        layout = sentence_layout(chunk, [sentences[i] for i in own])
        row = row_id(chunk, layout)
        stored.append(StoredChunk(row, chunk, layout))
        ids += sentence_ids(row, len(own))
        rows += own
    return SentenceIndex(stored, InMemoryVectors(ids, np.asarray(vectors, dtype=np.float32)[rows]))
