"""How well a source sentence supports a claim: embedding similarity plus dictionary-aware word overlap."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering.verify.quantities import (
    FIGURE_WORDS,
    quantities,
    same_quantity,
)
from assistant.indexing.embed import VectorEmbeddings
from assistant.indexing.lexical import tokenize
from assistant.retrieval.crosslingual import english_to_chinese_terms
from assistant.types import Chunk, Sentence

LATIN_RE = re.compile(r"[A-Za-z]")
LEXICAL_WEIGHT = 0.2


Similarity = Callable[[str, Sequence[str]], Sequence[float]]


def claim_terms(claim: str) -> list[str]:
    """Distinct content words of a claim; figures, with their scale words, are compared as quantities instead."""
    return list(
        dict.fromkeys(
            t for t in tokenize(claim, stemmed=False) if not t.replace(".", "").rstrip("%").isdigit() and t not in FIGURE_WORDS
        )
    )


def term_forms(term: str) -> tuple[str, ...]:
    """How a claim word can appear in a source: as itself, or an English word as a Chinese dictionary translation."""
    return (term, *english_to_chinese_terms(term)) if LATIN_RE.match(term) else (term,)


def mentions(forms: Sequence[str], text: str, lowered: str) -> bool:
    """Latin forms match whole words of the lower-cased text; Chinese forms match anywhere."""
    return any(
        re.search(rf"(?<![a-z]){re.escape(form)}(?![a-z])", lowered) if LATIN_RE.match(form) else form in text
        for form in forms
    )


def lexical_overlaps(claim: str, texts: Sequence[str]) -> list[float]:
    """IDF-weighted share of the claim's words and figures that each text states.

    IDF is taken over ``texts`` themselves, so words every retrieved source shares
    (the topic of the question) count for little and a claim's distinctive words and figures decide.
    """
    lowered = [t.lower() for t in texts]
    stated = [quantities(t, loose=True) for t in texts]
    forms = [term_forms(term) for term in claim_terms(claim)]
    found = [[mentions(f, t, low) for t, low in zip(texts, lowered)] for f in forms]
    found += [[any(same_quantity(q, s) for s in figures) for figures in stated] for q in quantities(claim)]
    weights = [math.log(1 + (len(texts) - sum(row) + 0.5) / (sum(row) + 0.5)) for row in found]
    total = sum(weights)
    if not total:
        return [0.0] * len(texts)
    return [sum(w for w, row in zip(weights, found) if row[i]) / total for i in range(len(texts))]


def support_scores(claim: str, texts: Sequence[str], similarity: Similarity) -> list[float]:
    """How well each text supports the claim, on one scale for Chinese and English claims.

    Raw similarity depends on the language pair (E5 puts two unrelated Chinese sentences
    closer than an English claim and its Chinese source), so it counts as its margin
    over the median text: the claim must be closer to its evidence than to the typical
    retrieved sentence. Meaningful for several texts (k chunks of several sentences).
    """
    if not texts:
        return []
    similarities = np.asarray(similarity(claim, texts), dtype=float)
    margins = similarities - float(np.median(similarities))
    return [float(m) + LEXICAL_WEIGHT * o for m, o in zip(margins, lexical_overlaps(claim, texts))]


def embedding_similarity(embeddings: VectorEmbeddings, known: Mapping[str, np.ndarray] | None = None) -> Similarity:
    """Cosine similarity from normalised embeddings (claim as query, sources as passages).

    Source vectors are cached by text, seeded with the index's stored sentence vectors
    (``known``): the same retrieved sentences recur in every sentence of an answer and
    across answers, and the cache is bounded by the corpus.
    """
    cache: dict[str, np.ndarray] = {}

    def similarity(claim: str, texts: Sequence[str]) -> list[float]:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if known is not None:
            cache.update((t, v) for t in missing if (v := known.get(t)) is not None)  # one lookup each
            missing = [t for t in missing if t not in cache]
        if missing:
            cache.update(zip(missing, embeddings.passages(missing)))
        return (np.stack([cache[t] for t in texts]) @ embeddings.query(claim)).tolist()

    return similarity


@dataclass(frozen=True)
class Candidate:
    """A quotable sentence of the source numbered ``number`` in the prompt."""

    number: int  # 1-based source number
    chunk: Chunk
    sentence: Sentence


SourceSentences = Mapping[str, Sequence[Sentence]] | Sequence[Sequence[Sentence]]
"""Quotable sentences by chunk id, or one list per source in prompt order (evidence windows of one chunk differ)."""


def candidates(sources: Sequence[Chunk], sentences: SourceSentences) -> list[Candidate]:
    """Quotable sentences of every source; a source without sentences is quoted whole."""
    found = []
    for number, chunk in enumerate(sources, start=1):
        given = sentences.get(chunk.id) if isinstance(sentences, Mapping) else sentences[number - 1]
        own = given or [Sentence(chunk.id, chunk.text, chunk.start, chunk.end, chunk.page)]
        found.extend(Candidate(number, chunk, s) for s in own)
    return found


def best_by_source(
    claim: str, pool: Sequence[Candidate], similarity: Similarity, numbers: Collection[int]
) -> dict[int, tuple[float, Candidate]]:
    """The best-supporting sentence of each of the sources ``numbers``, scored against the whole pool."""
    texts = list(dict.fromkeys(c.sentence.text for c in pool))  # overlapping chunks repeat sentences
    score = dict(zip(texts, support_scores(claim, texts, similarity)))
    best: dict[int, tuple[float, Candidate]] = {}
    for candidate in pool:
        value = score[candidate.sentence.text]
        if candidate.number in numbers and (candidate.number not in best or value > best[candidate.number][0]):
            best[candidate.number] = (value, candidate)
    return best
