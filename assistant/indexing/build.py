"""The indexing job: load → clean → chunk → embed → store, incrementally, with progress.

Each run compares ``corpus/`` with the live manifest. Unchanged documents keep
their records and rows untouched (nothing of them is read); a changed document is
re-chunked, only the vectors of the changed and removed documents are read back, and
only chunks and sentences whose text is new get embedded. The store adds the rows no
live row holds and makes the new generation visible in one atomic manifest switch (see
store.py), so readers never see a half-built index and a killed run leaves the old one serving.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.errors import BadDocument, EmptyCorpus, IndexBusy
from assistant.indexing.embed import VectorEmbeddings
from assistant.indexing.lexical import cached_lexical_index, tokenize
from assistant.indexing.store.manifest import (
    DocumentRecord,
    Manifest,
    file_hash,
    indexed_hashes,
    report_for,
)
from assistant.indexing.store.rows import place
from assistant.indexing.store.chunks import ChunkStore, RowCounts
from assistant.indexing.versions import VersionStore
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


def _vectors(
    rows: list, needed: list[int], texts: list[str], known: dict[str, np.ndarray], embedder: VectorEmbeddings,
    stage: str, report: StageProgress,
) -> tuple[np.ndarray, int]:
    """A vector for each row in ``needed`` (the others stay zero: their rows exist), embedding only text without one."""
    wanted = [texts[i] for i in needed]
    missing = [text for text in dict.fromkeys(wanted) if text not in known]
    if missing:
        vectors = embedder.passages(missing, lambda done, total: report(stage, done, total))
        known.update(zip(missing, vectors))
    matrix = np.zeros((len(rows), len(next(iter(known.values()))) if known else 0), np.float32)
    for i in needed:
        matrix[i] = known[texts[i]]
    return matrix, len(missing)


def _read_changed(
    settings: Settings, paths: dict[str, Path], documents: dict[str, DocumentRecord], report: StageProgress
) -> tuple[list[Chunk], list[Sentence]]:
    """Load, clean and chunk the changed documents; records each one (or its error) in ``documents``."""
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    by_hash = {record.sha256: doc_id for doc_id, record in documents.items() if record.indexed}
    versions = VersionStore(Path(settings.paths.index_dir), settings.index.versions_kept)
    versions.sweep()  # what a killed run left: the histories themselves are always complete
    for i, (doc_id, path) in enumerate(paths.items()):
        report("read", i + 1, len(paths))
        try:
            raw = load_file(path, doc_id)
            size = path.stat().st_size
        except (BadDocument, OSError) as exc:
            # Remembered so an unchanged bad file does not make the index look stale forever.
            documents[doc_id] = DocumentRecord(sha256=file_hash(path), error=str(exc), indexed_at=time.time())
            continue
        if raw.sha256 in by_hash:  # a copy (corpus/ and corpus/sub/): its passages would take two evidence slots
            documents[doc_id] = DocumentRecord(sha256=raw.sha256, indexed_at=time.time(), duplicate_of=by_hash[raw.sha256])
            continue
        by_hash[raw.sha256] = doc_id
        cleaned = clean_raw(raw)
        versions.record(doc_id, raw.sha256, cleaned.text)  # before the switch: content-addressed, so a rerun adds nothing
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


def _orphaned(live: Manifest | None, doc_id: str, hashes: dict[str, str]) -> bool:
    """Whether a document indexed as a copy of another no longer has that original, unchanged, beside it."""
    record = live.documents.get(doc_id) if live else None
    return bool(record and record.duplicate_of and hashes.get(record.duplicate_of) != record.sha256)


def _preference(doc_id: str) -> tuple[int, str]:
    return doc_id.count("/"), doc_id


def prepare_lexical(index_dir: Path, manifest: Manifest, texts: dict[str, str], known: Mapping[str, Sequence[str]]) -> None:
    """Build the new generation's BM25 cache now, from cached tokens plus the new rows' (``known``, else from
    ``texts``), so a reader's first open after the switch is a memory-mapped load (a row with neither is left for
    the reader to build)."""
    names = sorted(manifest.documents)
    ids = [cid for doc_id in names for cid in manifest.documents[doc_id].chunk_ids]
    rows = [row for doc_id in names for row in manifest.documents[doc_id].chunk_rows]
    cached_lexical_index(index_dir, manifest.version, ids, rows, texts, known)


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
    if live is not None and (live.fingerprint != fingerprint or not live.placed):
        live = None  # the caller decided to rebuild; never mix vectors of two models or two row layouts
    on_disk = {path.relative_to(corpus_dir).as_posix(): path for path in discover(corpus_dir)}
    hashes = {doc_id: file_hash(path) for doc_id, path in on_disk.items()}
    before = indexed_hashes(live) if live else {}
    # A copy whose original changed or left is read again (it may be the one to index now); shallower paths first,
    # so of two new copies the one at the top of the corpus is indexed and the other names it.
    changed = sorted((d for d in on_disk if before.get(d) != hashes[d] or _orphaned(live, d, hashes)), key=_preference)
    unchanged = sorted(on_disk.keys() - set(changed))
    removed = sorted(set(before) - set(on_disk))
    if live is not None and not changed and not removed:
        store.require_collections(live)  # "up to date" only if Chroma still holds the live generation
        live = store.garbage.settle(live, switched=False)  # generations readers held at the last switch may be free
        return report_for(live, [], [], [], unchanged, embedded=0, chunks_removed=0, started=started,
                          index_bytes=store.disk_bytes())

    store.counts = RowCounts()
    documents = {d: live.documents[d] for d in unchanged} if live else {}
    fresh_chunks, fresh_sentences = _read_changed(settings, {d: on_disk[d] for d in changed}, documents, report)
    if not any(record.chunks for record in documents.values()) and not fresh_chunks:
        raise EmptyCorpus(corpus_dir)
    # Only rows the live generation lacks need vectors; those of rows that die can be reused (moved text).
    live_rows = live.rows() if live else set()
    placed = place(fresh_chunks, fresh_sentences)
    new = [i for i, (row, _) in enumerate(placed) if row not in live_rows]
    new_sentences = [j for i in new for j in placed[i][1]]
    dying = live_rows - {row for record in documents.values() for row in record.chunk_rows} - {row for row, _ in placed}
    chunk_known, sentence_known = store.stored_vectors(live, dying) if live else ({}, {})
    chunk_vectors, embedded_chunks = _vectors(
        fresh_chunks, new, [c.text for c in fresh_chunks], chunk_known, embedder, "embed passages", report
    )
    sentence_vectors, embedded_sentences = _vectors(
        fresh_sentences, new_sentences, [s.text for s in fresh_sentences], sentence_known, embedder, "embed sentences", report
    )
    # The new rows' BM25 tokens go into Chroma with them: an app server opening the library reads, not tokenises, them.
    tokens = {placed[i][0]: tokenize(fresh_chunks[i].text) for i in new}
    report("store", 0, 1)
    manifest = store.write(
        fingerprint, documents, fresh_chunks, chunk_vectors, fresh_sentences, sentence_vectors, live=live, tokens=tokens
    )
    report("store", 1, 1)
    prepare_lexical(Path(settings.paths.index_dir), manifest, {row: c.text for c, (row, _) in zip(fresh_chunks, placed)}, tokens)
    added = [d for d in changed if d not in before]
    updated = [d for d in changed if d in before]
    old_ids = {cid for record in live.documents.values() for cid in record.chunk_ids} if live else set()
    new_ids = {cid for record in manifest.documents.values() for cid in record.chunk_ids}
    return report_for(
        manifest,
        added,
        updated,
        removed,
        unchanged,
        embedded=embedded_chunks + embedded_sentences,
        chunks_removed=len(old_ids - new_ids),
        started=started,
        chunks_added=len({c.id for c in fresh_chunks} - old_ids),
        index_bytes=store.disk_bytes(),
    )
