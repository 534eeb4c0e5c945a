"""Section digests without a model: the sentences most central to a section, quoted.

A sentence is central when its vector is close to the mean vector of its section's
retrieved sentences: it says what the section as a whole says, rather than what the
question's words match. A digest of the whole report is the digest of the section
digests: the most central sentence of each section, in document order.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from assistant.answering.compose.extractive import from_each_part, quoted_answer
from assistant.ingest.clean import ends_sentence
from assistant.ingest.tables import is_cell_row
from assistant.retrieval.hybrid import Query
from assistant.retrieval.sentences import SentenceIndex
from assistant.types import Answer, Hit, Sentence

MIN_DIGEST_CHARS = 20  # a digest sentence says something on its own


def is_prose(text: str) -> bool:
    """A sentence that can stand for its section: long enough and no line of it a table cell or row, which a
    document without table blocks (plain text, a page the cleaner read as prose) can still hold."""
    lines = [line for line in text.splitlines() if line.strip()]
    return len(text) >= MIN_DIGEST_CHARS and not any(is_cell_row(line, finished=ends_sentence(line)) for line in lines)


def central_sentences(hits: list[Hit], sentences: SentenceIndex) -> dict[str, list[tuple[float, Sentence, Hit]]]:
    """Per section (in retrieval order), its prose sentences by closeness to the section's mean vector."""
    rows: dict[str, list[tuple[int, Hit]]] = defaultdict(list)
    for hit in hits:
        if hit.chunk.kind == "table":
            continue
        for i in sentences.by_chunk.get(hit.chunk.id, []):
            if is_prose(sentences.sentences[i].text):
                rows[hit.chunk.section].append((i, hit))
    ranked: dict[str, list[tuple[float, Sentence, Hit]]] = {}
    for section, members in rows.items():
        vectors = sentences.vectors_of([i for i, _ in members])
        centroid = vectors.mean(axis=0)
        centroid = centroid / (np.linalg.norm(centroid) or 1.0)
        scores = vectors @ centroid
        seen: set[tuple[int, int]] = set()
        items = []
        for score, (i, hit) in sorted(zip(scores, members), key=lambda item: -float(item[0])):
            sentence = sentences.sentences[i]
            if (sentence.start, sentence.end) not in seen:
                seen.add((sentence.start, sentence.end))
                items.append((float(score), sentence, hit))
        ranked[section] = items
    return ranked


def compose_digest(question: str, query: Query, hits: list[Hit], sentences: SentenceIndex, *, max_quotes: int) -> Answer:
    """A named section's most central sentences; for the whole report, each section's most central one."""
    ranked = central_sentences(hits, sentences)
    if not ranked:
        ranked = {"": []}
    if query.scope.parts or len(ranked) == 1:
        pool = sorted((item for items in ranked.values() for item in items), key=lambda item: -item[0])
        chosen = pool[:max_quotes]
        chosen += from_each_part(chosen, pool, query.scope)
    else:
        chosen = [items[0] for items in ranked.values() if items]
    chosen.sort(key=lambda item: (item[1].start, item[2].chunk.doc_id))
    evidence = max((item[0] for item in chosen), default=0.0)
    return quoted_answer(question, query, hits, chosen, evidence)
