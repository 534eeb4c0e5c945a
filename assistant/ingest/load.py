"""Find documents in the corpus folder and read each with the reader for its format."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

from assistant.errors import BadDocument, UnreadableContent
from assistant.ingest.formats import FORMATS
from assistant.types import RawDocument

SUPPORTED_SUFFIXES = tuple(FORMATS)
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # controls, bidi overrides, undecodable bytes, unassigned


def has_unsafe_characters(name: str) -> bool:
    """Whether a name holds control or invisible characters: a right-to-left override shows "txt.exe" as "exe.txt"."""
    return any(unicodedata.category(char) in UNSAFE_CATEGORIES for char in name)


def shown_name(name: str) -> str:
    """The name with its control and invisible characters written as escapes (U+202E as \\u202e), safe to display."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in name)


def load_file(path: Path, doc_id: str) -> RawDocument:
    """Read one document; every way it can fail is a BadDocument that names the file (by its id in the corpus,
    never the server's absolute path) and the reason."""
    name = shown_name(doc_id)
    if has_unsafe_characters(doc_id):
        raise BadDocument(name, "its name contains control or invisible characters (a right-to-left override can disguise a name); rename the file")
    document_format = FORMATS.get(path.suffix.lower())
    if document_format is None:
        raise BadDocument(name, f"only {', '.join(SUPPORTED_SUFFIXES)} files are supported")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadDocument(name, exc.strerror or type(exc).__name__) from exc
    if not data:
        raise BadDocument(name, "the file is empty")
    try:
        text, encoding = document_format.read(data)
    except UnreadableContent as exc:
        raise BadDocument(name, str(exc)) from exc
    if not text.strip():
        raise BadDocument(name, document_format.no_text)
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
