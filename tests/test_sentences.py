"""Best-sentence search: each chunk's best sentence, dead rows never ranked, partial top-n selection."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from matrix_vectors import MatrixVectors

from assistant.indexing.store.rows import StoredChunk
from assistant.retrieval.sentences import SentenceIndex, top_indices
from assistant.types import Chunk


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=60), st.integers(0, 70))
def test_top_indices_matches_a_stable_full_sort(values, n):
    scores = np.asarray(values, dtype=np.float32)  # few distinct values: many ties
    expected = sorted(range(len(values)), key=lambda i: values[i], reverse=True)[:n]
    assert top_indices(scores, n).tolist() == expected


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
