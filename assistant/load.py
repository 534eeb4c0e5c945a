"""Find documents in the corpus folder and decode them to text."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

from charset_normalizer import from_bytes

from .errors import BadDocument
from .types import RawDocument

SUPPORTED_SUFFIXES = (".txt", ".md")


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes, preferring exact codecs over guessing: BOMs, UTF-8, then GB18030 (a superset of GBK)."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name), name
    for name in ("utf-8", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    best = from_bytes(data).best()
    if best is None:
        raise UnicodeDecodeError("unknown", data[:1], 0, 1, "no text encoding fits")
    return str(best), best.encoding


def load_file(path: Path, doc_id: str) -> RawDocument:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadDocument(path, exc.strerror or str(exc)) from exc
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadDocument(path, "it looks like a binary file, not text")
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as exc:
        raise BadDocument(path, "its text encoding is not recognised (save it as UTF-8)") from exc
    if not text.strip():
        raise BadDocument(path, "the file is empty")
    return RawDocument(doc_id=doc_id, path=str(path), text=text, encoding=encoding, sha256=file_digest(data))


def file_digest(data: bytes) -> str:
    """Content hash that decides whether a document changed since it was indexed."""
    return hashlib.sha256(data).hexdigest()


def discover(corpus_dir: Path) -> list[Path]:
    """Supported files under the corpus, sorted so ids and ordinals are stable across runs."""
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
