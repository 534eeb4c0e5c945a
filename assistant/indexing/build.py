"""The indexing job: load → clean → chunk → embed → store, incrementally, with progress.

Each run compares ``corpus/`` with the live manifest. Unchanged documents are
copied into the new generation with their stored vectors; a changed document is
re-chunked, and only chunks and sentences whose text is new get embedded (chunk
ids are content-derived, so untouched paragraphs keep their ids and vectors).
The new generation becomes visible in one atomic manifest switch (see store.py),
so readers never see a half-built index and a killed run leaves the old one serving.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.errors import BadDocument, EmptyCorpus, IndexBusy
from assistant.indexing.embed import VectorEmbeddings
from assistant.indexing.manifest import (
    DocumentRecord,
    Manifest,
    file_hash,
    indexed_hashes,
    report_for,
)
from assistant.indexing.store import ChunkStore
from assistant.ingest.chunk import chunk_document, chunk_sentences
from assistant.ingest.clean import clean_raw
from assistant.ingest.load import discover, load_file
from assistant.settings import Settings
from assistant.types import Chunk, IndexReport, Sentence

log = logging.getLogger(__name__)
StageProgress = Callable[[str, int, int], None]
LOCK_FILE = ".indexing.lock"


@contextmanager
def exclusive(index_dir: Path) -> Iterator[None]:
    """One indexer per index folder, across processes; the OS drops the lock if the indexer is killed."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy(index_dir) from exc
        handle.write(str(os.getpid()))
        handle.flush()
        yield


@dataclass
class Generation:
    """The rows of one index generation, assembled in memory before they are written."""

    chunks: list[Chunk] = field(default_factory=list)
    chunk_vectors: list[np.ndarray] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    sentence_vectors: list[np.ndarray] = field(default_factory=list)

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        return _stack(self.chunk_vectors), _stack(self.sentence_vectors)


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)


