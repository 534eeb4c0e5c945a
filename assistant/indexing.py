"""The indexing job: load → clean → chunk → embed → store, with progress and a staleness check."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from .chunk import chunk_document, chunk_sentences
from .clean import clean
from .embed import VectorEmbeddings
from .errors import EmptyCorpus
from .load import discover, file_digest, load_corpus
from .settings import Settings
from .store import ChunkStore, Manifest
from .types import IndexReport

log = logging.getLogger(__name__)
StageProgress = Callable[[str, int, int], None]


def file_hashes(corpus_dir: Path) -> dict[str, str]:
    return {path.relative_to(corpus_dir).as_posix(): file_hash(path) for path in discover(corpus_dir)}


def file_hash(path: Path) -> str:
    try:
        return file_digest(path.read_bytes())
    except OSError:
        return ""


def stale_reason(settings: Settings, manifest: Manifest | None, fingerprint: dict[str, str]) -> str | None:
    """Why the index needs building, or None when it matches the corpus and settings."""
    if manifest is None:
        return "no index yet"
    if manifest.fingerprint != fingerprint:
        return "settings changed"
    on_disk = file_hashes(settings.paths.corpus_dir)
    indexed = {doc_id: str(info.get("sha256")) for doc_id, info in manifest.documents.items()}
    if on_disk != indexed:
        return "documents changed"
    return None


def build_index(
    settings: Settings, *, embedder: VectorEmbeddings, store: ChunkStore, progress: StageProgress | None = None
) -> IndexReport:
    """Index the whole corpus into a new generation and switch to it only when complete."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    raw_documents, errors = load_corpus(settings.paths.corpus_dir)
    if not raw_documents:
        raise EmptyCorpus(settings.paths.corpus_dir)
    chunks, sentences, documents = [], [], {}
    for i, raw in enumerate(raw_documents):
        cleaned = clean(raw.text, raw.doc_id)
        doc_chunks = chunk_document(cleaned, max_chars=settings.chunk.max_chars, overlap_chars=settings.chunk.overlap_chars)
        chunks.extend(doc_chunks)
        for chunk in doc_chunks:
            sentences.extend(chunk_sentences(cleaned, chunk))
        documents[raw.doc_id] = {
            "sha256": raw.sha256,
            "encoding": raw.encoding,
            "chunks": len(doc_chunks),
            "characters": len(cleaned.text),
            "pages": cleaned.page_starts[-1][1],
        }
        report("read", i + 1, len(raw_documents))
    for doc_id, error in errors.items():
        # Remembered so an unchanged bad file does not make the index look stale forever.
        documents[doc_id] = {"sha256": file_hash(settings.paths.corpus_dir / doc_id), "error": str(error)}
    chunk_vectors = embedder.passages([c.text for c in chunks], lambda d, t: report("embed passages", d, t))
    # Overlapping chunks share sentences: embed each distinct text once.
    distinct = list(dict.fromkeys(s.text for s in sentences))
    distinct_vectors = embedder.passages(distinct, lambda d, t: report("embed sentences", d, t))
    row = {text: i for i, text in enumerate(distinct)}
    sentence_vectors = distinct_vectors[[row[s.text] for s in sentences]] if sentences else distinct_vectors
    report("store", 0, 1)
    store.write(
        settings.index_fingerprint(embedder.identity), documents, chunks, chunk_vectors, sentences, sentence_vectors
    )
    report("store", 1, 1)
    seconds = time.perf_counter() - started
    log.info("indexed %d documents, %d chunks in %.1fs", len(documents), len(chunks), seconds)
    return IndexReport(
        documents=len(documents),
        chunks=len(chunks),
        sentences=len(sentences),
        seconds=seconds,
        errors=tuple(str(e) for e in errors.values()),
    )
