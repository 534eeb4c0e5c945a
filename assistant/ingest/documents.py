"""Uploads into the corpus folder and removals from it, for owners working through the UI or the API.

An upload is parsed by the real loader from a hidden temporary file in the corpus folder
(the indexer skips hidden files) before one ``os.replace`` puts it in place, so a file the
indexer could not read never enters the corpus and no reader ever sees half a file.
Neither operation re-indexes: the owner does that when the corpus is ready.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from io import BytesIO
from pathlib import Path

from assistant.errors import (
    BadDocument,
    BadUpload,
    StorageUnavailable,
    UnknownDocument,
    UploadTooLarge,
)
from assistant.ingest.load import SUPPORTED_SUFFIXES, discover, has_unsafe_characters, load_file
from assistant.settings import Settings

MB = 1024 * 1024
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 255  # the usual file-system limit, reached before 120 characters by 3- and 4-byte UTF-8
SEPARATORS_RE = re.compile(r"[\\/]")  # an uploaded name may carry a Windows or a POSIX path
WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$", *(f"{port}{n}" for port in ("com", "lpt") for n in range(10))}
)
MAGIC = {".pdf": (b"%PDF-", "PDF"), ".docx": (b"PK\x03\x04", "DOCX")}
MAX_EXPANSION = 10  # a DOCX may unpack to this many times the upload limit; more is a zip bomb, not a report
TEMP_PREFIX = ".upload-"

_corpus_lock = threading.Lock()  # limit checks and the move must not interleave between two uploads of one process


def safe_name(filename: str) -> str:
    """The bare, NFC-normalised file name to store an upload under; BadUpload says why a name cannot be used."""
    name = SEPARATORS_RE.split(unicodedata.normalize("NFC", filename))[-1].strip(" ")
    if not name:
        raise BadUpload(f"The upload {filename!r} has no file name; name the file, e.g. report.pdf.")
    if has_unsafe_characters(name):  # repr() escapes them in the message
        raise BadUpload(
            f"The file name {name!r} contains control or invisible characters, or bytes that are not UTF-8 text; "
            "rename the file."
        )
    if len(name) > MAX_NAME_CHARS or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadUpload(
            f"The file name is too long ({len(name)} characters, {len(name.encode('utf-8'))} bytes); "
            f"rename the file to at most {MAX_NAME_CHARS} characters."
        )
    if name.startswith("."):
        raise BadUpload(f"The file name {name!r} starts with a dot, so it would be hidden and never indexed; rename it.")
    if WINDOWS_FORBIDDEN & set(name):
        raise BadUpload(f"The file name {name!r} contains one of {''.join(sorted(WINDOWS_FORBIDDEN))}; rename the file.")
    if name.split(".")[0].rstrip(" ").lower() in WINDOWS_DEVICES:
        raise BadUpload(f"The file name {name!r} is reserved for a device on Windows; rename the file.")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(SUPPORTED_SUFFIXES)
        raise BadUpload(f"{name!r} is not a supported document; upload a {kinds} file.", zh=f"不支持 {name!r} 这种文件；请上传 {kinds} 文件。")
    return name


def check_size(name: str, size: int, max_mb: float) -> None:
    """Callers that receive a file in parts call this before reading it whole."""
    if not size:
        raise BadUpload(f"{name} is empty (0 bytes); upload the file again.", zh=f"{name} 是空文件（0 字节）；请重新上传。")
    if size > max_mb * MB:
        raise UploadTooLarge(
            f"{name} is {size:,} bytes, over the limit of {max_mb:g} MB per document "
            "(ASSISTANT_LIMITS__MAX_UPLOAD_MB); split the document or raise the limit."
        )


def check_content(name: str, data: bytes, max_mb: float) -> None:
    """Cheap checks before parsing: empty or oversized files, and bytes that plainly are not the claimed format."""
    check_size(name, len(data), max_mb)
    magic, kind = MAGIC.get(Path(name).suffix.lower(), (b"", ""))
    if not data.startswith(magic):
        raise BadUpload(f"{name} is not a {kind} file (its first bytes are not {magic!r}); upload the original {kind}.")
    if kind == "DOCX" and unpacked_size(name, data) > MAX_EXPANSION * max_mb * MB:
        raise UploadTooLarge(f"{name} unpacks to more than {MAX_EXPANSION * max_mb:g} MB; upload a smaller DOCX.")


def unpacked_size(name: str, data: bytes) -> int:
    """What a zip declares its members unpack to; Python's zipfile never inflates a member beyond that."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadUpload(f"{name} is not a valid DOCX file or it is damaged ({exc}); upload the original.") from exc


