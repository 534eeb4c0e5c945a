"""Chroma adapter: the system of record for chunks, their sentences and their vectors.

Every build writes into freshly named collections; ``index/manifest.json`` (replaced
atomically) names the live ones. Readers therefore see either the old index or the
new one, and a build that fails or is killed leaves the previous index serving.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import chromadb
import numpy as np
from chromadb.api.client import SharedSystemClient
from chromadb.errors import ChromaError

from .errors import IndexCorrupt, IndexMismatch, IndexMissing
from .types import Chunk, Sentence

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
BATCH = 512


@dataclass
class Manifest:
    """What the live index holds; the staleness check and the Documents tab read it."""

    chunks_collection: str
    sentences_collection: str
    fingerprint: dict[str, str]
    built_at: float
    documents: dict[str, dict[str, object]] = field(default_factory=dict)  # doc_id -> sha256, chunks, encoding
    version: str = field(default_factory=lambda: uuid.uuid4().hex)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_manifest(index_dir: Path) -> Manifest | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise IndexCorrupt(index_dir, f"{MANIFEST} is unreadable: {exc}") from exc


def _chunk_metadata(chunk: Chunk) -> dict[str, str | int]:
    return {
        "doc_id": chunk.doc_id,
        "start": chunk.start,
        "end": chunk.end,
        "ordinal": chunk.ordinal,
        "page": chunk.page,
        "section": chunk.section,
        "heading": chunk.heading,
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
    )


class ChunkStore:
    """Opens the index under ``index_dir``; cheap to construct, Chroma is touched on first use."""

    def __init__(self, index_dir: Path, collection_prefix: str = "documents") -> None:
        self.index_dir = Path(index_dir)
        self.prefix = collection_prefix
        self._client: chromadb.ClientAPI | None = None

    @property
    def client(self) -> chromadb.ClientAPI:
        if self._client is None:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._client = chromadb.PersistentClient(path=str(self.index_dir / "chroma"))
            except (ChromaError, OSError, ValueError) as exc:
                raise IndexCorrupt(self.index_dir, str(exc)) from exc
        return self._client

    def quarantine(self) -> Path:
        """Move an unreadable store aside (never delete it) so a rebuild can start clean."""
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

    def manifest(self) -> Manifest:
        manifest = read_manifest(self.index_dir)
        if manifest is None:
            raise IndexMissing(self.index_dir)
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
            raise IndexCorrupt(self.index_dir, f"collection {name} is missing: {exc}") from exc

    def load_chunks(self, manifest: Manifest) -> list[Chunk]:
        got = self._collection(manifest.chunks_collection).get(include=["documents", "metadatas"])
        chunks = [_chunk_from(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted(chunks, key=lambda c: (c.doc_id, c.ordinal))

    def load_sentences(self, manifest: Manifest) -> tuple[list[Sentence], np.ndarray]:
        got = self._collection(manifest.sentences_collection).get(include=["documents", "metadatas", "embeddings"])
        sentences = [
            Sentence(chunk_id=str(m["chunk_id"]), text=d, start=int(m["start"]), end=int(m["end"]), page=int(m["page"]))
            for d, m in zip(got["documents"], got["metadatas"])
        ]
        vectors = np.asarray(got["embeddings"], dtype=np.float32) if len(sentences) else np.zeros((0, 0), np.float32)
        return sentences, vectors

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
        documents: dict[str, dict[str, object]],
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
        previous = read_manifest(self.index_dir)
        manifest = Manifest(chunk_col.name, sent_col.name, fingerprint, time.time(), documents)
        _write_atomic(self.index_dir / MANIFEST, json.dumps(asdict(manifest), ensure_ascii=False, indent=2))
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
            if name.startswith(self.prefix + "-") and name not in keep:
                try:
                    self.client.delete_collection(name)
                except (ChromaError, ValueError) as exc:
                    log.warning("could not delete old collection %s: %s", name, exc)
