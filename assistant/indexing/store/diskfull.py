"""Chroma failures whose cause is the disk (full, read-only), told apart from real bugs.

Chroma's Rust core reports SQLite's SQLITE_FULL as "(code: 13) database or disk is full" when a page write
fails, but a full disk during its log compaction only as "Failed to apply logs to the metadata segment". So a
Chroma error counts as the disk's when its text says so, or when the index's file system is (nearly) full.

A Chroma instance that failed a write can hang on its next write for good, holding the GIL, even once space
is freed (measured with chromadb 1.5.9 on a full tmpfs). Its reads keep working, so the index keeps serving:
``DiskGuard`` leaves it to the readers and gives the next write a fresh instance, once there is room again.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from chromadb.errors import ChromaError

from assistant.errors import StorageUnavailable

DISK_MESSAGES = (
    "database or disk is full",  # SQLITE_FULL (code 13): ENOSPC, or a short write
    "no space left on device",  # ENOSPC from a segment file (os error 28)
    "file too large",  # EFBIG: a file size limit
    "attempt to write a readonly database",  # SQLITE_READONLY (code 8)
    "unable to open database file",  # SQLITE_CANTOPEN (code 14): its journal cannot be created
    "read-only file system",  # EROFS
)
LOW_SPACE_BYTES = 64 * 2**20  # less than this free and a Chroma write failure is put down to the disk
FREED_BYTES = 2**20  # after a failure for want of disk, the next write waits until at least this much was freed


def disk_failure(exc: BaseException, folder: Path | None) -> StorageUnavailable | None:
    """``exc`` as StorageUnavailable when the disk under ``folder`` is why a Chroma call failed; None otherwise.

    ``folder`` is the local index folder, None for a Chroma server (whose disk is the server's to report).
    """
    if folder is None or not isinstance(exc, ChromaError):
        return None
    text = str(exc)
    if any(message in text.lower() for message in DISK_MESSAGES):
        return StorageUnavailable(folder, text)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free < LOW_SPACE_BYTES:
        return StorageUnavailable(folder, f"only {free / 2**20:.1f} MB free on its disk; Chroma said: {text}")
    return None


@contextmanager
def disk_errors(folder: Path | None) -> Iterator[None]:
    """Raise the Chroma errors a full or read-only disk under ``folder`` explains as StorageUnavailable."""
    try:
        yield
    except ChromaError as exc:
        failure = disk_failure(exc, folder)
        if failure is None:
            raise
        raise failure from exc


class Reopenable(Protocol):
    def refresh(self) -> None: ...


class DiskGuard:
    """Chroma writes whose disk failures become StorageUnavailable, and that reopen Chroma after one."""

    def __init__(self, store: Reopenable) -> None:
        self.store = store
        self.free_at_failure: int | None = None  # bytes free when a write last failed for want of disk

    @contextmanager
    def writing(self, folder: Path | None) -> Iterator[None]:
        """Around one indexing run; ``folder`` is the local index folder, None for a Chroma server."""
        if self.free_at_failure is not None and folder is not None:
            self._require_recovered(folder, self.free_at_failure)  # until then the failed instance serves reads
            self.store.refresh()
            self.free_at_failure = None
        try:
            yield
        except Exception as exc:
            failure = disk_failure(exc, folder)
            if failure is None:
                raise
            assert folder is not None  # disk_failure is None without a folder
            self.free_at_failure = shutil.disk_usage(folder).free
            raise failure from exc

    @staticmethod
    def _require_recovered(folder: Path, free_at_failure: int) -> None:
        """Raise StorageUnavailable while the disk is as full, or the folder as unwritable, as at the failure."""
        free = shutil.disk_usage(folder).free
        if free_at_failure < LOW_SPACE_BYTES and free < free_at_failure + FREED_BYTES:
            raise StorageUnavailable(folder, f"still only {free / 2**20:.1f} MB free on its disk")
        chroma = folder / "chroma"
        try:
            with tempfile.TemporaryFile(dir=chroma if chroma.is_dir() else folder) as probe:
                probe.write(bytes(4096))
                probe.flush()
        except OSError as exc:
            raise StorageUnavailable(folder, exc.strerror or exc) from exc
