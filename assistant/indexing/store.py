"""Chroma adapter: the system of record for chunks, their sentences and their vectors.

Every build writes into freshly named collections; the manifest (replaced
atomically) names the live ones. Readers therefore see either the old index or the
new one, and a build that fails or is killed leaves the previous index serving.

Local mode keeps the manifest in ``index/manifest.json`` next to a Chroma
``PersistentClient``. Server mode (``store.chroma_url``) keeps it as one row of a
``<prefix>-manifest`` collection on the Chroma server, so every assistant process
that talks to that server sees the same live generation.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api.client import SharedSystemClient
from chromadb.errors import ChromaError

from assistant.errors import (
    BackendUnavailable,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    StorageUnavailable,
)
from assistant.indexing.manifest import (
    MANIFEST,
    DocumentRecord,
    Manifest,
    read_manifest,
    write_atomic,
)
from assistant.types import Chunk, Sentence

log = logging.getLogger(__name__)
POINTER_ID = "live"
BATCH = 512
PAGE = 5000
CHUNKS_PER_REQUEST = 1000  # sentences of this many chunks per request: far below SQLite's limit on query variables


def _matrix(rows: list) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32) if len(rows) else np.zeros((0, 0), np.float32)


def _chunk_metadata(chunk: Chunk) -> dict[str, str | int]:
    return {
        "doc_id": chunk.doc_id,
        "start": chunk.start,
        "end": chunk.end,
        "ordinal": chunk.ordinal,
        "page": chunk.page,
        "section": chunk.section,
        "heading": chunk.heading,
        "kind": chunk.kind,
    }


def _chunk_from(chunk_id: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        id=chunk_id,
        doc_id=str(meta["doc_id"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        ordinal=int(meta["ordinal"]),
        page=int(meta["page"]),
        section=str(meta.get("section", "")),
        heading=str(meta.get("heading", "")),
        kind=str(meta.get("kind", "prose")),
    )


class ChunkStore:
    """Opens the index under ``index_dir``; cheap to construct, Chroma is touched on first use."""

    def __init__(self, index_dir: Path, collection_prefix: str = "documents", chroma_url: str | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.prefix = collection_prefix
        self.url = chroma_url
        self._client: chromadb.ClientAPI | None = None

    @property
    def where(self) -> str:
        return self.url or str(self.index_dir)

    @property
    def client(self) -> chromadb.ClientAPI:
        if self._client is None:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._client = self._connect()
            except (ChromaError, OSError, ValueError) as exc:
                if self.url:
                    raise BackendUnavailable(
                        f"Cannot reach the Chroma server at {self.url} ({exc}). Start it (`chroma run --path … --port …`) "
                        "or unset ASSISTANT_STORE__CHROMA_URL to use the local index."
                    ) from exc
                self._require_writable()  # a read-only folder is not damage: --rebuild would not help
                raise IndexCorrupt(self.index_dir, str(exc)) from exc
        return self._client

    def _require_writable(self) -> None:
        """Raise StorageUnavailable when no file can be created in the index folder or its Chroma folder."""
        for folder in (self.index_dir, self.index_dir / "chroma"):
            try:
                folder.is_dir() and tempfile.TemporaryFile(dir=folder).close()
            except OSError as exc:
                raise StorageUnavailable(folder, exc.strerror or exc) from exc

    def connect(self) -> chromadb.ClientAPI:
        """Open the store now, so an unreadable one is reported before any indexing work starts."""
        return self.client

    def _connect(self) -> chromadb.ClientAPI:
        if not self.url:
            return chromadb.PersistentClient(path=str(self.index_dir / "chroma"))
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("store.chroma_url must look like http://127.0.0.1:8000")
        client = chromadb.HttpClient(
            host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https" else 8000), ssl=parsed.scheme == "https"
        )
        client.heartbeat()
        return client

    def quarantine(self) -> Path:
        """Move an unreadable local store aside (never delete it) so a rebuild can start clean."""
        target = self.index_dir / f"broken-{time.strftime('%Y%m%d%H%M%S')}"
        target.mkdir(parents=True)
        for name in ("chroma", MANIFEST):
            if (self.index_dir / name).exists():
                os.replace(self.index_dir / name, target / name)
        self._client = None
        SharedSystemClient.clear_system_cache()  # chromadb caches the failed client per path
        log.warning("moved the unreadable index to %s", target)
        return target

    # -- reading -------------------------------------------------------------------------------

    def read(self) -> Manifest | None:
        if not self.url:
            return read_manifest(self.index_dir)
        got = self._pointer().get(ids=[POINTER_ID], include=["documents"])
        if not got["ids"]:
            return None
        return Manifest.parse(got["documents"][0], self.url, "the manifest row")

    def live_version(self) -> str:
        """A cheap token that changes whenever another build switches the live generation."""
        if not self.url:
            path = self.index_dir / MANIFEST
            return str(path.stat().st_mtime_ns) if path.exists() else ""
        got = self._pointer().get(ids=[POINTER_ID], include=["metadatas"])
        return str(got["metadatas"][0]["version"]) if got["ids"] else ""

    def _pointer(self):
        return self.client.get_or_create_collection(f"{self.prefix}-manifest", embedding_function=None)

    def _publish(self, manifest: Manifest) -> None:
        text = manifest.to_json()
        if not self.url:
            write_atomic(self.index_dir / MANIFEST, text)
            return
        # One row, replaced in one request: the server applies it atomically.
        self._pointer().upsert(
            ids=[POINTER_ID], documents=[text], metadatas=[{"version": manifest.version}], embeddings=[[0.0]]
        )

    def manifest(self) -> Manifest:
        manifest = self.read()
        if manifest is None:
            raise IndexMissing(self.where)
        return manifest

    def check(self, fingerprint: dict[str, str]) -> Manifest:
        """The live manifest, or a clear error if it was built with other settings."""
        manifest = self.manifest()
        differences = {
            key: (manifest.fingerprint.get(key, "?"), value)
            for key, value in fingerprint.items()
            if manifest.fingerprint.get(key) != value
        }
        if differences:
            raise IndexMismatch(differences)
        return manifest

    def _collection(self, name: str):
        try:
            return self.client.get_collection(name, embedding_function=None)
        except (ChromaError, ValueError) as exc:
            raise IndexCorrupt(self.where, f"collection {name} is missing: {exc}") from exc

    def require_collections(self, manifest: Manifest) -> None:
        """Raise IndexCorrupt unless both live collections exist (two cheap lookups, no rows read)."""
        self._collection(manifest.chunks_collection)
        self._collection(manifest.sentences_collection)

    def _get_all(self, name: str, include: list[str]) -> dict[str, list]:
        """Every row of a collection, fetched in pages so a large library does not hit request limits."""
        collection = self._collection(name)
        rows: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for offset in range(0, collection.count(), PAGE):
            got = collection.get(include=include, limit=PAGE, offset=offset)
            for key in rows:
                rows[key].extend(got[key])
        return rows

    def load_chunks(self, manifest: Manifest, *, with_vectors: bool = False) -> tuple[list[Chunk], np.ndarray]:
        """Chunks in document order, with their stored vectors when asked (an incremental build reuses them)."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        got = self._get_all(manifest.chunks_collection, include)
        chunks = [_chunk_from(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].ordinal))
        vectors = _matrix([got["embeddings"][i] for i in order]) if with_vectors else np.zeros((0, 0), np.float32)
        return [chunks[i] for i in order], vectors

    def load_sentences(self, manifest: Manifest) -> tuple[list[Sentence], np.ndarray]:
        """Sentences of the stored chunks, grouped by chunk in stored order, fetched for a batch of chunks per request.

        Paging by offset makes Chroma pass over all earlier rows again, which grows quadratically;
        filtering on chunk ids keeps each request in proportion to the rows it returns. At 100k
        chunks (900k sentences) opening the retriever fell from 263 s to 84 s (benchmarks/results/scale.json).
        """
        collection = self._collection(manifest.sentences_collection)
        chunk_ids = self._get_all(manifest.chunks_collection, [])["ids"]  # ids alone are cheap to page by offset
        sentences: list[Sentence] = []
        pages: list[np.ndarray] = []
        for i in range(0, len(chunk_ids), CHUNKS_PER_REQUEST):
            got = collection.get(
                where={"chunk_id": {"$in": chunk_ids[i : i + CHUNKS_PER_REQUEST]}},
                include=["documents", "metadatas", "embeddings"],
            )
            if not got["ids"]:
                continue
            sentences.extend(
                Sentence(chunk_id=str(m["chunk_id"]), text=d, start=int(m["start"]), end=int(m["end"]), page=int(m["page"]))
                for d, m in zip(got["documents"], got["metadatas"])
            )
            pages.append(np.asarray(got["embeddings"], dtype=np.float32))
        return sentences, np.concatenate(pages) if pages else _matrix([])

    def verify(self, manifest: Manifest) -> list[str]:
        """Every disagreement between the manifest and Chroma; empty when they agree exactly."""
        problems: list[str] = []
        try:
            stored = self._get_all(manifest.chunks_collection, ["metadatas"])
            stored_sentences = self._get_all(manifest.sentences_collection, ["metadatas"])
        except IndexCorrupt as exc:
            return [str(exc)]
        expected: dict[str, str] = {}
        for doc_id, record in manifest.documents.items():
            for chunk_id in record.chunk_ids:
                if chunk_id in expected:
                    problems.append(f"chunk {chunk_id} is listed twice ({expected[chunk_id]} and {doc_id})")
                expected[chunk_id] = doc_id
        actual = {cid: str(meta["doc_id"]) for cid, meta in zip(stored["ids"], stored["metadatas"])}
        if len(actual) != len(stored["ids"]):
            problems.append(f"Chroma holds {len(stored['ids']) - len(actual)} duplicate chunk rows")
        for chunk_id in sorted(expected.keys() - actual.keys()):
            problems.append(f"chunk {chunk_id} of {expected[chunk_id]} is in the manifest but not in Chroma")
        for chunk_id in sorted(actual.keys() - expected.keys()):
            problems.append(f"chunk {chunk_id} of {actual[chunk_id]} is in Chroma but not in the manifest")
        for chunk_id in sorted(expected.keys() & actual.keys()):
            if expected[chunk_id] != actual[chunk_id]:
                problems.append(f"chunk {chunk_id} belongs to {actual[chunk_id]} in Chroma but {expected[chunk_id]} in the manifest")
        orphans = {str(m["chunk_id"]) for m in stored_sentences["metadatas"]} - actual.keys()
        if orphans:
            problems.append(f"{len(orphans)} chunks have sentences in Chroma but no chunk row")
        return problems

    def dense_search(self, manifest: Manifest, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        collection = self._collection(manifest.chunks_collection)
        n = min(n, collection.count())
        if n == 0:
            return []
        got = collection.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(got["ids"][0], got["distances"][0])]

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        fingerprint: dict[str, str],
        documents: dict[str, DocumentRecord],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        sentences: list[Sentence],
        sentence_vectors: np.ndarray,
    ) -> Manifest:
        """Write a complete new index beside the live one, then switch the manifest to it."""
        stamp = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
        metadata = {"fingerprint": json.dumps(fingerprint, sort_keys=True)}
        space = {"hnsw": {"space": "cosine"}}
        chunk_col = self.client.create_collection(f"{self.prefix}-{stamp}", metadata=metadata, configuration=space, embedding_function=None)
        sent_col = self.client.create_collection(
            f"{self.prefix}-{stamp}-sentences", metadata=metadata, configuration=space, embedding_function=None
        )
        for i in range(0, len(chunks), BATCH):
            part = chunks[i : i + BATCH]
            chunk_col.add(
                ids=[c.id for c in part],
                embeddings=chunk_vectors[i : i + BATCH],
                documents=[c.text for c in part],
                metadatas=[_chunk_metadata(c) for c in part],
            )
        for i in range(0, len(sentences), BATCH):
            part = sentences[i : i + BATCH]
            sent_col.add(
                ids=[f"{s.chunk_id}:{s.start}" for s in part],
                embeddings=sentence_vectors[i : i + BATCH],
                documents=[s.text for s in part],
                metadatas=[{"chunk_id": s.chunk_id, "start": s.start, "end": s.end, "page": s.page} for s in part],
            )
        try:
            previous = self.read()  # only to keep its collections for readers; a rebuild must not depend on it
        except IndexCorrupt as exc:
            log.warning("replacing an unreadable manifest: %s", exc)
            previous = None
        manifest = Manifest(
            chunks_collection=chunk_col.name,
            sentences_collection=sent_col.name,
            fingerprint=fingerprint,
            built_at=time.time(),
            documents=documents,
            sentences=len(sentences),
        )
        self._publish(manifest)
        # The previous generation stays until the next build, for readers still holding the old manifest.
        keep = {chunk_col.name, sent_col.name}
        if previous:
            keep |= {previous.chunks_collection, previous.sentences_collection}
        self.drop_unused(keep)
        return manifest

    def drop_unused(self, keep: set[str]) -> None:
        """Remove collections of earlier or interrupted builds."""
        for name in self.client.list_collections():
            name = getattr(name, "name", name)
            if name.startswith(self.prefix + "-") and name not in keep and name != f"{self.prefix}-manifest":
                try:
                    self.client.delete_collection(name)
                except (ChromaError, ValueError) as exc:
                    log.warning("could not delete old collection %s: %s", name, exc)