def _previous(store: ChunkStore, manifest: Manifest | None) -> tuple[Generation, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The live generation's rows plus its vectors by text (a renamed or moved passage keeps its vector)."""
    if manifest is None:
        return Generation(), {}, {}
    chunks, chunk_vectors = store.load_chunks(manifest, with_vectors=True)
    sentences, sentence_vectors = store.load_sentences(manifest)
    old = Generation(chunks, list(chunk_vectors), sentences, list(sentence_vectors))
    chunk_by_text = {c.text: v for c, v in zip(old.chunks, old.chunk_vectors)}
    sentence_by_text = {s.text: v for s, v in zip(old.sentences, old.sentence_vectors)}
    return old, chunk_by_text, sentence_by_text


def _vectors(
    texts: list[str], known: dict[str, np.ndarray], embedder: VectorEmbeddings, stage: str, report: StageProgress
) -> tuple[list[np.ndarray], int]:
    """A vector per text, embedding only the distinct texts that have no stored vector yet."""
    missing = [text for text in dict.fromkeys(texts) if text not in known]
    if missing:
        vectors = embedder.passages(missing, lambda done, total: report(stage, done, total))
        known.update(zip(missing, vectors))
    return [known[text] for text in texts], len(missing)


def _carry_over(old: Generation, documents: set[str]) -> Generation:
    """The rows of unchanged documents, vectors included: they cost nothing to keep."""
    new = Generation()
    for chunk, vector in zip(old.chunks, old.chunk_vectors):
        if chunk.doc_id in documents:
            new.chunks.append(chunk)
            new.chunk_vectors.append(vector)
    kept_ids = {c.id for c in new.chunks}
    for sentence, vector in zip(old.sentences, old.sentence_vectors):
        if sentence.chunk_id in kept_ids:
            new.sentences.append(sentence)
            new.sentence_vectors.append(vector)
    return new


def _read_changed(
    settings: Settings, paths: dict[str, Path], documents: dict[str, DocumentRecord], report: StageProgress
) -> tuple[list[Chunk], list[Sentence]]:
    """Load, clean and chunk the changed documents; records each one (or its error) in ``documents``."""
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    for i, (doc_id, path) in enumerate(paths.items()):
        report("read", i + 1, len(paths))
        try:
            raw = load_file(path, doc_id)
            size = path.stat().st_size
        except (BadDocument, OSError) as exc:
            # Remembered so an unchanged bad file does not make the index look stale forever.
            documents[doc_id] = DocumentRecord(sha256=file_hash(path), error=str(exc), indexed_at=time.time())
            continue
        cleaned = clean_raw(raw)
        doc_chunks = chunk_document(cleaned, max_chars=settings.chunk.max_chars, overlap_chars=settings.chunk.overlap_chars)
        chunks.extend(doc_chunks)
        for chunk in doc_chunks:
            sentences.extend(chunk_sentences(cleaned, chunk))
        documents[doc_id] = DocumentRecord(
            sha256=raw.sha256,
            encoding=raw.encoding,
            bytes=size,
            characters=len(cleaned.text),
            pages=cleaned.page_starts[-1][1],
            chunks=len(doc_chunks),
            chunk_ids=tuple(c.id for c in doc_chunks),
            indexed_at=time.time(),
        )
    return chunks, sentences


def build_index(
    settings: Settings,
    *,
    embedder: VectorEmbeddings,
    store: ChunkStore,
    progress: StageProgress | None = None,
    rebuild: bool = False,
) -> IndexReport:
    """Bring the index in line with the corpus, re-embedding only new text; switch generations only when complete.

    The caller holds ``exclusive(index_dir)``.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    corpus_dir = Path(settings.paths.corpus_dir)
    fingerprint = settings.index_fingerprint(embedder.identity)
    live = None if rebuild else store.read()
    if live is not None and live.fingerprint != fingerprint:
        live = None  # the caller decided to rebuild; never mix vectors of two models
    on_disk = {path.relative_to(corpus_dir).as_posix(): path for path in discover(corpus_dir)}
    hashes = {doc_id: file_hash(path) for doc_id, path in on_disk.items()}
    before = indexed_hashes(live) if live else {}
    changed = sorted(d for d in on_disk if before.get(d) != hashes[d])
    unchanged = sorted(d for d in on_disk if before.get(d) == hashes[d])
    removed = sorted(set(before) - set(on_disk))
    if live is not None and not changed and not removed:
        store.require_collections(live)  # "up to date" only if Chroma still holds the live generation
        return report_for(live, [], [], [], unchanged, embedded=0, chunks_removed=0, started=started)

    old, chunk_vectors_by_text, sentence_vectors_by_text = _previous(store, live)
    new = _carry_over(old, set(unchanged))
    documents = {d: live.documents[d] for d in unchanged} if live else {}

    fresh_chunks, fresh_sentences = _read_changed(settings, {d: on_disk[d] for d in changed}, documents, report)
    if not new.chunks and not fresh_chunks:
        raise EmptyCorpus(corpus_dir)

    chunk_vectors, embedded_chunks = _vectors(
        [c.text for c in fresh_chunks], chunk_vectors_by_text, embedder, "embed passages", report
    )
    sentence_vectors, embedded_sentences = _vectors(
        [s.text for s in fresh_sentences], sentence_vectors_by_text, embedder, "embed sentences", report
    )
    new.chunks += fresh_chunks
    new.chunk_vectors += chunk_vectors
    new.sentences += fresh_sentences
    new.sentence_vectors += sentence_vectors

    report("store", 0, 1)
    chunk_matrix, sentence_matrix = new.matrices()
    manifest = store.write(fingerprint, documents, new.chunks, chunk_matrix, new.sentences, sentence_matrix)
    report("store", 1, 1)
    added = [d for d in changed if d not in before]
    updated = [d for d in changed if d in before]
    old_ids = {c.id for c in old.chunks}
    return report_for(
        manifest,
        added,
        updated,
        removed,
        unchanged,
        embedded=embedded_chunks + embedded_sentences,
        chunks_removed=len(old_ids - {c.id for c in new.chunks}),
        started=started,
        chunks_added=len({c.id for c in fresh_chunks} - old_ids),
    )
