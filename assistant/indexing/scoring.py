"""The BM25 matrix computed from token-id arrays in numpy: the scores ``bm25s`` computes, without its loops.

``bm25s.BM25.index`` counts terms with a ``Counter`` and scores them one document at a time in
Python: at 100k chunks that took longer than the rest of a one-line edit. Here every step is one
array operation over all (document, term) pairs. The arithmetic is bm25s's Lucene variant
(its default) operation for operation, in the same float types, so each stored score is the same
float32 and a query scores identically (test_scoring.py compares both on real text).
"""

from __future__ import annotations

import math

import bm25s
import numpy as np

from assistant.indexing.tokens import RowTokens

EMPTY_ROW = "\u0000"  # a row without tokens gets this one, so that it still counts as a document of length 1


def _with_empty_rows_filled(tokens: RowTokens) -> RowTokens:
    lengths = tokens.lengths
    if len(tokens) == 0 or lengths.min() > 0:
        return tokens
    vocabulary = list(tokens.vocabulary)
    if EMPTY_ROW not in vocabulary:
        vocabulary.append(EMPTY_ROW)
    filled = np.maximum(lengths, 1)
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(filled, out=offsets[1:])
    ids = np.full(offsets[-1], vocabulary.index(EMPTY_ROW), dtype=np.int32)
    ids[np.repeat(offsets[:-1] - tokens.offsets[:-1], lengths) + np.arange(len(tokens.ids))] = tokens.ids
    return RowTokens(vocabulary, ids, offsets)


def bm25_model(tokens: RowTokens, k1: float = 1.5, b: float = 0.75) -> bm25s.BM25:
    """A ``bm25s.BM25`` (default parameters, Lucene scoring) over these rows, ready to score, save and load."""
    tokens = _with_empty_rows_filled(tokens).compact()
    n_docs, n_vocab = len(tokens), len(tokens.vocabulary)
    lengths = tokens.lengths
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    pairs, tf = np.unique(tokens.ids.astype(np.int64) * max(1, n_docs) + doc, return_counts=True)  # term-major: CSC order
    term_of, doc_of = pairs // max(1, n_docs), pairs % max(1, n_docs)
    df = np.bincount(term_of, minlength=n_vocab)
    values, inverse = np.unique(df, return_inverse=True)  # math.log per distinct frequency, as bm25s
    idf = np.asarray([math.log(1 + (n_docs - v + 0.5) / (v + 0.5)) for v in values.tolist()])[inverse].astype(np.float32)
    avg_doc_len = lengths.mean() if n_docs else 0.0
    norm = k1 * ((1 - b) + b * lengths.astype(np.float64) / avg_doc_len)
    tf32 = tf.astype(np.float32)
    scores = (idf[term_of] * (tf32 / (norm[doc_of] + tf32))).astype(np.float32)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    model = bm25s.BM25(k1=k1, b=b)
    model.scores = {"data": scores, "indices": doc_of.astype(np.int32), "indptr": indptr, "num_docs": n_docs}
    model.nonoccurrence_array = None
    model.vocab_dict = {word: i for i, word in enumerate(tokens.vocabulary)}
    model.vocab_dict.setdefault("", n_vocab)  # as bm25s.index(create_empty_token=True)
    model.unique_token_ids_set = set(model.vocab_dict.values())
    return model
