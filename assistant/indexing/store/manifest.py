"""The manifest: what the live index holds, and whether the corpus still matches it.

Kept free of heavy imports (no Chroma, no models) so that a no-change ``assistant index``
answers from the manifest and the files' hashes alone.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import IndexCorrupt
from assistant.indexing.store.holds import generation_of, unheld
from assistant.indexing.store.reclaim import disk_bytes
from assistant.ingest.load import discover, file_digest
from assistant.settings import Settings
from assistant.types import IndexReport

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class DocumentRecord(BaseModel):
    """What the index knows of one document: its hash, and its chunks or the error that kept it out."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    indexed_at: float
    error: str | None = None
    duplicate_of: str | None = None  # byte-identical to this indexed document: indexed once, under that name
    encoding: str | None = None
    bytes: int = 0
    characters: int = 0
    pages: int = 0
    chunks: int = 0
    sentences: int = 0
    chunk_ids: tuple[str, ...] = ()
    # Where each chunk sits in this version of the document; the rows themselves are placement-free (rows.py).
    chunk_rows: tuple[str, ...] = ()  # the Chroma row of each chunk: its content id plus a hash of what the row holds
    chunk_starts: tuple[int, ...] = ()
    chunk_pages: tuple[int, ...] = ()

    @property
    def indexed(self) -> bool:
        return self.error is None and self.duplicate_of is None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``manifest.json`` and ``GET /api/documents``: fields that do not apply are left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Manifest(BaseModel):
    """What the live index holds; the staleness check and the Documents tab read it."""

    chunks_collection: str
    sentences_collection: str
    fingerprint: dict[str, str]
    built_at: float
    documents: dict[str, DocumentRecord] = Field(default_factory=dict)
    version: str = Field(default_factory=lambda: uuid.uuid4().hex)
    sentences: int = 0

    def rows(self) -> set[str]:
        """The live set: every Chroma row this generation references."""
        return {row for record in self.documents.values() for row in record.chunk_rows}

    @property
    def placed(self) -> bool:
        """False for a manifest of the copy-per-generation layout, whose records name no rows."""
        return all(len(record.chunk_rows) == record.chunks for record in self.documents.values() if record.indexed)

    @classmethod
    def parse(cls, text: str, where: object, what: str) -> Manifest:
        """The manifest in ``text``; any damage (truncated, not JSON, wrong shape or types) is one ``IndexCorrupt``."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problem = exc.errors()[0]
            location = ".".join(str(part) for part in problem.get("loc", ())) or "the top level"
            raise IndexCorrupt(where, f"{what} is unreadable: {problem.get('msg', 'invalid')} at {location}") from exc

    def to_json(self) -> str:
        return json.dumps(
            {**self.model_dump(mode="json", exclude={"documents"}), "documents": {d: r.to_dict() for d, r in self.documents.items()}},
            ensure_ascii=False,
            indent=2,
        )


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, so a reader sees the old file or the new one; a failed write leaves no temp file."""
    write_atomic_with(path, lambda handle: handle.write(text.encode("utf-8")))


def write_atomic_with(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """``write_atomic`` for any content: ``write`` fills the temp file (e.g. ``numpy.savez``)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(index_dir: Path) -> Manifest | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(index_dir, f"{MANIFEST} is unreadable: {exc}") from exc
    return Manifest.parse(text, index_dir, MANIFEST)


def file_hashes(corpus_dir: Path) -> dict[str, str]:
    return {path.relative_to(corpus_dir).as_posix(): file_hash(path) for path in discover(corpus_dir)}


def file_hash(path: Path) -> str:
    try:
        return file_digest(path.read_bytes())
    except OSError:
        return ""


SETTINGS_CHANGED = "settings changed"


def stale_reason(settings: Settings, manifest: Manifest | None, fingerprint: dict[str, str]) -> str | None:
    """Why the index needs building, or None when it matches the corpus and settings."""
    if manifest is None:
        return "no index yet"
    if manifest.fingerprint != fingerprint:
        return SETTINGS_CHANGED
    if file_hashes(settings.paths.corpus_dir) != indexed_hashes(manifest):
        return "documents changed"
    return None


def indexed_hashes(manifest: Manifest) -> dict[str, str]:
    return {doc_id: record.sha256 for doc_id, record in manifest.documents.items()}


def report_for(
    manifest: Manifest,
    added: list[str],
    updated: list[str],
    removed: list[str],
    unchanged: list[str],
    *,
    embedded: int,
    chunks_removed: int,
    started: float,
    chunks_added: int = 0,
    index_bytes: int | None = None,
) -> IndexReport:
    total_chunks = sum(record.chunks for record in manifest.documents.values())
    seconds = time.perf_counter() - started
    log.info("index: %d added, %d updated, %d removed, %d embedded in %.1fs", len(added), len(updated), len(removed), embedded, seconds)
    return IndexReport(
        documents=len(manifest.documents),
        chunks=total_chunks,
        seconds=seconds,
        added=tuple(added),
        updated=tuple(updated),
        removed=tuple(removed),
        unchanged=tuple(unchanged),
        chunks_added=chunks_added,
        chunks_removed=chunks_removed,
        chunks_unchanged=total_chunks - chunks_added,
        embedded=embedded,
        sentences=manifest.sentences,
        index_bytes=index_bytes,
        errors=tuple(f"{doc_id}: {record.error}" for doc_id, record in sorted(manifest.documents.items()) if record.error),
        duplicates=tuple(
            f"{doc_id} = {record.duplicate_of}" for doc_id, record in sorted(manifest.documents.items()) if record.duplicate_of
        ),
    )


def stored_collections(index_dir: Path) -> set[str] | None:
    """The collections Chroma's own database lists: one read-only SQLite query, no Chroma; None if unreadable.

    Only for a process that has not opened Chroma (reclaim.py says why).
    """
    database = index_dir / "chroma" / "chroma.sqlite3"
    if not database.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True)) as connection:
            return {row[0] for row in connection.execute("SELECT name FROM collections")}
    except sqlite3.Error:
        return None


def droppable(index_dir: Path, names: set[str], prefix: str, manifest: Manifest) -> bool:
    """Whether a generation other than the live one is stored that no reader holds: the collector has work."""
    live = {manifest.chunks_collection, manifest.sentences_collection, f"{prefix}-manifest"}
    for name in names - live:
        if name.startswith(prefix + "-"):
            try:
                with unheld(index_dir, generation_of(name)) as free:
                    if free:
                        return True
            except OSError:
                continue  # a read-only folder: no collector could drop it either
    return False


def up_to_date(settings: Settings, fingerprint: dict[str, str]) -> IndexReport | None:
    """The no-change summary when the local index matches the corpus and settings, else None: no Chroma client needed.

    A deleted, damaged or emptied ``chroma/`` folder (or a dropped collection) must not be reported "up to date",
    and neither is an index with a retired generation to drop (the full path collects it).
    """
    started = time.perf_counter()
    index_dir = Path(settings.paths.index_dir)
    manifest = read_manifest(index_dir)
    if settings.store.chroma_url or stale_reason(settings, manifest, fingerprint) is not None:
        return None
    assert manifest is not None  # not stale implies a manifest
    names = stored_collections(index_dir)
    if names is None or not {manifest.chunks_collection, manifest.sentences_collection} <= names:
        return None  # the full path opens Chroma and says what is wrong
    if droppable(index_dir, names, settings.store.collection, manifest):
        return None
    unchanged = sorted(manifest.documents)
    return report_for(manifest, [], [], [], unchanged, embedded=0, chunks_removed=0, started=started,
                      index_bytes=disk_bytes(index_dir))
