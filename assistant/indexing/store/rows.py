"""How a chunk and its sentences become immutable Chroma rows that do not depend on where the chunk sits.

A chunk row holds what the chunk's own content determines: its text, document, section and
heading, and the spans of its quotable sentences relative to the chunk's start (with each
sentence's page relative to the chunk's page). Its id is the chunk id plus a hash of all of that,
so one id always means one row content: rows are written once and never updated. Where the
chunk sits in its document (start, ordinal, page) lives in the manifest, so an edit above a
paragraph moves it without rewriting it. Sentence rows are ``<chunk row>:<k>``, ids and vectors only.
``SentenceVectors`` reads them for a retriever on a Chroma server (given the collection by the store, the one Chroma
adapter); a local index serves them from segments beside it (vectorfile.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from assistant.indexing.store.manifest import DocumentRecord
from assistant.indexing.tokens import TOKENIZER_VERSION
from assistant.types import Chunk, Sentence


def sentence_layout(chunk: Chunk, sentences: list[Sentence]) -> str:
    """``start,end,page;…`` of each sentence, relative to the chunk."""
    return ";".join(f"{s.start - chunk.start},{s.end - chunk.start},{s.page - chunk.page}" for s in sentences)


def parse_layout(layout: str) -> list[tuple[int, int, int]]:
    return [(int(a), int(b), int(p)) for a, b, p in (part.split(",") for part in layout.split(";"))] if layout else []


def layout_spans(layouts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The number of sentences in each layout, and all their ``(start, end, page)`` rows in one array: parsed in
    one pass (900k sentences at 100k chunks took seconds tuple by tuple)."""
    counts = np.fromiter((layout.count(";") + 1 if layout else 0 for layout in layouts), np.intp, len(layouts))
    joined = ",".join(layout.replace(";", ",") for layout in layouts if layout)
    spans = np.fromstring(joined, dtype=np.int32, sep=",") if joined else np.zeros(0, np.int32)
    if len(spans) != 3 * counts.sum():
        raise ValueError(f"malformed sentence layouts: {len(spans)} numbers for {counts.sum()} sentences")
    return counts, spans.reshape(-1, 3)


@dataclass(frozen=True)
class RowContent:
    """What a chunk row holds besides its document, which its id names (the chunk id hashes it): all the row hash covers."""

    text: str
    section: str
    heading: str
    kind: str
    layout: str

    @classmethod
    def of(cls, chunk: Chunk, layout: str) -> RowContent:
        return cls(chunk.text, chunk.section, chunk.heading, chunk.kind, layout)

    @classmethod
    def stored(cls, text: str, meta: dict) -> RowContent:
        """From a Chroma row's document and metadata (``row_metadata``)."""
        return cls(text, str(meta.get("section", "")), str(meta.get("heading", "")), str(meta.get("kind", "prose")),
                   str(meta.get("sentences", "")))

    def digest(self) -> str:
        return hashlib.sha256(f"{self.text}\0{self.section}\0{self.heading}\0{self.kind}\0{self.layout}".encode()).hexdigest()[:8]

    def belongs_to(self, row: str) -> bool:
        """Whether this is the content ``row`` was written with (its id ends in the digest)."""
        return row.endswith("." + self.digest())


def row_id(chunk: Chunk, layout: str) -> str:
    return f"{chunk.id}.{RowContent.of(chunk, layout).digest()}"


def sentence_ids(row: str, count: int) -> list[str]:
    return [f"{row}:{k}" for k in range(count)]


TOKENS_KEY = f"tokens_v{TOKENIZER_VERSION}"
"""A chunk row's BM25 tokens in its metadata: written once by the indexer, so an app server opening the library (on
a Chroma server, with an empty local folder) reads them instead of tokenising every row. Named by the tokenizer's
version: another version's tokens are never used. Derived from the row's text, so not part of its digest."""
TOKEN_SEPARATOR = "\x1f"  # no token holds it: tokens are words, numbers and Han runs


def row_metadata(chunk: Chunk, layout: str, tokens: Sequence[str] | None = None) -> dict[str, str]:
    meta = {"doc_id": chunk.doc_id, "section": chunk.section, "heading": chunk.heading, "kind": chunk.kind, "sentences": layout}
    if tokens is not None:
        meta[TOKENS_KEY] = TOKEN_SEPARATOR.join(tokens)
    return meta


