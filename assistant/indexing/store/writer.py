"""Writing generations: add the rows of new text to the long-lived collections, then switch the manifest.

``ChunkStore`` (store.py) inherits these methods; they use its Chroma client, its collections, its manifest
publishing and its garbage collector, and keep the write path apart from the read path.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence

import numpy as np

from assistant.indexing.store.manifest import DocumentRecord, Manifest
from assistant.indexing.store.rowcache import remember_rows
from assistant.indexing.store.rows import (
    RowContent,
    SentenceVectors,
    parse_layout,
    place,
    placed_records,
    row_metadata,
    sentence_ids,
    sentence_layout,
)
from assistant.indexing.store.vectorfile import SAMPLE, fingerprint_key
from assistant.types import Chunk, Sentence

log = logging.getLogger(__name__)

BATCH = 5000  # rows per add: Chroma 1.5 local accepts up to 5461 per request, and larger adds are faster per row


class GenerationWriter:
    """The write half of ``ChunkStore``."""

    def write(
        self,
        fingerprint: dict[str, str],
        documents: dict[str, DocumentRecord],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        sentences: list[Sentence],
        sentence_vectors: np.ndarray,
        *,
        live: Manifest | None = None,
        tokens: Mapping[str, Sequence[str]] = {},
    ) -> Manifest:
        """Add the rows that ``live`` lacks, then switch the manifest to ``documents`` in one atomic step.

        ``chunks`` (with their sentences and vectors) are all the rows of the documents that are new or
        changed; every other record must be ``live``'s, placed already. Without ``live`` the generation
        goes into fresh collections (a first build, ``--rebuild``, other settings). ``tokens`` (by row) are
        stored with the new rows for the app servers that will open the generation (rows.TOKENS_KEY).
        """
        live = self.garbage.collect(live)
        placement = place(chunks, sentences)
        existing = live.rows() if live else set()
        new_rows: dict[str, tuple[int, list[int]]] = {}
        for i, (row, own) in enumerate(placement):
            if row not in existing:
                new_rows.setdefault(row, (i, own))
        documents = placed_records(documents, chunks, placement)
        if live is None:
            chunk_col, sent_col = self._create(fingerprint)
        else:
            chunk_col, sent_col = self.collection(live.chunks_collection), self.collection(live.sentences_collection)
        contents = {row: RowContent.of(chunks[i], sentence_layout(chunks[i], [sentences[j] for j in own]))
                    for row, (i, own) in new_rows.items()}
        self._add(chunk_col, sent_col, new_rows, contents, chunks, chunk_vectors, sentence_vectors, tokens)
        if not self.url:
            self._keep_vectors(fingerprint, new_rows, sentence_vectors)
        switched = self._switch(chunk_col.name, sent_col.name, fingerprint, documents)
        remember_rows(self.index_dir, switched.rows(), contents)  # after a first build, the first open reads none
        return self.garbage.settle(switched)

    def _switch(self, chunks: str, sentences: str, fingerprint: dict[str, str], documents: dict[str, DocumentRecord]) -> Manifest:
        manifest = Manifest(
            chunks_collection=chunks,
            sentences_collection=sentences,
            fingerprint=fingerprint,
            built_at=time.time(),
            documents=documents,
            sentences=sum(record.sentences for record in documents.values()),
        )
        self._publish(manifest)
        self.published.add(manifest.version)
        return manifest

    def copy_generation(self, live: Manifest) -> Manifest:
        """The live rows copied, vectors and all, into fresh collections and switched to: compaction (garbage.py)."""
        chunk_col, sent_col = self._create(live.fingerprint)
        source_chunks, source_sentences = self.collection(live.chunks_collection), self.collection(live.sentences_collection)
        rows = sorted(live.rows())
        for i in range(0, len(rows), BATCH):
            got = source_chunks.get(ids=rows[i : i + BATCH], include=["documents", "metadatas", "embeddings"])
            chunk_col.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"])
            ids = [sid for row, m in zip(got["ids"], got["metadatas"]) for sid in sentence_ids(row, len(parse_layout(str(m["sentences"]))))]
            for j in range(0, len(ids), BATCH):
                part = source_sentences.get(ids=ids[j : j + BATCH], include=["embeddings"])
                sent_col.add(ids=part["ids"], embeddings=part["embeddings"])
                self.counts.read += len(part["ids"])
                self.counts.written += len(part["ids"])
            self.counts.read += len(got["ids"])
            self.counts.written += len(got["ids"])
        return self._switch(chunk_col.name, sent_col.name, live.fingerprint, dict(live.documents))

    def _keep_vectors(self, fingerprint: dict[str, str], new_rows: dict[str, tuple[int, list[int]]], vectors: np.ndarray) -> None:
        """The new sentence vectors as a segment beside the index (vectorfile.py); if that fails, the first reader
        reads them from Chroma instead."""
        items = [(row, own) for row, (_, own) in new_rows.items()]  # rows without sentences too: none is "missing"
        if not items:
            return
        order = [j for _, own in items for j in own]
        blocks = (vectors[order[i : i + BATCH]] for i in range(0, len(order), BATCH))
        sample = vectors[order[:: max(1, len(order) // SAMPLE)]] if order else None  # a sample, not every vector
        try:
            self.vector_files.add(fingerprint_key(fingerprint), [row for row, _ in items], [len(own) for _, own in items],
                                  blocks, sample=sample)
        except OSError as exc:
            log.warning("could not keep sentence vectors beside the index: %s", exc)

    def complete_vectors(self, live: Manifest, missing: set[str]) -> None:
        """Keep beside the index the sentence vectors of the ``missing`` live rows, which no segment holds (an index
        written before segments existed, a segment write that failed): read from Chroma once, so readers never load
        its sentence HNSW."""
        if not missing:
            return
        key = fingerprint_key(live.fingerprint)
        counts = {s.row: len(parse_layout(s.layout)) for s in self.load_chunks(live) if s.row in missing}
        rows = sorted(counts)
        ids = [sid for row in rows for sid in sentence_ids(row, counts[row])]
        source = SentenceVectors(self.collection(live.sentences_collection))
        blocks = (source.vectors(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH))
        try:
            self.vector_files.add(key, rows, [counts[row] for row in rows], blocks)
        except (OSError, KeyError) as exc:  # KeyError: Chroma lacks live rows, which `--check` reports
            log.warning("could not keep sentence vectors beside the index: %s", exc)
            return
        self.counts.read += len(ids)
        log.info("kept %d rows' sentence vectors beside the index", len(rows))

    def _create(self, fingerprint: dict[str, str]):
        stamp = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
        options = {"metadata": {"fingerprint": fingerprint_key(fingerprint)},
                   "configuration": {"hnsw": {"space": "cosine"}}, "embedding_function": None}
        return (self.client.create_collection(f"{self.prefix}-{stamp}", **options),
                self.client.create_collection(f"{self.prefix}-{stamp}-sentences", **options))

    def _add(self, chunk_col, sent_col, new_rows, contents, chunks, chunk_vectors, sentence_vectors, tokens) -> None:
        """Chunk rows first, then their sentences: a sentence row never exists without its chunk row (see collect)."""
        items = list(new_rows.items())
        for i in range(0, len(items), BATCH):
            part = items[i : i + BATCH]
            chunk_col.add(
                ids=[row for row, _ in part],
                embeddings=chunk_vectors[[c for _, (c, _) in part]],
                documents=[contents[row].text for row, _ in part],
                metadatas=[row_metadata(chunks[c], contents[row].layout, tokens.get(row)) for row, (c, _) in part],
            )
        ids = [sid for row, (_, own) in items for sid in sentence_ids(row, len(own))]
        rows = [j for _, (_, own) in items for j in own]
        for i in range(0, len(ids), BATCH):
            sent_col.add(ids=ids[i : i + BATCH], embeddings=sentence_vectors[rows[i : i + BATCH]])  # ids and vectors only
        self.counts.written += len(items) + len(ids)
