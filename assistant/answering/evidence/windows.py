"""Evidence windows: the best-supported sentences with their neighbours, as the numbered sources of a prompt.

A CPU model reads ~35-85 prompt tokens a second, so whole chunks (about 1,000 tokens for
four) cost 13-25 s before the first word, while the six best sentences alone leave too
little context. Windows sit between: each chosen sentence brings the sentence before and
after it, windows that touch or overlap merge into one, and the whole set fits a token
budget. Sentences are chosen greedily for coverage, not only score (maximal marginal
relevance): a candidate's support, minus its similarity to what was already chosen, plus
a bonus for question tokens no chosen window contains yet, so a two-part question gets
evidence for both parts. The extractive answer's quotes, when given as seeds, are centred
first: they were chosen with the list items and second-part sentences that a score alone
misses, so the prompt holds at least what the offline answer would show. Every window is a
verbatim span of the cleaned document and keeps its real sentences, so citations verify
against the sentences the user sees.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.indexing.lexical import tokens_in
from assistant.language import CJK, is_instruction
from assistant.retrieval.sentences import SentenceIndex
from assistant.types import Chunk, Hit, Sentence

Ranked = Sequence[tuple[float, Sentence, Hit]]
"""Sentences with their support score and the hit they came from, best first (``extractive.rank_sentences``)."""
Span = tuple[str, int, int]
"""A sentence's document id, start and end: the same sentence whichever (overlapping) chunk it was found in."""

CANDIDATES = 24  # best-supported sentences considered; lower ones rarely help and only cost budget
MIN_CENTRE_CHARS = 12  # table cells and labels are poor centres: they bring their neighbouring cells, not a statement
SCORE_FLOOR = 0.12  # candidates scoring this far below the best one are off-topic
REDUNDANCY = 0.5  # weight of a candidate's similarity to the sentences already chosen
COVERAGE_BONUS = 0.15  # weight of the share of question tokens that only this candidate adds
NEW_PASSAGE_BONUS = 0.1  # / the passage's retrieval rank, for a sentence of a passage without a window yet
SOURCE_OVERHEAD_TOKENS = 14  # the <source id="n" section="…"> wrapper around each window
ORDER_REMOVED = "[…]"  # stands in the prompt for a document sentence that gives the assistant orders
TOUCH_CHARS = 3  # sentences at most this many characters apart (whitespace) are neighbours
WIDE_RE = re.compile(f"[\u3000-\u303f{CJK}\uff00-\uffef]")  # Han plus CJK and full-width punctuation: about a token each
DIGIT_RE = re.compile(r"\d")


def estimate_tokens(text: str) -> int:
    """Qwen2.5 tokens of ``text``, estimated without the tokenizer (measured within ~15% on the report).

    Chinese characters average ~0.7 tokens, digits are one token each, other text ~4 characters a token.
    """
    cjk = len(WIDE_RE.findall(text))
    digits = len(DIGIT_RE.findall(text))
    other = len(text) - cjk - digits
    return int(0.7 * cjk + digits + other / 4) + 1


@dataclass(frozen=True)
class Window:
    """A run of consecutive sentences of one document, with the chunk-shaped source the prompt shows."""

    source: Chunk  # text, start and end are the window's; id, section and page those of its first sentence's chunk
    sentences: tuple[Sentence, ...]
    score: float  # best support among its sentences

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.source.text) + SOURCE_OVERHEAD_TOKENS


class _Document:
    """The retrieved chunks of one document, as an ordered list of distinct sentences and the text around them."""

    def __init__(self, chunks: Sequence[Chunk], index: SentenceIndex) -> None:
        self.chunks = sorted(chunks, key=lambda c: c.start)
        spans: dict[tuple[int, int], Sentence] = {}
        for chunk in self.chunks:
            for row in index.by_chunk.get(chunk.id, []):
                sentence = index.sentences[row]
                spans.setdefault((sentence.start, sentence.end), sentence)
        self.sentences = [spans[key] for key in sorted(spans)]
        self.position = {key: i for i, key in enumerate(sorted(spans))}

    def text(self, start: int, end: int) -> str:
        """The document text from ``start`` to ``end``, stitched from the (overlapping) chunks that cover it."""
        parts, cursor = [], start
        while cursor < end:
            covering = [c for c in self.chunks if c.start <= cursor < c.end]
            if not covering:  # a gap between retrieved chunks: only whitespace separates touching sentences
                following = [c.start for c in self.chunks if c.start > cursor]
                cursor = min(following + [end])
                parts.append(" ")
                continue
            chunk = max(covering, key=lambda c: c.end)
            stop = min(end, chunk.end)
            parts.append(chunk.text[cursor - chunk.start : stop - chunk.start])
            cursor = stop
        return "".join(parts)

    def chunk_of(self, sentence: Sentence) -> Chunk:
        return next((c for c in self.chunks if c.id == sentence.chunk_id), self.chunks[0])

    def neighbours(self, first: int, last: int, reach: int) -> tuple[int, int]:
        """Widen positions ``first..last`` by up to ``reach`` sentences each way, across touching sentences only."""
        for _ in range(reach):
            if first > 0 and self.sentences[first].start - self.sentences[first - 1].end <= TOUCH_CHARS:
                first -= 1
            if last + 1 < len(self.sentences) and self.sentences[last + 1].start - self.sentences[last].end <= TOUCH_CHARS:
                last += 1
        return first, last


