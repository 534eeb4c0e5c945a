"""Sentence-aware chunking with offsets, so every chunk and quote maps back to the cleaned text."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from assistant.ingest.clean import SENTENCE_END, ends_sentence
from assistant.language import SENTENCE_END_RE
from assistant.types import Chunk, CleanDocument, Sentence

SOFT_BREAK_RE = re.compile(r"[，、,：:\s]")
MIN_SENTENCE_CHARS = 4
MIN_SECTION_CHARS = 40
MIN_TABLE_CHARS = 40  # a smaller table or figure block (a caption, a lone label) stays inside the prose chunk
LINE_RE = re.compile(r"\n")
TABLE_UNIT_CHARS = 60
PROSE, TABLE = "prose", "table"


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


def segments(doc: CleanDocument, start: int, end: int) -> list[tuple[int, int, str]]:
    """A section span cut into prose and table pieces: a table block becomes chunks of its own."""
    pieces: list[tuple[int, int, str]] = []
    cursor = start
    for a, b in doc.tables:
        a, b = max(a, start), min(b, end)
        if a >= b or len(normalize(doc.text[a:b])) < MIN_TABLE_CHARS:
            continue
        if a > cursor:
            pieces.append((cursor, a, PROSE))
        pieces.append((a, b, TABLE))
        cursor = b
    if cursor < end:
        pieces.append((cursor, end, PROSE))
    return absorb_slivers(doc.text, [(a, b, kind) for a, b, kind in pieces if doc.text[a:b].strip()])


def absorb_slivers(text: str, pieces: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A prose sliver between tables (a label such as "基础设施层") joins the table after it, or before it."""
    merged: list[tuple[int, int, str]] = []
    carry: int | None = None
    for a, b, kind in pieces:
        a = carry if carry is not None else a
        carry = None
        if kind == PROSE and len(normalize(text[a:b])) < MIN_TABLE_CHARS:
            if merged and merged[-1][2] == TABLE:
                merged[-1] = (merged[-1][0], b, TABLE)
                continue
            if len(pieces) > 1:
                carry = a
                continue
        merged.append((a, b, kind))
    if carry is not None:
        merged.append((carry, pieces[-1][1], PROSE))
    return merged


def split_units(text: str, start: int, end: int, kind: str) -> list[tuple[int, int]]:
    """Prose splits into sentences; a table into its rows (lines), whatever punctuation a cell holds."""
    return split_lines(text, start, end) if kind == TABLE else split_sentences(text, start, end)


def row_groups(text: str, start: int, end: int, seams: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """A table's quotable units: runs of whole rows up to ``TABLE_UNIT_CHARS``, so a row keeps its neighbours
    (a group label such as "财务" with its rows, a vendor with its customers and prices)."""
    groups: list[tuple[int, int]] = []
    for a, b in split_lines(text, start, end):
        if groups and len(normalize(text[groups[-1][0] : b])) <= TABLE_UNIT_CHARS and not any(
            groups[-1][1] < seam <= a for seam in seams
        ):
            groups[-1] = (groups[-1][0], b)
        else:
            groups.append((a, b))
    return groups


def split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, cursor = [], start
    for match in LINE_RE.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def units(doc: CleanDocument, max_chars: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """Sentence (or table-row) spans grouped by section and kind; over-long ones already cut to fit."""
    grouped = []
    for a, b in section_spans(doc):
        for s, e, kind in segments(doc, a, b):
            for run in seam_runs(doc, split_units(doc.text, s, e, kind)):
                spans = [piece for u, v in run for piece in split_long(doc.text, u, v, max_chars)]
                grouped.append((kind, spans))
    return grouped


def seam_runs(doc: CleanDocument, spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Spans cut at the seams, in runs no chunk may join: a chunk stays a span of the text as the reader sees it."""
    runs: list[list[tuple[int, int]]] = [[]]
    for a, b in spans:
        for seam in (seam for seam in doc.seams if a <= seam < b):
            if seam > a:
                runs[-1].append((a, seam))
            runs.append([])
            a = seam
        runs[-1].append((a, b))
    return [[(a, b) for a, b in run if doc.text[a:b].strip()] for run in runs if any(doc.text[a:b].strip() for a, b in run)]


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
    for kind, spans in units(doc, max_chars):
        for start, end in pack(spans, max_chars, 0 if kind == TABLE else overlap_chars):
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
                    kind=kind,
                )
            )
            seen[key] += 1
    return chunks


def chunk_sentences(doc: CleanDocument, chunk: Chunk) -> list[Sentence]:
    """The quotable units of a chunk: whole prose sentences, or whole table rows.

    Never quoted: headings, captions and labels standing alone (prose lines that end no
    sentence), pieces of a sentence cut to fit a chunk, and text joined across a removed page
    number or running header (the reader sees something else there).
    """
    heading_lines = {h.start for h in doc.headings if doc.text.startswith(h.heading or h.section, h.start)}
    return [
        Sentence(chunk_id=chunk.id, text=doc.text[a:b], start=a, end=b, page=doc.page_at(a))
        for a, b in (
            row_groups(doc.text, chunk.start, chunk.end, doc.seams)
            if chunk.kind == TABLE
            else split_sentences(doc.text, chunk.start, chunk.end)
        )
        if len(normalize(doc.text[a:b])) >= MIN_SENTENCE_CHARS
        and a not in heading_lines
        and whole_unit(doc, a, b, chunk.kind)
        and not any(a < seam < b for seam in doc.seams)
    ]


def whole_unit(doc: CleanDocument, start: int, end: int, kind: str) -> bool:
    """Starts where a sentence or line starts and ends where it ends (a prose list item "label| …" is a line)."""
    before = doc.text[:start].rstrip(" \t")
    after = doc.text[end:].lstrip(" \t")
    line_start = not before or before.endswith("\n")
    line_end = not after or after.startswith("\n")
    if kind == TABLE:
        return line_start and line_end
    starts = line_start or ends_sentence(before, SENTENCE_END + ".")
    text = doc.text[start:end]
    return starts and (ends_sentence(text, SENTENCE_END + ".") or (line_start and line_end and "|" in text[:12]))