def check_limits(settings: Settings, name: str, size: int) -> None:
    """The corpus as it would be after storing ``size`` bytes under ``name`` must stay within ``settings.limits``."""
    limits, corpus_dir = settings.limits, settings.paths.corpus_dir
    others = [path for path in discover(corpus_dir) if path != corpus_dir / name]
    if len(others) >= limits.max_documents:
        raise UploadTooLarge(
            f"The corpus holds {len(others)} documents and the limit is {limits.max_documents} "
            "(ASSISTANT_LIMITS__MAX_DOCUMENTS); remove one before adding another."
        )
    total = size + sum(path.stat().st_size for path in others)
    if total > limits.max_corpus_mb * MB:
        raise UploadTooLarge(
            f"Adding {name} would make the corpus {total / MB:.1f} MB; the limit is {limits.max_corpus_mb:g} MB "
            "(ASSISTANT_LIMITS__MAX_CORPUS_MB). Remove documents first."
        )


def check_target(corpus_dir: Path, name: str) -> None:
    """Only a regular file of exactly this name is replaced; a name equal but for case or Unicode form is a clash."""
    target = corpus_dir / name
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise BadUpload(f"{name} in the corpus folder is not a regular file; the server owner must remove it first.")
    key = unicodedata.normalize("NFC", name).casefold()
    for existing in corpus_dir.iterdir():
        if existing.name != name and unicodedata.normalize("NFC", existing.name).casefold() == key:
            raise BadUpload(
                f"The corpus already has {existing.name!r}, which differs from {name!r} only in letter case or "
                f"Unicode form; upload under the name {existing.name!r} to replace it, or choose another name."
            )


def add_document(settings: Settings, filename: str, data: bytes) -> str:
    """Store an upload in the corpus folder and return its doc_id; a same-named document is replaced (a new edition)."""
    name = safe_name(filename)
    check_content(name, data, settings.limits.max_upload_mb)
    corpus_dir = settings.paths.corpus_dir
    with _corpus_lock:
        check_limits(settings, name, len(data))
        try:
            corpus_dir.mkdir(parents=True, exist_ok=True)
            check_target(corpus_dir, name)
            place(corpus_dir, name, data)
        except OSError as exc:
            raise BadUpload(
                f"{name} could not be saved in the corpus folder ({exc.strerror or exc}); check free space and permissions."
            ) from exc
    return name


def save_uploads(settings: Settings, uploads: Iterable[tuple[str, Callable[[], bytes]]]) -> tuple[list[str], list[BadUpload]]:
    """Save each ``(filename, read)`` upload on its own: one refused file never stops the others.

    ``read`` is called only after the name is accepted, so an edge can refuse a file by its size before reading it.
    Returns the saved doc_ids and the refusals, in upload order.
    """
    saved: list[str] = []
    rejected: list[BadUpload] = []
    for filename, read in uploads:
        try:
            saved.append(add_document(settings, filename, read()))
        except BadUpload as exc:
            rejected.append(exc)
        except OSError as exc:
            rejected.append(BadUpload(f"{Path(filename).name} could not be read ({exc.strerror or exc}); upload it again."))
    return saved, rejected


def place(corpus_dir: Path, name: str, data: bytes) -> None:
    """Parse a hidden temporary copy exactly as the indexer will, and only then move it into place in one step."""
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=Path(name).suffix.lower(), dir=corpus_dir)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o644)  # mkstemp makes it owner-only; readable like a document copied in by hand
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        load_file(temp, name)
        os.replace(temp, corpus_dir / name)
    except BadDocument as exc:
        raise BadUpload(f"{name} was not added: {exc.reason}.") from exc
    finally:
        temp.unlink(missing_ok=True)


def document_file(settings: Settings, doc_id: str) -> Path:
    """The corpus file of a document id, or UnknownDocument: an id never names a file outside the corpus folder."""
    corpus_dir = settings.paths.corpus_dir
    documents = {path.relative_to(corpus_dir).as_posix(): path for path in discover(corpus_dir)}
    path = documents.get(doc_id)
    if path is None or not path.resolve().is_relative_to(corpus_dir.resolve()):
        raise UnknownDocument(doc_id)
    return path


def remove_document(settings: Settings, doc_id: str) -> None:
    """Delete one document of the corpus (its index entries go at the next indexing run)."""
    corpus_dir = settings.paths.corpus_dir
    path = document_file(settings, doc_id)
    with _corpus_lock:
        try:
            path.unlink()
        except OSError as exc:
            raise StorageUnavailable(corpus_dir, exc.strerror or exc) from exc