def _vectors(ranked: Ranked, index: SentenceIndex) -> np.ndarray:
    """The stored vector of each ranked sentence (its row in the index), for the redundancy term."""
    rows = []
    for _, sentence, _ in ranked:
        by_span = {(index.sentences[r].start, index.sentences[r].end): r for r in index.by_chunk.get(sentence.chunk_id, [])}
        rows.append(by_span.get((sentence.start, sentence.end), -1))
    vectors = index.vectors_of([max(r, 0) for r in rows]) if rows else np.zeros((0, 1), dtype=np.float32)
    return np.where(np.asarray(rows)[:, None] >= 0, vectors, 0) if rows else vectors


def select_windows(
    ranked: Ranked,
    index: SentenceIndex,
    *,
    budget_tokens: int,
    query_tokens: Sequence[str] = (),
    reach: int = 1,
    seeds: Sequence[Span] = (),
) -> list[Window]:
    """Windows around the seeds, then the best and most complementary sentences, best first, within ``budget_tokens``.

    A window that does not fit with its neighbours is tried as its sentence alone; the first
    window is always kept (cut to its sentence) so a tiny budget still yields a source.
    """
    if not ranked:
        return []
    seeded = _seeded(ranked, seeds)
    taken = {id(item) for item in seeded}
    pool = seeded + [
        item for item in ranked[:CANDIDATES]
        if id(item) not in taken
        and item[0] >= ranked[0][0] - SCORE_FLOOR
        and (len(item[1].text) >= MIN_CENTRE_CHARS or item is ranked[0])
    ]
    vectors = _vectors(pool, index)
    chunks = {hit.chunk.id: hit.chunk for _, _, hit in ranked}
    documents = {
        doc_id: _Document([c for c in chunks.values() if c.doc_id == doc_id], index)
        for doc_id in dict.fromkeys(c.doc_id for c in chunks.values())
    }
    spans: dict[str, list[tuple[int, int, float]]] = {}  # doc -> (first, last position, score)
    tokens = {t.lower() for t in query_tokens}
    covered: set[str] = set()
    chosen: list[int] = []
    represented: set[str] = set()  # retrieved passages that already have a window
    remaining = list(range(len(pool)))
    while remaining:
        def gain(i: int) -> float:
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            new = len(tokens_in(tokens - covered, pool[i][1].text)) / len(tokens) if tokens else 0.0
            fresh = NEW_PASSAGE_BONUS / pool[i][2].rank if pool[i][2].chunk.id not in represented else 0.0
            return pool[i][0] - REDUNDANCY * max(redundancy, 0.0) + COVERAGE_BONUS * new + fresh

        best = remaining[0] if remaining[0] < len(seeded) else max(remaining, key=gain)
        remaining.remove(best)
        score, sentence, hit = pool[best]
        document = documents[hit.chunk.doc_id]
        at = document.position[(sentence.start, sentence.end)]
        if any(first <= at <= last for first, last, _ in spans.get(hit.chunk.doc_id, [])):
            continue  # already inside a chosen window
        wide = document.neighbours(at, at, 0 if best < len(seeded) else reach)
        for first, last in (wide, (at, at)):
            trial = _merge(spans.get(hit.chunk.doc_id, []), first, last, score)
            alone = first == last == at
            if _cost({**spans, hit.chunk.doc_id: trial}, documents) <= budget_tokens or (alone and not spans):
                spans[hit.chunk.doc_id] = trial
                chosen.append(best)
                represented.add(hit.chunk.id)
                covered |= tokens_in(tokens, sentence.text)
                break
    windows = [_window(documents[doc_id], first, last, score) for doc_id, runs in spans.items() for first, last, score in runs]
    return sorted(windows, key=lambda w: w.score, reverse=True)


def _seeded(ranked: Ranked, seeds: Collection[Span]) -> list[tuple[float, Sentence, Hit]]:
    """The ranked items of the seed sentences, in seed order (each span once)."""
    by_span = {}
    for item in ranked:
        by_span.setdefault((item[2].chunk.doc_id, item[1].start, item[1].end), item)
    return [by_span[span] for span in dict.fromkeys(seeds) if span in by_span]


def _merge(runs: list[tuple[int, int, float]], first: int, last: int, score: float) -> list[tuple[int, int, float]]:
    """Add positions ``first..last`` to a document's runs, merging every run it overlaps or touches."""
    merged = [first, last, score]
    kept = []
    for a, b, s in runs:
        if a <= merged[1] + 1 and merged[0] <= b + 1:
            merged = [min(a, merged[0]), max(b, merged[1]), max(s, merged[2])]
        else:
            kept.append((a, b, s))
    return sorted([*kept, (merged[0], merged[1], merged[2])])


def _cost(spans: dict[str, list[tuple[int, int, float]]], documents: dict[str, _Document]) -> int:
    return sum(_window(documents[d], a, b, s).tokens for d, runs in spans.items() for a, b, s in runs)


def _window(document: _Document, first: int, last: int, score: float) -> Window:
    sentences = tuple(document.sentences[first : last + 1])
    start, end = sentences[0].start, sentences[-1].end
    chunk = document.chunk_of(sentences[0])
    text = document.text(start, end)
    for order in {s.text for s in sentences if is_instruction(s.text)}:  # a document's orders never reach the model
        text = text.replace(order, ORDER_REMOVED)
    source = replace(chunk, text=text, start=start, end=end, page=sentences[0].page)
    return Window(source, sentences, score)
