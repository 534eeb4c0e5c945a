"""Synthetic documents written with the real ChunkStore, and what they leave on disk: shared by the GC tests."""

import sqlite3
from contextlib import closing

import numpy as np

from assistant.indexing.store.manifest import DocumentRecord
from assistant.indexing.store.chunks import ChunkStore, RowCounts
from assistant.types import Chunk, Sentence

FP = {"embedding_model": "m1"}


def document(store: ChunkStore, doc_id: str, count: int, seed: int, live=None):
    """``count`` two-sentence chunks with random vectors, written as one document beside ``live``'s."""
    rng = np.random.default_rng(seed)
    chunks = [Chunk(f"{doc_id}{i}", doc_id, f"第{seed}-{i}句。又一句{i}。", 0, 14, i, 1, "") for i in range(count)]
    sentences = [Sentence(c.id, c.text[a:b], a, b, 1) for c in chunks for a, b in ((0, 7), (7, len(c.text)))]
    documents = {**(live.documents if live else {}), doc_id: DocumentRecord(sha256=doc_id, chunks=count, indexed_at=0)}
    store.counts = RowCounts()
    return store.write(FP, documents, chunks, rng.standard_normal((count, 384)).astype(np.float32),
                       sentences, rng.standard_normal((2 * count, 384)).astype(np.float32), live=live)


def segment_folders(store: ChunkStore) -> set[str]:
    return {p.name for p in (store.index_dir / "chroma").iterdir() if p.is_dir()}


def free_pages(store: ChunkStore) -> int:
    database = store.index_dir / "chroma" / "chroma.sqlite3"
    with closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as connection:
        return connection.execute("PRAGMA freelist_count").fetchone()[0]


def remove(store: ChunkStore, live, doc_id: str):
    """The next generation without ``doc_id``: nothing written, only the manifest switched."""
    documents = {d: r for d, r in live.documents.items() if d != doc_id}
    empty = np.zeros((0, 384), np.float32)
    store.counts = RowCounts()
    return store.write(FP, documents, [], empty, [], empty, live=live)
