"""Chunk rows' content cached beside the index (``index/rows.npz``), so opening a library reads one file.

A reader needs every live chunk's text, section, heading, kind and sentence layout; reading them
from Chroma took ~0.7 s per 10k chunks (most of opening a 100k-chunk library). A row is immutable
and its id ends in a hash of exactly that content (rows.py), so a cached row is checked against its
id and can never be stale: rows that fail the check, and rows the cache lacks, are read from
Chroma, which stays the system of record (``--check`` reads Chroma, not this). Rewriting the cache
costs seconds at 100k rows, so it is rewritten (with the live set) only when more than ``REWRITE_SHARE``
of the live rows are missing from it or dead in it: by the indexer after a first build, by a reader after
many edits; until then a reader reads the few rows it lacks from Chroma in one request.
Each column is one UTF-8 buffer with character offsets, written whole to a temp file and renamed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

import numpy as np

from assistant.indexing.store.manifest import write_atomic_with
from assistant.indexing.store.rows import RowContent

log = logging.getLogger(__name__)
ROWS = "rows.npz"
REWRITE_SHARE = 0.01
COLUMNS = ["row"] + [f.name for f in fields(RowContent)]


def pack_strings(items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in items], out=offsets[1:])
    return np.frombuffer("".join(items).encode("utf-8"), dtype=np.uint8), offsets


def unpack_strings(buffer: np.ndarray, offsets: np.ndarray) -> list[str]:
    whole = buffer.tobytes().decode("utf-8")
    bounds = offsets.tolist()
    return [whole[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def load_rows(cache_dir: Path) -> dict[str, RowContent]:
    """The cached rows whose content matches their id; empty when there is no cache or it is unreadable."""
    path = cache_dir / ROWS
    if not path.exists():
        return {}
    try:
        with np.load(path) as data:
            columns = [unpack_strings(data[name], data[f"{name}_offsets"]) for name in COLUMNS]
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable row cache %s: %s", path, exc)
        return {}
    rows = {row: RowContent(*content) for row, *content in zip(*columns)}
    return {row: content for row, content in rows.items() if content.belongs_to(row)}


def save_rows(cache_dir: Path, rows: Mapping[str, RowContent]) -> None:
    """Keep exactly these rows, replacing the cache in one rename; a failure only costs the next open time."""
    arrays: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        column = list(rows) if name == "row" else [getattr(content, name) for content in rows.values()]
        arrays[name], arrays[f"{name}_offsets"] = pack_strings(column)
    try:
        write_atomic_with(cache_dir / ROWS, lambda handle: np.savez(handle, **arrays))
    except OSError as exc:
        log.warning("could not cache chunk rows in %s: %s", cache_dir, exc)


def worth_rewriting(missing: int, extra: int, live: int) -> bool:
    """Whether the cache is so far from the live set that rewriting it (seconds at 100k rows) beats reading the
    rows it lacks from Chroma at each open (one request; at most ``REWRITE_SHARE`` of the rows)."""
    return missing + extra > REWRITE_SHARE * live


def _cached_ids(cache_dir: Path) -> set[str]:
    try:
        with np.load(cache_dir / ROWS) as data:
            return set(unpack_strings(data["row"], data["row_offsets"]))
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return set()


def remember_rows(cache_dir: Path, live: set[str], new: Mapping[str, RowContent]) -> None:
    """After a switch: when the cache is far from the live set (a first build), it keeps the live rows it holds and
    gains the ``new`` ones; after an edit it is left as it is, and readers read the few new rows from Chroma."""
    ids = _cached_ids(cache_dir)
    if not worth_rewriting(len(live - ids), len(ids - live), len(live)):
        return
    cached = load_rows(cache_dir)
    kept = {row: cached.get(row) or new.get(row) for row in live}
    save_rows(cache_dir, {row: content for row, content in kept.items() if content is not None})
