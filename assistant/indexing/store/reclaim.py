"""Returning a local index's dead space to the disk: orphaned segment folders and free SQLite pages.

Chroma 1.5 keeps each collection's HNSW index in ``chroma/<segment id>/`` and does not remove that
folder when the collection is dropped (chroma-core/chroma#5259, #5520), and dropped rows leave free
pages in ``chroma.sqlite3`` that SQLite does not give back by itself. After the collector dropped
collections, ``sweep`` removes every UUID-named folder that no row of Chroma's ``segments`` table
names, then gives free pages back in small steps (``auto_vacuum = INCREMENTAL``; switching a
database to it costs one full ``VACUUM``, once), each a short write transaction, so readers wait
milliseconds, never a whole ``VACUUM``.

It runs in a child process (``python -m assistant.indexing.store.reclaim <chroma folder>``): SQLite's
POSIX locks are per process, and closing this module's own connection in a process where Chroma
has the same file open would drop Chroma's locks too. Folders are listed before the segments are
read, and a collection's segment rows are written before its folder, so a folder that appears
meanwhile is never taken. A kill at any point leaves folders or pages the next sweep removes
(SQLite's rollback journal undoes a half-done step).
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path

log = logging.getLogger(__name__)
DATABASE = "chroma.sqlite3"
STEP_PAGES = 2048  # pages given back per transaction (8 MiB at SQLite's default page size)
INCREMENTAL = 2  # PRAGMA auto_vacuum value


def disk_bytes(folder: Path) -> int:
    """Bytes the folder's files take on disk (allocated blocks, as ``du`` counts them)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_blocks * 512 if path.is_file() else 0
        except OSError:
            continue  # removed while we walked
    return total


def _is_segment_folder(path: Path) -> bool:
    try:
        uuid.UUID(path.name)
    except ValueError:
        return False
    return path.is_dir()


def orphaned_folders(chroma_dir: Path, connection: sqlite3.Connection) -> list[Path]:
    """Segment folders that no segment row names; listed before the rows are read (see the module doc)."""
    folders = [path for path in chroma_dir.iterdir() if _is_segment_folder(path)]
    live = {row[0] for row in connection.execute("SELECT id FROM segments")}
    return [path for path in folders if path.name not in live]


def give_back_pages(connection: sqlite3.Connection) -> int:
    """Free pages returned to the file system, a few thousand per transaction; the number of pages given back."""
    before = connection.execute("PRAGMA page_count").fetchone()[0]
    if connection.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("VACUUM")  # takes effect only through one full VACUUM
    while connection.execute("PRAGMA freelist_count").fetchone()[0]:
        connection.execute(f"PRAGMA incremental_vacuum({STEP_PAGES})").fetchall()
    return before - connection.execute("PRAGMA page_count").fetchone()[0]


def sweep(chroma_dir: Path) -> dict[str, int]:
    """Remove orphaned segment folders and give free pages back; what was removed."""
    database = chroma_dir / DATABASE
    if not database.is_file():
        return {"folders": 0, "pages": 0}
    with closing(sqlite3.connect(database, timeout=60, isolation_level=None)) as connection:
        orphans = orphaned_folders(chroma_dir, connection)
        for folder in orphans:
            shutil.rmtree(folder, ignore_errors=True)
        pages = give_back_pages(connection)
    return {"folders": len(orphans), "pages": pages}


def reclaim(chroma_dir: Path) -> dict[str, int]:
    """``sweep`` in a child process; an empty result (and a warning) if it fails, since nothing depends on it."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "assistant.indexing.store.reclaim", str(chroma_dir)],
            capture_output=True, text=True, timeout=3600, check=True,
        )
        return json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        log.warning("could not give the index's free space back (the next run retries): %s", detail)
        return {}


if __name__ == "__main__":
    print(json.dumps(sweep(Path(sys.argv[1]))))
