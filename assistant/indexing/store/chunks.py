"""Chroma adapter: the system of record for chunks, their sentences and their vectors.

Rows are immutable and keyed by content (rows.py) in two long-lived collections; a
generation is the manifest's set of live rows per document, and a re-index adds only
the rows of new text before it switches the manifest (replaced atomically). Readers
see only the live rows of the manifest they hold, so they see the old index or the new
one, and a build that fails or is killed leaves the previous index serving. Rows that no
generation references are compacted away, never deleted in place, and collections no reader holds are
dropped and their files given back to the disk (garbage.py, holds.py, reclaim.py).
``--rebuild`` writes fresh collections.

Local mode keeps the manifest in ``index/manifest.json`` next to a Chroma
``PersistentClient``. Server mode (``store.chroma_url``) keeps it as one row of a
``<prefix>-manifest`` collection on the Chroma server, so every assistant process
that talks to that server sees the same live generation.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.api.client import SharedSystemClient
from chromadb.errors import ChromaError

from assistant.errors import (
    BackendUnavailable,
    IndexBusy,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    StorageUnavailable,
)
from assistant.indexing.store.board import EngineBoard
from assistant.indexing.store.diskfull import disk_failure
from assistant.indexing.store.garbage import RETIRED_AT, Garbage
from assistant.indexing.store.lease import EngineLease
from assistant.indexing.store.reclaim import disk_bytes
from assistant.indexing.store.manifest import (
    MANIFEST,
    Manifest,
    read_manifest,
    write_atomic,
)
from assistant.indexing.store.reader import GenerationReader
from assistant.indexing.store.vectorfile import VECTORS, VectorFiles
from assistant.indexing.store.writer import GenerationWriter

log = logging.getLogger(__name__)
POINTER_ID = "live"
RETIRE_S = 600.0  # longer than any answer (a local model may generate for minutes after retrieval)
_VIEWS = itertools.cycle(range(1, 500))  # process-wide, so no two stores share a refreshed instance; bounds the path


@dataclass
class RowCounts:
    """Rows one write touched in Chroma: what an edit costs, for the scale benchmark and the logs."""

    written: int = 0
    read: int = 0
    collected: int = 0


class ChunkStore(GenerationReader, GenerationWriter):
    """Opens the index under ``index_dir``; cheap to construct, Chroma is touched on first use."""

    def __init__(
        self, index_dir: Path, collection_prefix: str = "documents", chroma_url: str | None = None, *, retire_grace_s: float = 600.0
    ) -> None:
        self.index_dir = Path(index_dir)
        self.prefix = collection_prefix
        self.url = chroma_url
        self.retire_grace_s = retire_grace_s  # server mode: see Garbage.drop
        self._client: chromadb.ClientAPI | None = None
        self.counts = RowCounts()
        self.garbage = Garbage(self)
        self.vector_files = VectorFiles(self.index_dir / VECTORS)  # local mode's sentence vectors (vectorfile.py)
        self.published: set[str] = set()  # manifest versions this store switched to: its own client saw them written
        self._view = 0
        self._opening = threading.RLock()
        self._retired: list[tuple[float, chromadb.ClientAPI]] = []
        self.lease: EngineLease | None = None  # server mode, while this store's indexer holds the engine's lease

    @property
    def where(self) -> str:
        return self.url or str(self.index_dir)

    @property
    def client(self) -> chromadb.ClientAPI:
        with self._opening:  # one client per view: a second one racing for the same path can stop the first's instance
            if self._client is None:
                self.index_dir.mkdir(parents=True, exist_ok=True)
                try:
                    self._client = self._connect()
                except (ChromaError, OSError, ValueError) as exc:
                    if self.url:
                        raise BackendUnavailable(
                            f"Cannot reach the Chroma server at {self.url} ({exc}). Start it (`chroma run --path … "
                            "--port …`) or unset ASSISTANT_STORE__CHROMA_URL to use the local index."
                        ) from exc
                    self._require_writable()  # a read-only folder is not damage: --rebuild would not help
                    if failure := disk_failure(exc, self.index_dir):  # nor is a full disk
                        raise failure from exc
                    raise IndexCorrupt(self.index_dir, str(exc)) from exc
            return self._client

    def _require_writable(self) -> None:
        """Raise StorageUnavailable when no file can be created in the index folder or its Chroma folder."""
        for folder in (self.index_dir, self.index_dir / "chroma"):
            try:
                folder.is_dir() and tempfile.TemporaryFile(dir=folder).close()
            except OSError as exc:
                raise StorageUnavailable(folder, exc.strerror or exc) from exc

    def disk_bytes(self) -> int | None:
        """Bytes the local index folder takes on disk; None in server mode, where the server owns the files."""
        return None if self.url else disk_bytes(self.index_dir)

    def connect(self) -> chromadb.ClientAPI:
        """Open the store now, so an unreadable one is reported before any indexing work starts."""
        return self.client

    def _connect(self) -> chromadb.ClientAPI:
        if not self.url:
            return chromadb.PersistentClient(path=str(self.index_dir / "chroma") + "/." * self._view)
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("store.chroma_url must look like http://127.0.0.1:8000")
        client = chromadb.HttpClient(
            host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https" else 8000), ssl=parsed.scheme == "https"
        )
        client.heartbeat()
        return client

    def refresh(self, user: object | None = None) -> None:
        """A Chroma instance of our own for the next reads: a client misses vectors that another process added after
        it loaded a collection's HNSW index. Chroma shares an instance per path string, so this opens the folder under
        a new spelling (``chroma/./.``…). The earlier instance, with its own copy of every loaded HNSW index, stays
        open for readers still on it: until ``user`` (the retriever that read through it) is collected, at most
        ``RETIRE_S``."""
        if self.url:
            return
        with self._opening:
            now = time.monotonic()
            if self._client is not None:
                self._retired.append((now, self._client))
                if user is not None:
                    weakref.finalize(user, self._close_retired, self._client)
            while self._retired and self._retired[0][0] < now - RETIRE_S:
                self._retired.pop(0)[1].close()
            self._view = next(_VIEWS)
            self._client = None

    def _close_retired(self, client: chromadb.ClientAPI) -> None:
        with self._opening:
            for i, (_, retired) in enumerate(self._retired):
                if retired is client:
                    self._retired.pop(i)[1].close()
                    return

    def close(self) -> None:
        """Stop this store's Chroma instances, giving back the memory of their loaded HNSW indexes (a second
        instance for the same folder holds its own copy); the next use opens a fresh one."""
        with self._opening:
            for _, client in self._retired:
                client.close()
            self._retired.clear()
            if self._client is not None:
                self._client.close()
                self._client = None
                self._view = next(_VIEWS)

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
        got = self.pointer().get(ids=[POINTER_ID], include=["documents"])
        if not got["ids"]:
            return None
        return Manifest.parse(got["documents"][0], self.url, "the manifest row")

    def live_version(self) -> str:
        """A cheap token that changes whenever another build switches the live generation."""
        if not self.url:
            path = self.index_dir / MANIFEST
            return str(path.stat().st_mtime_ns) if path.exists() else ""
        got = self.pointer().get(ids=[POINTER_ID], include=["metadatas"])
        return str(got["metadatas"][0]["version"]) if got["ids"] else ""

    def board(self, topic: str) -> EngineBoard | None:
        """Server mode: the library's notice board on ``topic`` (board.py), which every app server reads. A local
        index is served by one process, which keeps such state in memory."""
        return EngineBoard(lambda: self.client, self.prefix, topic) if self.url else None

    def pointer(self):
        return self.client.get_or_create_collection(f"{self.prefix}-manifest", embedding_function=None)

    @contextmanager
    def leased(self, ttl_s: float) -> Iterator[None]:
        """In server mode, the engine's lease for the block (lease.py): one indexer per library across machines. A
        local index needs only the folder's lock (``build.exclusive``)."""
        if not self.url:
            yield
            return
        lease = EngineLease(self.client, self.prefix, ttl_s=ttl_s)
        with lease.held():
            self.lease = lease
            try:
                yield
            finally:
                self.lease = None

    def _publish(self, manifest: Manifest) -> None:
        text = manifest.to_json()
        if not self.url:
            write_atomic(self.index_dir / MANIFEST, text)
            return
        if self.lease is not None and not self.lease.still_held():  # stalled past its expiry: another indexer took over
            raise IndexBusy(f"the Chroma server's library {self.prefix!r} (the lease expired and was taken over)")
        previous = self.read()
        # One row, replaced in one request: the server applies it atomically.
        self.pointer().upsert(
            ids=[POINTER_ID], documents=[text], metadatas=[{"version": manifest.version}], embeddings=[[0.0]]
        )
        if previous is not None:
            self._mark_retired({previous.chunks_collection, previous.sentences_collection} - {manifest.chunks_collection, manifest.sentences_collection})

    def _mark_retired(self, names: set[str]) -> None:
        """Stamp the collections a switch retired with its time: readers on other machines may still answer from
        them, so garbage collection keeps them for ``retire_grace_s`` (server mode; a local reader holds a lock)."""
        for name in names:
            collection = self.client.get_collection(name)
            collection.modify(metadata={**(collection.metadata or {}), RETIRED_AT: time.time()})

    def manifest(self) -> Manifest:
        manifest = self.read()
        if manifest is None:
            raise IndexMissing(self.where)
        return manifest

    def check(self, fingerprint: dict[str, str]) -> Manifest:
        """The live manifest, or a clear error if it was built with other settings."""
        manifest = self.manifest()
        if not manifest.placed:
            raise IndexMismatch({"row layout": ("one copy per generation", "immutable rows (rows.py)")})
        differences = {
            key: (manifest.fingerprint.get(key, "?"), value)
            for key, value in fingerprint.items()
            if manifest.fingerprint.get(key) != value
        }
        if differences:
            raise IndexMismatch(differences)
        return manifest

    def collection(self, name: str):
        try:
            return self.client.get_collection(name, embedding_function=None)
        except (ChromaError, ValueError) as exc:
            raise IndexCorrupt(self.where, f"collection {name} is missing: {exc}") from exc

    def require_collections(self, manifest: Manifest) -> None:
        """Raise IndexCorrupt unless both live collections exist (two cheap lookups, no rows read)."""
        self.collection(manifest.chunks_collection)
        self.collection(manifest.sentences_collection)
