"""Sentence-aware chunking with offsets, so every chunk and quote maps back to the cleaned text."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from assistant.types import Chunk, CleanDocument, Sentence

# A sentence ends after Chinese/English terminal punctuation (plus closing quotes/brackets),
# after a period followed by whitespace, or at a line break (table rows, headings, list items).
SENTENCE_END_RE = re.compile(r"[。！？；!?;…]+[”’」』）)\"']*|\.(?=\s)[”’\"')]*|\n")
SOFT_BREAK_RE = re.compile(r"[，、,：:\s]")
MIN_SENTENCE_CHARS = 4
MIN_SECTION_CHARS = 40


def normalize(text: str) -> str:
    """Whitespace-insensitive form used for ids and for matching quotes against PDF line breaks."""
    return "".join(text.split())


def chunk_id(doc_id: str, text: str, occurrence: int = 0) -> str:
    """Content-derived id: unchanged text keeps its id across re-indexing; repeats get an occurrence suffix."""
    key = f"{doc_id}\x00{normalize(text)}" + (f"\x00{occurrence}" if occurrence else "")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans in ``text[start:end]``, trimmed of surrounding whitespace, in order."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in SENTENCE_END_RE.finditer(text, start, end):
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, end))
    trimmed = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            trimmed.append((a, b))
    return trimmed


def split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``limit`` at the last soft break (comma, space) before the limit."""
    pieces = []
    while end - start > limit:
        cut = start + limit
        soft = [m.end() for m in SOFT_BREAK_RE.finditer(text, start + limit // 2, cut)]
        cut = soft[-1] if soft else cut
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def section_spans(doc: CleanDocument) -> list[tuple[int, int]]:
    """Chunks never straddle a heading, so each chunk has one section and sub-heading.

    A span too short to stand alone (a title, a heading directly followed by another)
    is merged into the next one rather than becoming a tiny chunk that matches everything.
    """
    bounds = sorted({0, len(doc.text), *(h.start for h in doc.headings if 0 < h.start < len(doc.text))})
    spans: list[tuple[int, int]] = []
    pending = None
    for a, b in zip(bounds, bounds[1:]):
        a = pending if pending is not None else a
        if len(normalize(doc.text[a:b])) < MIN_SECTION_CHARS and b < len(doc.text):
            pending = a
            continue
        spans.append((a, b))
        pending = None
    return spans


def units(doc: CleanDocument, max_chars: int) -> list[list[tuple[int, int]]]:
    """Sentence spans grouped by section; over-long sentences already cut to fit."""
    grouped = []
    for a, b in section_spans(doc):
        spans = []
        for s, e in split_sentences(doc.text, a, b):
            spans.extend(split_long(doc.text, s, e, max_chars))
        if spans:
            grouped.append(spans)
    return grouped


def pack(spans: list[tuple[int, int]], max_chars: int, overlap_chars: int) -> list[tuple[int, int]]:
    """Greedy packing of consecutive sentences; the next chunk repeats trailing sentences up to the overlap."""
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= max_chars:
            j += 1
        chunks.append((spans[i][0], spans[j][1]))
        if j + 1 >= len(spans):
            break
        k = j + 1
        while k - 1 > i and spans[j][1] - spans[k - 1][0] <= overlap_chars:
            k -= 1
        i = k
    return chunks


def content_start(doc: CleanDocument, start: int, end: int) -> int:
    """First offset after the heading lines a chunk opens with, so a merged title does not hide the section."""
    offset = start
    for heading in doc.headings:
        if start <= heading.start < end and heading.start >= offset:
            line_end = doc.text.find("\n", heading.start)
            offset = end if line_end < 0 else min(line_end + 1, end)
    return offset if offset < end else start


def chunk_document(doc: CleanDocument, *, max_chars: int = 500, overlap_chars: int = 80) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: Counter[str] = Counter()
    for spans in units(doc, max_chars):
        for start, end in pack(spans, max_chars, overlap_chars):
            text = doc.text[start:end]
            key = normalize(text)
            heading = doc.heading_at(content_start(doc, start, end))
            chunks.append(
                Chunk(
                    id=chunk_id(doc.doc_id, text, seen[key]),
                    doc_id=doc.doc_id,
                    text=text,
                    start=start,
                    end=end,
                    ordinal=len(chunks),
                    page=doc.page_at(start),
                    section=heading.section,
                    heading=heading.heading,
                )
            )
            seen[key] += 1
    return chunks


def chunk_sentences(doc: CleanDocument, chunk: Chunk) -> list[Sentence]:
    """The quotable sentences of a chunk: headings and fragments of a few characters are not worth quoting."""
    heading_starts = {h.start for h in doc.headings}
    return [
        Sentence(chunk_id=chunk.id, text=doc.text[a:b], start=a, end=b, page=doc.page_at(a))
        for a, b in split_sentences(doc.text, chunk.start, chunk.end)
        if len(normalize(doc.text[a:b])) >= MIN_SENTENCE_CHARS and a not in heading_starts
    ]