def stored_tokens(meta: Mapping[str, object]) -> tuple[str, ...] | None:
    """The tokens ``row_metadata`` wrote, or None for a row written without them (or by another tokenizer)."""
    packed = meta.get(TOKENS_KEY)
    return None if packed is None else tuple(str(packed).split(TOKEN_SEPARATOR)) if packed else ()


@dataclass(frozen=True)
class StoredChunk:
    """A chunk row placed by the manifest: the chunk as cited, its row id and its sentences' layout."""

    row: str
    chunk: Chunk
    layout: str
    tokens: tuple[str, ...] | None = field(default=None, compare=False, repr=False)  # BM25's, when read with the row

    @classmethod
    def placed(cls, row: str, doc_id: str, content: RowContent, start: int, ordinal: int, page: int,
               tokens: tuple[str, ...] | None = None) -> StoredChunk:
        chunk = Chunk(
            id=row.rsplit(".", 1)[0],
            doc_id=doc_id,
            text=content.text,
            start=start,
            end=start + len(content.text),
            ordinal=ordinal,
            page=page,
            section=content.section,
            heading=content.heading,
            kind=content.kind,
        )
        return cls(row, chunk, content.layout, tokens)

    def sentences(self) -> list[Sentence]:
        c = self.chunk
        return [
            Sentence(c.id, c.text[a:b], c.start + a, c.start + b, c.page + p) for a, b, p in parse_layout(self.layout)
        ]


def place(chunks: list[Chunk], sentences: list[Sentence]) -> list[tuple[str, list[int]]]:
    """Each chunk's row id and the indexes of its sentences in ``sentences``."""
    own: dict[str, list[int]] = {}
    for j, sentence in enumerate(sentences):
        own.setdefault(sentence.chunk_id, []).append(j)
    placed = []
    for chunk in chunks:
        mine = own.get(chunk.id, [])
        placed.append((row_id(chunk, sentence_layout(chunk, [sentences[j] for j in mine])), mine))
    return placed


def placed_records(
    documents: dict[str, DocumentRecord], chunks: list[Chunk], placement: list[tuple[str, list[int]]]
) -> dict[str, DocumentRecord]:
    """The records with each chunked document's rows, starts and pages: the generation the manifest will name."""
    by_doc: dict[str, list[tuple[str, Chunk, int]]] = {}
    for chunk, (row, own) in zip(chunks, placement):
        by_doc.setdefault(chunk.doc_id, []).append((row, chunk, len(own)))
    records = dict(documents)
    for doc_id, items in by_doc.items():
        records[doc_id] = records[doc_id].model_copy(update={
            "chunk_rows": tuple(row for row, _, _ in items),
            "chunk_starts": tuple(c.start for _, c, _ in items),
            "chunk_pages": tuple(c.page for _, c, _ in items),
            "chunk_ids": tuple(c.id for _, c, _ in items),
            "chunks": len(items),
            "sentences": sum(n for _, _, n in items),
        })
    return records


class SentenceVectors:
    """The sentence collection as a retriever sees it: approximate nearest rows (Chroma's HNSW) and rows by id.

    ``hold`` is the reader's lock on the generation (holds.py), released when this object is collected.
    """

    def __init__(self, collection, hold: IO[bytes] | None = None) -> None:
        self.collection = collection
        self.hold = hold

    def cover(self, rows: Mapping[str, int]) -> None:
        """Nothing to prepare: the collection holds every row, and the retriever skips dead ones."""

    def count(self) -> int:
        return self.collection.count()

    def nearest(self, vector: np.ndarray, n: int) -> tuple[list[str], np.ndarray]:
        """The ``n`` nearest rows, live or dead, with their stored vectors, nearest first."""
        got = self.collection.query(query_embeddings=[vector.tolist()], n_results=n, include=["embeddings"])
        return got["ids"][0], np.asarray(got["embeddings"][0], dtype=np.float32).reshape(len(got["ids"][0]), -1)

    def vectors(self, ids: list[str]) -> np.ndarray:
        got = self.collection.get(ids=ids, include=["embeddings"])
        found = dict(zip(got["ids"], got["embeddings"]))
        return np.asarray([found[i] for i in ids], dtype=np.float32).reshape(len(ids), -1)
