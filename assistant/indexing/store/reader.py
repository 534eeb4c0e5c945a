"""Reading generations: the live rows of a manifest, their vectors, and dense search over them.

``ChunkStore`` (store.py) inherits these methods; they use its collections and its row counts, and keep the
read path apart from the write path (writer.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from assistant.errors import IndexCorrupt
from assistant.indexing.store.holds import hold
from assistant.indexing.store.manifest import Manifest
from assistant.indexing.store.rowcache import load_rows, save_rows, worth_rewriting
from assistant.indexing.store.rows import (
    RowContent,
    SentenceVectors,
    StoredChunk,
    parse_layout,
    stored_tokens,
)
from assistant.indexing.store.vectorfile import FileVectors, fingerprint_key

PAGE = 5000  # rows per get: large libraries would hit request limits in one


class GenerationReader:
    """The read half of ``ChunkStore``."""

    def get_all(self, name: str, include: list[str]) -> dict[str, list]:
        """Every row of a collection, fetched in pages so a large library does not hit request limits."""
        collection = self.collection(name)
        rows: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for offset in range(0, collection.count(), PAGE):
            got = collection.get(include=include, limit=PAGE, offset=offset)
            for key in rows:
                rows[key].extend(got[key])
        return rows

    def _get(self, collection, ids: list[str], include: list[str]) -> dict[str, dict[str, object]]:
        """Rows by id, in pages; keyed by id because Chroma does not keep the request's order."""
        found: dict[str, dict[str, object]] = {}
        for i in range(0, len(ids), PAGE):
            got = collection.get(ids=ids[i : i + PAGE], include=include)
            for j, row in enumerate(got["ids"]):
                found[row] = {key: got[key][j] for key in include}
        self.counts.read += len(found)
        return found

    def load_chunks(self, manifest: Manifest) -> list[StoredChunk]:
        """The live chunks placed as the manifest says, in document and chunk order; rows the row cache holds are
        not read from Chroma (rowcache.py)."""
        names = sorted(manifest.documents)
        wanted = [row for doc_id in names for row in manifest.documents[doc_id].chunk_rows]
        contents = load_rows(self.index_dir)
        unread = [row for row in wanted if row not in contents]
        if unread:
            found = self._get(self.collection(manifest.chunks_collection), unread, ["documents", "metadatas"])
            missing = [row for row in unread if row not in found]
            if missing:
                raise IndexCorrupt(self.where, f"{len(missing)} live chunk rows are missing from Chroma, e.g. {missing[0]}")
            contents.update((row, RowContent.stored(str(got["documents"]), dict(got["metadatas"]))) for row, got in found.items())
        tokens = {row: stored_tokens(dict(got["metadatas"])) for row, got in found.items()} if unread else {}
        live = set(wanted)
        if worth_rewriting(len(unread), len(contents.keys() - live), len(live)):
            save_rows(self.index_dir, {row: contents[row] for row in wanted})
        placed = []
        for doc_id in names:
            record = manifest.documents[doc_id]
            for ordinal, (row, start, page) in enumerate(zip(record.chunk_rows, record.chunk_starts, record.chunk_pages)):
                placed.append(StoredChunk.placed(row, doc_id, contents[row], start, ordinal, page, tokens.get(row)))
        return placed

    def stored_vectors(self, manifest: Manifest, rows: Iterable[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Chunk and sentence vectors by text, of these rows only: what a re-index can reuse for moved text."""
        chunks = self._get(self.collection(manifest.chunks_collection), sorted(rows), ["documents", "metadatas", "embeddings"])
        layouts = {row: parse_layout(str(dict(got["metadatas"]).get("sentences", ""))) for row, got in chunks.items()}
        texts = {
            f"{row}:{k}": str(chunks[row]["documents"])[a:b]
            for row, spans in layouts.items()
            for k, (a, b, _) in enumerate(spans)
        }
        found: dict[str, np.ndarray] = {}
        if not self.url:  # from the segments: a Chroma read would load the whole sentence HNSW into the indexer
            files = FileVectors(self.vector_files, fingerprint_key(manifest.fingerprint), None)
            files.cover({row: len(spans) for row, spans in layouts.items()}, fill=False)
            found = files.stored(list(texts))
        rest = [sid for sid in texts if sid not in found]
        if rest:
            found.update((sid, got["embeddings"]) for sid, got in
                         self._get(self.collection(manifest.sentences_collection), rest, ["embeddings"]).items())
        return (
            {str(got["documents"]): np.asarray(got["embeddings"], np.float32) for got in chunks.values()},
            {texts[sid]: np.asarray(vector, np.float32) for sid, vector in found.items()},
        )

    def dense_search(self, manifest: Manifest, vector: np.ndarray, n: int, live: Mapping[str, str]) -> list[tuple[str, float]]:
        """The ``n`` nearest live chunks (``live`` maps row ids to chunk ids), over-fetching as dead rows require."""
        collection = self.collection(manifest.chunks_collection)
        stored = collection.count()
        want = min(stored, -(-n * stored // max(1, len(live))))  # n over the live share of the rows
        while want:
            got = collection.query(query_embeddings=[vector.tolist()], n_results=want, include=["distances"])
            hits = [(live[row], 1.0 - float(d)) for row, d in zip(got["ids"][0], got["distances"][0]) if row in live]
            if len(hits) >= n or want >= stored:
                return hits[:n]
            want = min(stored, 2 * want)
        return []

    def count_rows(self, manifest: Manifest) -> tuple[int, int]:
        """Chunk and sentence rows stored, live or dead: the over-fetch factor and the benchmark read this."""
        return self.collection(manifest.chunks_collection).count(), self.collection(manifest.sentences_collection).count()

    def sentence_vectors(self, manifest: Manifest) -> SentenceVectors | FileVectors:
        """The generation's sentence rows: from the segments beside a local index (vectorfile.py), from the collection
        on a server. A local reader holds the generation for as long as this object lives (holds.py), so take it
        before reading anything else of the generation."""
        held = None if self.url else hold(self.index_dir, manifest.chunks_collection)
        collection = SentenceVectors(self.collection(manifest.sentences_collection), held)
        return collection if self.url else FileVectors(self.vector_files, fingerprint_key(manifest.fingerprint), collection)
