"""Which generations readers still hold: a shared file lock per collection pair, across processes.

A retriever keeps the collections of the manifest it loaded for its whole life (an answer that is
still being generated checks its quotes against the sentence vectors minutes after retrieval). So a
local reader takes a shared ``flock`` on ``index/readers/<chunk collection>.lock`` before it loads a
generation and keeps it until the retriever is garbage collected; the collector drops a retired
generation only while it holds that lock exclusively, so it never takes collections from under a
reader, and the OS releases a killed reader's lock. Locks are per open file, so a reader in the
collector's own process counts like any other.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)
READERS = "readers"


def generation_of(collection: str) -> str:
    """The chunk collection that names a generation's pair of collections (and its reader lock)."""
    return collection.removesuffix("-sentences")


def _lock_path(index_dir: Path, chunks_collection: str) -> Path:
    return index_dir / READERS / f"{chunks_collection}.lock"


def hold(index_dir: Path, chunks_collection: str) -> IO[bytes] | None:
    """A shared lock on the generation, held until the returned file is closed or garbage collected.

    Waits while a collector is dropping that generation. None when the folder is read-only: then no
    indexer can run on it either.
    """
    path = _lock_path(index_dir, chunks_collection)
    try:
        path.parent.mkdir(exist_ok=True)
        handle = open(path, "ab")
    except OSError as exc:
        log.debug("no reader lock for %s: %s", chunks_collection, exc)
        return None
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


@contextmanager
def unheld(index_dir: Path, chunks_collection: str) -> Iterator[bool]:
    """True (and the generation locked against new readers) when no reader holds it; False otherwise."""
    path = _lock_path(index_dir, chunks_collection)
    path.parent.mkdir(exist_ok=True)
    with open(path, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def forget(index_dir: Path, chunks_collection: str) -> None:
    """Remove a dropped generation's lock file (a reader that still opens it then finds no collection)."""
    _lock_path(index_dir, chunks_collection).unlink(missing_ok=True)
