"""Find documents in the corpus folder and read each with the reader for its format."""

from __future__ import annotations

import hashlib
from pathlib import Path

from assistant.errors import BadDocument, UnreadableContent
from assistant.ingest.formats import FORMATS
from assistant.types import RawDocument

SUPPORTED_SUFFIXES = tuple(FORMATS)


def load_file(path: Path, doc_id: str) -> RawDocument:
    """Read one document; every way it can fail is a BadDocument that names the file and the reason."""
    document_format = FORMATS.get(path.suffix.lower())
    if document_format is None:
        raise BadDocument(path, f"only {', '.join(SUPPORTED_SUFFIXES)} files are supported")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadDocument(path, exc.strerror or str(exc)) from exc
    if not data:
        raise BadDocument(path, "the file is empty")
    try:
        text, encoding = document_format.read(data)
    except UnreadableContent as exc:
        raise BadDocument(path, str(exc)) from exc
    if not text.strip():
        raise BadDocument(path, document_format.no_text)
    return RawDocument(
        doc_id=doc_id,
        path=str(path),
        text=text,
        encoding=encoding,
        sha256=file_digest(data),
        loader=document_format.loader,
    )


def file_digest(data: bytes) -> str:
    """Content hash that decides whether a document changed since it was indexed."""
    return hashlib.sha256(data).hexdigest()


def discover(corpus_dir: Path) -> list[Path]:
    """Files in a supported format under the corpus (others are ignored), sorted so ids are stable across runs."""
    if not corpus_dir.is_dir():
        return []
    return sorted(
        p for p in corpus_dir.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
    )


def load_corpus(corpus_dir: Path) -> tuple[list[RawDocument], dict[str, BadDocument]]:
    """Every readable document, plus one error per unreadable file (which never stops the others)."""
    documents: list[RawDocument] = []
    errors: dict[str, BadDocument] = {}
    for path in discover(corpus_dir):
        doc_id = path.relative_to(corpus_dir).as_posix()
        try:
            documents.append(load_file(path, doc_id))
        except BadDocument as exc:
            errors[doc_id] = exc
    return documents, errors
